"""The bus messages that cross nodes, as JSON (never pickle: a shared Redis must not be a way to run code).

Only the live view crosses (state changes, motion, snapshot news, stream stats): what must not be lost goes to
the store directly from the node that owns the camera, so a lost message here costs a tile a moment, never a
row. An envelope is ``{"v": 1, "node": NAME, "topic": TOPIC, "ms": [{...fields}, ...]}``: every message of one
topic a node had queued when it sent, up to :data:`BATCH_MAX` (a city's snapshot news is ~15,000 messages a
second; one Redis command and one parse per message cost more than the messages). ``"m": {...}`` (one message,
as nodes before batching sent) is read too. Anything else is refused whole, with a :class:`WireError` that says
what was wrong (the receiver counts and logs it, and goes on): no envelope is ever half-delivered.
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
BATCH_MAX = 500  # messages per envelope
CROSSING = (TOPIC_STATUS, TOPIC_MOTION, TOPIC_SNAPSHOT, TOPIC_STATS)  # what a Redis bus carries between nodes
_TYPES: dict[str, type] = {
    TOPIC_STATUS: StatusChange, TOPIC_MOTION: MotionChange, TOPIC_SNAPSHOT: SnapshotReady, TOPIC_STATS: StatsBatch,
}


_NAMES: dict[type, tuple[str, ...]] = {c: tuple(f.name for f in fields(c)) for c in (*_TYPES.values(), CameraStats,
                                                                                    StreamStats)}


class WireError(ValueError):
    pass


def check(topic: str, message: Any) -> None:
    """:class:`WireError` unless ``message`` may cross nodes on ``topic``."""
    want = _TYPES.get(topic)
    if want is None or not isinstance(message, want):
        raise WireError(f"topic {topic!r} does not cross nodes with a {type(message).__name__}")


def encode(node: str, topic: str, *messages: Any) -> bytes:
    """One envelope of ``messages`` (at least one, at most BATCH_MAX), all of ``topic``."""
    if not 1 <= len(messages) <= BATCH_MAX:
        raise WireError(f"an envelope holds 1 to {BATCH_MAX} messages, not {len(messages)}")
    for m in messages:
        check(topic, m)
    return json.dumps({"v": VERSION, "node": node, "topic": topic, "ms": [_plain(m) for m in messages]},
                      separators=(",", ":")).encode()


def decode(data: bytes | str) -> tuple[str, str, list[Any]]:
    """(node, topic, messages) from an envelope, or :class:`WireError`."""
    try:
        env = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(env, dict) or env.get("v") != VERSION:
        raise WireError(f"not a version {VERSION} envelope")
    node, topic = env.get("node"), env.get("topic")
    ms = env["ms"] if "ms" in env else [env.get("m")]
    if (not isinstance(node, str) or not node or topic not in _TYPES or not isinstance(ms, list)
            or not 1 <= len(ms) <= BATCH_MAX or not all(isinstance(m, dict) for m in ms)):
        raise WireError(f"envelope without node, known topic or messages (topic {topic!r})")
    cls, out = _TYPES[topic], []
    for i, m in enumerate(ms):
        try:
            out.append(_build(cls, m))
        except (TypeError, ValueError) as exc:
            raise WireError(f"{topic} message {i + 1} of {len(ms)}: {exc}") from None
    return node, topic, out


def _plain(message: Any) -> dict[str, Any]:
    if isinstance(message, StatsBatch):
        return {"t_ms": message.t_ms, "items": [
            {**{n: getattr(c, n) for n in _NAMES[CameraStats] if n != "stats"},
             "stats": None if c.stats is None else {n: getattr(c.stats, n) for n in _NAMES[StreamStats]}}
            for c in message.items]}
    return {n: getattr(message, n) for n in _NAMES[type(message)]}


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
    extra = m.keys() - _NAMES[cls]
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
