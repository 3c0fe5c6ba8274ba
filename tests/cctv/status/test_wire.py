"""What crosses nodes on the Redis bus, as JSON: every message type round-trips; anything else is refused with a
reason, never executed or half-read (cctv/status/wire.py)."""

from __future__ import annotations

import json

import pytest

from cctv.status.messages import (
    TOPIC_COUNTS,
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATS,
    TOPIC_STATUS,
    AreaCounts,
    CameraStats,
    MotionChange,
    SnapshotReady,
    State,
    StatsBatch,
    StatusChange,
    StreamStats,
)
from cctv.status.wire import WireError, decode, encode

CAM = "kota-baru/paal-lima/rt-07/cam-1"
STATS = StreamStats(CAM, 5, 10.0, 250_000.0, 2.0, 4, 1, 100, 10, 5, 0, 640, 360, "h264", "keyframes")


@pytest.mark.parametrize(("topic", "message"), [
    (TOPIC_STATUS, StatusChange(CAM, State.OFFLINE, "timeout", 1_000, State.ONLINE, "")),
    (TOPIC_STATUS, StatusChange(CAM, State.ONLINE, "", 2_000, None)),
    (TOPIC_MOTION, MotionChange(CAM, True, 4.5, 3_000)),
    (TOPIC_SNAPSHOT, SnapshotReady(CAM, 4_000)),
    (TOPIC_STATS, StatsBatch(5_000, (CameraStats(CAM, STATS, 1.5, 4_900, 80.0), CameraStats(CAM + "x", None)))),
])
def test_every_crossing_message_round_trips(topic: str, message: object) -> None:
    node, got_topic, got = decode(encode("ingest-1", topic, message))
    assert (node, got_topic, got) == ("ingest-1", topic, message)
    if isinstance(got, StatusChange):
        assert isinstance(got.state, State)


def test_what_does_not_cross_is_refused_at_the_sender() -> None:
    with pytest.raises(WireError, match="does not cross"):
        encode("n", TOPIC_COUNTS, AreaCounts(1, {}))
    with pytest.raises(WireError, match="does not cross"):
        encode("n", TOPIC_STATUS, MotionChange(CAM, True, 1.0, 1))


def env(**m: object) -> bytes:
    return json.dumps({"v": 1, "node": "n", **m}).encode()


@pytest.mark.parametrize(("data", "why"), [
    (b"\x80\x04pickle", "not JSON"),
    (b"[1, 2]", "envelope"),
    (json.dumps({"v": 2, "node": "n", "topic": "status", "m": {}}).encode(), "version 1"),
    (env(topic="counts", m={}), "known topic"),
    (env(topic="status", m={"camera": CAM}), "status message"),
    (env(topic="status", m={"camera": CAM, "state": "exploded", "reason": "", "since_ms": 1, "previous": None}),
     "status message"),
    (env(topic="status", m={"camera": CAM, "state": "online", "reason": "", "since_ms": "1", "previous": None}),
     "since_ms must be an integer"),
    (env(topic="motion", m={"camera": CAM, "motion": True, "score": 1, "t_ms": 1, "evil": 1}), "unknown fields"),
    (env(topic="snapshot", m={"camera": "", "t_ms": 1}), "without a camera"),
    (env(topic="stats", m={"t_ms": 1, "items": "x"}), "items must be a list"),
    (json.dumps({"v": 1, "topic": "snapshot", "m": {"camera": CAM, "t_ms": 1}}).encode(), "without node"),
])
def test_anything_else_is_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(WireError, match=why):
        decode(data)
