"""The small messages that move between ingestion, the status machine, the store and the web.

Frames never travel in these; a snapshot is a JPEG that stays on the node that owns the camera.
Every record carries wall-clock milliseconds (``*_ms``, UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from operator import attrgetter
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def pickled_as_tuple(cls: T) -> T:
    """Pickle a slotted dataclass as ``(cls, (field, ...))``: half the cost of the default, which calls
    ``dataclasses.fields()`` for every object. Tens of thousands of these cross the shard pipe a second."""
    names = cls.__slots__
    get = attrgetter(*names)
    if len(names) == 1:
        cls.__reduce__ = lambda self: (cls, (get(self),))  # type: ignore[attr-defined]
    else:
        cls.__reduce__ = lambda self: (cls, get(self))  # type: ignore[attr-defined]
    return cls


class State(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"
    # no node was watching: written by the node that takes a camera over, from its previous holder's last
    # renewal to the new holder's first verdict; neither up nor down in any figure (docs/nodes.md)
    UNMONITORED = "unmonitored"


class Reason(StrEnum):
    """Why a camera is not online. Stored as text; the set grows with the checks."""

    NONE = ""
    STARTING = "starting"  # no verdict yet since this process started (never stored)
    REFUSED = "refused"  # TCP connection refused
    NOT_FOUND = "not_found"  # RTSP 404: the stream path does not exist
    AUTH = "auth"  # 401/403: wrong credentials
    TIMEOUT = "timeout"  # connect or DESCRIBE/PLAY did not answer in time
    STALLED = "stalled"  # session open, no media
    EOF = "eof"  # the server ended the stream
    DECODE = "decode_error"
    UNREACHABLE = "unreachable"  # DNS, no route, other network errors
    ERROR = "error"  # anything else; the worker's log has the traceback
    BLACK = "black"
    FROZEN = "frozen"
    COVERED = "covered"  # lens covered: no texture
    BLURRED = "blurred"  # sharpness far below the camera's own baseline
    MOVED = "moved"  # the view no longer matches the camera's learned reference
    LOW_FPS = "low_fps"  # packets arrive well below the expected frame rate
    DARK = "dark"  # night-level picture: informational, degrades only with checks.dark_degrades
    NODE_LOST = "node_lost"  # unmonitored: the node that watched it stopped renewing its lease (crash, cut off)
    HANDOVER = "handover"  # unmonitored: one node gave it to another (a node joined or drains)


# Degraded reasons, most serious first: when several checks fire the first one names the state.
# Covered and black hide everything (likely tampering); moved and blurred still show a picture, of the wrong
# place or without detail; frozen shows a stale one; low fps and dark still show the live scene.
DEGRADED_PRIORITY: tuple[str, ...] = (
    Reason.COVERED, Reason.BLACK, Reason.MOVED, Reason.BLURRED, Reason.FROZEN, Reason.LOW_FPS, Reason.DARK,
)


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class WorkerEvent:
    """A connection-level fact from a camera's worker."""

    camera: str
    kind: str  # "connected" | "disconnected"
    t_ms: int
    reason: str = ""
    detail: str = ""  # redacted: never a URL with credentials


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class CameraSample:
    """What the checks saw in one analysed frame."""

    camera: str
    t_ms: int
    motion_score: float  # % of the analysed picture that changed since the previous sample
    motion: bool
    luma_mean: float
    luma_std: float
    frozen_diff: float | None  # mean |diff| against the previous sample (None for the first)
    flags: frozenset[str] = field(default_factory=frozenset)  # health reasons seen in this sample


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class StreamStats:
    """Packet-level statistics of one camera, from packets alone (no decode)."""

    camera: str
    t_ms: int
    fps: float
    bitrate_bps: float
    keyframe_interval_s: float | None
    last_packet_ms: int | None
    reconnects: int
    packets: int
    keyframes: int
    decoded: int
    drops: int
    width: int | None
    height: int | None
    codec: str | None
    decode_mode: str


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class Snapshot:
    camera: str
    t_ms: int
    jpeg: bytes


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class StatusChange:
    """A camera entered a new state. ``previous`` is None for the first verdict after start."""

    camera: str
    state: State
    reason: str
    since_ms: int
    previous: State | None
    previous_reason: str = ""


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class SnapshotReady:
    """A new snapshot of ``camera`` is in the SnapshotStore (the JPEG itself stays there)."""

    camera: str
    t_ms: int


@dataclass(frozen=True, slots=True)
class SnapshotNews:
    """Many cameras' ``SnapshotReady`` at once, as another node sent them in one envelope (cctv/status/
    redis_bus.py): a city's web node hears of ~15,000 snapshots a second, and handing each of its views one
    message per envelope instead of one per snapshot is most of what it costs."""

    items: tuple[SnapshotReady, ...]


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class MotionChange:
    """Motion started (``motion`` True) or ended on a camera."""

    camera: str
    motion: bool
    score: float
    t_ms: int


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class CameraStats:
    """One camera's latest stream stats and last analysed sample, as the live model shows them."""

    camera: str
    stats: StreamStats | None
    motion_score: float = 0.0
    last_sample_ms: int | None = None
    luma_mean: float | None = None


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class StatsBatch:
    """Every camera a monitor heard from since its previous batch (one message per ``stats_every_s``)."""

    t_ms: int
    items: tuple[CameraStats, ...]


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class AreaCounts:
    """The counts of every area whose counts changed since the previous message (at most one a second)."""

    t_ms: int
    areas: dict[str, Any]  # area path -> cctv.rollup.tally.Counts


# Bus topics and what travels on each. Every topic has a consumer; nothing is published for nobody.
TOPIC_STATUS = "status"  # StatusChange: store writer, alert writer, live model, roll-up history, sockets
TOPIC_MOTION = "motion"  # MotionChange: store writer (motion events), live model, sockets
TOPIC_SEGMENT = "segment"  # NewSegment (a recorded file to index): store writer
TOPIC_SNAPSHOT = "snapshot"  # SnapshotReady (SnapshotNews from other nodes): live model, sockets (the JPEG stays in
# the SnapshotStore)
TOPIC_STATS = "stats"  # StatsBatch, once per stats_every_s per monitor: live model (camera page, /api/cameras)
TOPIC_COUNTS = "counts"  # AreaCounts, at most once a second: sockets (this process's aggregates, never shared)
TOPIC_LEASE = "lease"  # LeaseRelease (cctv/store/leases.py), an ingest node's lease keeper: its store writer, in
# order after the camera's last rows (never crosses nodes)

# Topics whose messages are never dropped on their way (a lost one would be a wrong interval or a missing
# segment row forever); the others are bounded, drop-oldest and counted per subscriber.
KEEP_TOPICS = frozenset({TOPIC_STATUS, TOPIC_MOTION, TOPIC_SEGMENT, TOPIC_LEASE})
