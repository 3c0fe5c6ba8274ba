"""One alert model for camera alerts and node alerts (docs/alerts.md). Pure data, no I/O.

An alert is a condition of a *subject* that opened, may be recovering, and closes:

- kind ``camera``: the subject is a camera's path; it is offline or degraded (``state``, ``reason``,
  ``worst_state``, ``changes``, ``last_change_ms``). Its one affected camera is itself.
- kind ``node_lost``: the subject is an ingest node that stopped renewing its leases; written by the nodes
  that took its cameras (``cameras``: the ones they took), closed when it is back (its own start).
- kinds ``disk_full`` / ``disk_low``: the subject is a node (its host name); ``cameras`` are every camera the
  condition touched while open, ``cameras_now`` those it touched at the last observation (``last_seen_ms``),
  with the recording disk's ``free_bytes`` / ``total_bytes``. Both are cut to a user's scope before they are
  shown (:func:`visible_to`, :func:`visible_now`): a count of cameras outside it is never shown.

At most one alert is open per (kind, subject). ``recovered_ms`` marks when the condition went away (not yet for
long enough); ``closed_ms`` is that mark once it has stayed away for the kind's stability delay. Acknowledging
(``acked_by``, ``acked_ms``) is kept beside, in the store; folding never clears it.

Who sees one: a user whose scope covers at least one of its cameras (the whole city sees them all).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cctv.sites import is_within

CAMERA = "camera"  # a camera offline or degraded
DISK_FULL = "disk_full"  # a recorder hit ENOSPC/EDQUOT: its camera's recording is paused
DISK_LOW = "disk_low"  # free space on the recording disk under recording.warn_free_pct
NODE_LOST = "node_lost"  # an ingest node stopped renewing its leases (crash, cut off): the others took its cameras
OVERLOADED = "overloaded"  # an ingest node sheds analysis and snapshots to keep up (streams/ingest/shed.py)
NODE_KINDS = (DISK_FULL, DISK_LOW, NODE_LOST, OVERLOADED)
KINDS = (CAMERA, *NODE_KINDS)
BAD = ("offline", "degraded")  # the states of a camera alert


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    subject: str  # the camera's path (kind "camera") or the node's name
    opened_ms: int
    cameras: tuple[str, ...] = ()  # every camera it touched while open, sorted
    recovered_ms: int | None = None  # the condition absent since (not yet for its stability delay)
    closed_ms: int | None = None
    # camera alerts
    state: str | None = None  # the latest bad state: "offline" or "degraded"
    reason: str = ""
    worst_state: str | None = None  # "offline" once the camera was offline during the alert
    changes: int = 0  # bad changes folded into it (1 for the one that opened it)
    last_change_ms: int | None = None
    # node alerts
    last_seen_ms: int | None = None  # the condition's last observation
    cameras_now: tuple[str, ...] = ()  # the cameras touched at the last observation, sorted
    free_bytes: int | None = None  # the recording disk at the last observation
    total_bytes: int | None = None
    # the store's
    id: int | None = None
    acked_by: str | None = None
    acked_ms: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.subject

    @property
    def camera(self) -> str:
        """A camera alert's camera."""
        return self.subject

    @property
    def affected_now(self) -> int:
        """How many cameras the condition touched at the last observation, the whole node's (not for pages)."""
        return len(self.cameras_now)

    @property
    def node(self) -> str:
        """A node alert's node."""
        return self.subject


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: str  # "open" | "update" | "close"
    alert: Alert


@dataclass(frozen=True, slots=True)
class Observation:
    """A node condition seen (or not) now: the cameras it touches, the recording disk."""

    active: bool
    cameras: tuple[str, ...] = ()
    free_bytes: int | None = None
    total_bytes: int | None = None


def camera_alert(
    camera: str, opened_ms: int, state: str, reason: str = "", *, closed_ms: int | None = None
) -> Alert:
    """A camera alert as it opens (tests and fixtures build them so)."""
    return Alert(CAMERA, camera, opened_ms, (camera,), closed_ms=closed_ms, state=state, reason=reason,
                 worst_state=state, changes=1, last_change_ms=opened_ms)


def node_alert(node: str, kind: str, opened_ms: int, cameras: Iterable[str] = (), **detail: object) -> Alert:
    """A node alert as it opens: ``cameras`` touched now (``detail``: free_bytes, total_bytes, ...)."""
    cams = tuple(sorted(set(cameras)))
    fields: dict[str, object] = {"last_seen_ms": opened_ms, "cameras_now": cams} | detail
    return Alert(kind, node, opened_ms, cams, **fields)  # type: ignore[arg-type]


def visible_to(alert: Alert, roots: Iterable[str]) -> tuple[str, ...]:
    """The alert's cameras within the scope ``roots``."""
    return _within(alert.cameras, roots)


def visible_now(alert: Alert, roots: Iterable[str]) -> tuple[str, ...]:
    """The cameras the alert touched at its last observation, within the scope ``roots``."""
    return _within(alert.cameras_now, roots)


def _within(cameras: tuple[str, ...], roots: Iterable[str]) -> tuple[str, ...]:
    roots = tuple(roots)
    return tuple(c for c in cameras if any(is_within(c, r) for r in roots))


def visible(alert: Alert, roots: Iterable[str]) -> bool:
    """Whether a user with scope ``roots`` sees the alert ("" is the city: every alert, even one without
    cameras)."""
    roots = tuple(roots)
    return "" in roots or bool(visible_to(alert, roots))


def human_bytes(n: int | None) -> str:
    """Disk sizes as people read them: "3.0 GB", "512.4 MB" ("?" when unknown)."""
    if n is None:
        return "?"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"
