"""What crosses nodes on the Redis bus, as JSON: every message type round-trips, alone or many to an envelope;
anything else is refused whole with a reason, never executed or half-read (cctv/status/wire.py)."""

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
from cctv.status.wire import BATCH_MAX, WireError, decode, encode

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
    assert (node, got_topic, got) == ("ingest-1", topic, [message])
    if isinstance(message, StatusChange):
        assert isinstance(got[0].state, State)


def test_many_messages_travel_in_one_envelope_in_order() -> None:
    news = [SnapshotReady(f"{CAM}-{i}", 4_000 + i) for i in range(BATCH_MAX)]
    assert decode(encode("ingest-1", TOPIC_SNAPSHOT, *news)) == ("ingest-1", TOPIC_SNAPSHOT, news)
    with pytest.raises(WireError, match="1 to 500"):
        encode("ingest-1", TOPIC_SNAPSHOT, *news, news[0])
    with pytest.raises(WireError, match="1 to 500"):
        encode("ingest-1", TOPIC_SNAPSHOT)


def test_an_envelope_of_one_message_as_earlier_nodes_sent_it_is_read() -> None:
    old = env(topic="motion", m={"camera": CAM, "motion": True, "score": 4.5, "t_ms": 3_000})
    assert decode(old) == ("n", TOPIC_MOTION, [MotionChange(CAM, True, 4.5, 3_000)])


def test_one_bad_message_refuses_the_whole_envelope() -> None:
    with pytest.raises(WireError, match="snapshot message 2 of 3: .*without a camera"):
        decode(env(topic="snapshot", f=["camera", "t_ms"], ms=[[CAM, 1], ["", 2], [CAM, 3]]))


STATUS_FIELDS = ["camera", "state", "reason", "since_ms", "previous", "previous_reason"]


@pytest.mark.parametrize(("row", "why"), [
    ([CAM, "exploded", "", 1, None, ""], "status message 2 of 2: .*exploded"),
    ([CAM, "online", "", "1", None, ""], "status message 2 of 2: since_ms must be an integer"),
    (["", "online", "", 1, None, ""], "status message 2 of 2: StatusChange without a camera"),
    ([CAM, "online", "", 1, None], "status message 2 of 2: a row must be a list of 6 values"),
])
def test_rows_under_this_versions_header_are_checked_too(row: list[object], why: str) -> None:
    good = [CAM, "online", "", 1, None, ""]
    with pytest.raises(WireError, match=why):
        decode(env(topic="status", f=STATUS_FIELDS, ms=[good, row]))


def test_rows_are_read_by_their_header_not_by_position() -> None:
    got = decode(env(topic="snapshot", f=["t_ms", "camera"], ms=[[4_000, CAM]]))
    assert got == ("n", TOPIC_SNAPSHOT, [SnapshotReady(CAM, 4_000)])


def test_what_does_not_cross_is_refused_at_the_sender() -> None:
    with pytest.raises(WireError, match="does not cross"):
        encode("n", TOPIC_COUNTS, AreaCounts(1, {}))
    with pytest.raises(WireError, match="does not cross"):
        encode("n", TOPIC_STATUS, StatusChange(CAM, State.ONLINE, "", 1, None), MotionChange(CAM, True, 1.0, 1))


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
    (env(topic="snapshot", f=["camera", "t_ms"], ms=[]), "without node, known topic or messages"),
    (env(topic="snapshot", f=["camera", "t_ms"], ms={"camera": CAM}), "messages must be a list"),
    (env(topic="snapshot", f=["camera", "t_ms"], ms=[[CAM, 1]] * 501), "without node, known topic or messages"),
    (env(topic="snapshot", f="camera", ms=[[CAM, 1]]), "header 'f' must be a list"),
    (env(topic="snapshot", f=["camera", "t_ms"], ms=[[CAM]]), "a row must be a list of 2 values"),
    (env(topic="snapshot", f=["camera", "t_ms", "evil"], ms=[[CAM, 1, 1]]), "unknown fields"),
    (env(topic="stats", f=["t_ms", "items"], ms=[[1, []]]), "header 'if' must be a list"),
])
def test_anything_else_is_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(WireError, match=why):
        decode(data)
