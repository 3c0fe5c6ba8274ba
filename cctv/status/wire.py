"""The bus messages that cross nodes, as JSON (never pickle: a shared Redis must not be a way to run code).

Only the live view crosses (state changes, motion, snapshot news, stream stats): what must not be lost goes to
the store directly from the node that owns the camera, so a lost message here costs a tile a moment, never a
row. An envelope is ``{"v": 1, "node": NAME, "topic": TOPIC, "f": [FIELD, ...], "ms": [[VALUE, ...], ...]}``:
every message of one topic a node had queued when it sent, up to :data:`BATCH_MAX`, as rows under one header
of field names (a city's snapshot news is ~15,000 messages a second and its stats ~6,000 cameras' a second: one
Redis command, one parse and the field names once per message cost more than the messages). A stats batch's
items are rows too, under ``"if"`` (the item's fields) and ``"sf"`` (its stream stats'). ``"m": {...}`` (one
message as an object, as nodes before batching sent) is read too. Anything else is refused whole, with a
:class:`WireError` that says what was wrong (the receiver counts and logs it, and goes on): no envelope is
ever half-delivered.
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
_LISTS = {c: list(names) for c, names in _NAMES.items()}  # as a header arrives in JSON
_TOPIC_OF = {c: t for t, c in _TYPES.items()}
_STATS_AT = _NAMES[CameraStats].index("stats")


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
    cls = _TYPES[topic]
    env: dict[str, Any] = {"v": VERSION, "node": node, "topic": topic, "f": _NAMES[cls]}
    if cls is StatsBatch:
        env |= {"if": _NAMES[CameraStats], "sf": _NAMES[StreamStats]}
        env["ms"] = [[m.t_ms, [_stats_row(c) for c in m.items]] for m in messages]
    else:
        env["ms"] = [[getattr(m, n) for n in _NAMES[cls]] for m in messages]
    return json.dumps(env, separators=(",", ":")).encode()


def _stats_row(c: CameraStats) -> list[Any]:
    st = c.stats
    return [(None if st is None else [getattr(st, n) for n in _NAMES[StreamStats]]) if n == "stats"
            else getattr(c, n) for n in _NAMES[CameraStats]]


def _objects(env: dict[str, Any]) -> list[Any]:
    """The envelope's messages as objects of field → value (rows under their header), or ValueError."""
    if "f" not in env:
        return [env.get("m")]
    names, rows = _header(env, "f"), env.get("ms")
    if not isinstance(rows, list):
        raise ValueError("messages must be a list")
    out = [_object(names, r) for r in rows]
    if env.get("topic") == TOPIC_STATS:
        item_names, stats_names = _header(env, "if"), _header(env, "sf")
        for m in out:
            items = m.get("items")
            if not isinstance(items, list):
                raise ValueError("items must be a list")
            m["items"] = [_object(item_names, it) for it in items]
            for it in m["items"]:
                if it.get("stats") is not None:
                    it["stats"] = _object(stats_names, it["stats"])
    return out


# -- rows under this version's own headers: built by position (a city's web node reads ~20,000 a second) --------


def _ours(env: dict[str, Any], topic: str) -> bool:
    """Whether the envelope's headers are exactly this version's field lists (then rows are read by position)."""
    cls = _TYPES[topic]
    if env.get("f") != _LISTS[cls]:
        return False
    return cls is not StatsBatch or (env.get("if") == _LISTS[CameraStats] and env.get("sf") == _LISTS[StreamStats])


def _rows(cls: type, rows: Any) -> list[Any]:
    if not isinstance(rows, list):
        raise WireError(f"{_TOPIC_OF[cls]} envelope: messages must be a list")
    if not 1 <= len(rows) <= BATCH_MAX:
        raise WireError(f"envelope without node, known topic or messages (topic {_TOPIC_OF[cls]!r})")
    width = len(_NAMES[cls])
    out = []
    for i, r in enumerate(rows):
        try:
            if not isinstance(r, list) or len(r) != width:
                raise ValueError(f"a row must be a list of {width} values")
            out.append(_row(cls, r))
        except (TypeError, ValueError) as exc:
            raise WireError(f"{_TOPIC_OF[cls]} message {i + 1} of {len(rows)}: {exc}") from None
    return out


def _row(cls: type, r: list[Any]) -> Any:
    if cls is StatsBatch:
        items, n_item, n_stats = r[1], len(_NAMES[CameraStats]), len(_NAMES[StreamStats])
        if not isinstance(items, list):
            raise ValueError("items must be a list")
        out = []
        for it in items:
            if not isinstance(it, list) or len(it) != n_item:
                raise ValueError(f"an item must be a list of {n_item} values")
            st = it[_STATS_AT]
            if st is not None:
                if not isinstance(st, list) or len(st) != n_stats:
                    raise ValueError(f"stream stats must be a list of {n_stats} values")
                it[_STATS_AT] = _camera(StreamStats(*st))
            out.append(_camera(CameraStats(*it)))
        return StatsBatch(_int(r[0], "t_ms"), tuple(out))
    if cls is StatusChange:
        camera, state, reason, since, prev, prev_reason = r
        return _camera(StatusChange(camera, State(state), reason, _int(since, "since_ms"),
                                    None if prev is None else State(prev), prev_reason))
    return _camera(cls(*r))


def _camera(obj: Any) -> Any:
    if not isinstance(obj.camera, str) or not obj.camera:
        raise ValueError(f"{type(obj).__name__} without a camera")
    return obj


# -- anything else: objects of field -> value ---------------------------------------------------------------


def _header(env: dict[str, Any], key: str) -> list[str]:
    names = env.get(key)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"header {key!r} must be a list of field names")
    return names


def _object(names: list[str], row: Any) -> dict[str, Any]:
    if not isinstance(row, list) or len(row) != len(names):
        raise ValueError(f"a row must be a list of {len(names)} values")
    return dict(zip(names, row, strict=True))


def decode(data: bytes | str) -> tuple[str, str, list[Any]]:
    """(node, topic, messages) from an envelope, or :class:`WireError`."""
    try:
        env = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(env, dict) or env.get("v") != VERSION:
        raise WireError(f"not a version {VERSION} envelope")
    node, topic = env.get("node"), env.get("topic")
    if isinstance(node, str) and node and topic in _TYPES and _ours(env, topic):
        return node, topic, _rows(_TYPES[topic], env.get("ms"))
    try:
        ms = _objects(env)
    except ValueError as exc:
        raise WireError(f"{topic} envelope: {exc}") from None
    if (not isinstance(node, str) or not node or topic not in _TYPES
            or not 1 <= len(ms) <= BATCH_MAX or not all(isinstance(m, dict) for m in ms)):
        raise WireError(f"envelope without node, known topic or messages (topic {topic!r})")
    cls, out = _TYPES[topic], []
    for i, m in enumerate(ms):
        try:
            out.append(_build(cls, m))
        except (TypeError, ValueError) as exc:
            raise WireError(f"{topic} message {i + 1} of {len(ms)}: {exc}") from None
    return node, topic, out


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
