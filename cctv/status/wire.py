"""The bus messages that cross nodes, as JSON (never pickle: a shared Redis must not be a way to run code).

Only the live view crosses (state changes, motion, snapshot news, stream stats): what must not be lost goes to
the store directly from the node that owns the camera, so a lost message here costs a tile a moment, never a
row. An envelope is ``{"v": 1, "node": NAME, "topic": TOPIC, "m": {...fields}}``; anything else is refused with
a :class:`WireError` that says what was wrong (the receiver counts and logs it, and goes on).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATS,
    TOPIC_STATUS,
    CameraStats,
    MotionChange,
    SnapshotReady,
    State,
    StatsBatch,
    StatusChange,
    StreamStats,
)

VERSION = 1
CROSSING = (TOPIC_STATUS, TOPIC_MOTION, TOPIC_SNAPSHOT, TOPIC_STATS)  # what a Redis bus carries between nodes
_TYPES: dict[str, type] = {
    TOPIC_STATUS: StatusChange, TOPIC_MOTION: MotionChange, TOPIC_SNAPSHOT: SnapshotReady, TOPIC_STATS: StatsBatch,
}


class WireError(ValueError):
    pass


def encode(node: str, topic: str, message: Any) -> bytes:
    want = _TYPES.get(topic)
    if want is None or not isinstance(message, want):
        raise WireError(f"topic {topic!r} does not cross nodes with a {type(message).__name__}")
    return json.dumps({"v": VERSION, "node": node, "topic": topic, "m": _plain(message)},
                      separators=(",", ":")).encode()


def decode(data: bytes | str) -> tuple[str, str, Any]:
    """(node, topic, message) from an envelope, or :class:`WireError`."""
    try:
        env = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(env, dict) or env.get("v") != VERSION:
        raise WireError(f"not a version {VERSION} envelope")
    node, topic, m = env.get("node"), env.get("topic"), env.get("m")
    if not isinstance(node, str) or not node or topic not in _TYPES or not isinstance(m, dict):
        raise WireError(f"envelope without node, known topic or message (topic {topic!r})")
    try:
        return node, topic, _build(_TYPES[topic], m)
    except (TypeError, ValueError) as exc:
        raise WireError(f"{topic} message: {exc}") from None


def _plain(message: Any) -> dict[str, Any]:
    if isinstance(message, StatsBatch):
        return {"t_ms": message.t_ms, "items": [
            {**{f.name: getattr(c, f.name) for f in fields(CameraStats) if f.name != "stats"},
             "stats": None if c.stats is None else {f.name: getattr(c.stats, f.name) for f in fields(StreamStats)}}
            for c in message.items]}
    return {f.name: getattr(message, f.name) for f in fields(message)}


def _build(cls: type, m: dict[str, Any]) -> Any:
    if cls is StatsBatch:
        items = m.get("items")
        if not isinstance(items, list):
            raise ValueError("items must be a list")
        out = []
        for it in items:
            if not isinstance(it, dict):
                raise ValueError("an item must be an object")
            st = it.get("stats")
            stats = None if st is None else _exact(StreamStats, st)
            out.append(_exact(CameraStats, {**it, "stats": stats}))
        return StatsBatch(_int(m.get("t_ms"), "t_ms"), tuple(out))
    if cls is StatusChange:
        d = _exact(StatusChange, m)
        prev = None if d.previous is None else State(d.previous)
        return StatusChange(d.camera, State(d.state), d.reason, _int(d.since_ms, "since_ms"), prev, d.previous_reason)
    return _exact(cls, m)


def _exact(cls: type, m: Any) -> Any:
    if not isinstance(m, dict):
        raise ValueError(f"{cls.__name__} must be an object")
    names = {f.name for f in fields(cls)}
    extra = set(m) - names
    if extra:
        raise ValueError(f"unknown fields {sorted(extra)} for {cls.__name__}")
    obj = cls(**m)
    camera = getattr(obj, "camera", "")
    if not isinstance(camera, str) or (hasattr(obj, "camera") and not camera):
        raise ValueError(f"{cls.__name__} without a camera")
    return obj


def _int(v: Any, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{what} must be an integer")
    return v
