"""Node alerts: conditions of a machine rather than of one camera — its recording disk is full (recording paused,
ingest goes on) or nearly full. Pure (no I/O, no clock): :class:`NodeAlertTracker` turns observations into
open / update / close events; cctv/alerts/node_writer.py feeds it and stores them.

- An alert opens at the first observation of the condition; at most one is open per (node, kind).
- While it is open, ``cameras`` collects every camera the condition touched (a union: after the disk is freed
  one still knows whose recordings have a hole); ``affected_now`` is the count at the last observation. It is
  written again when either changes, and at least every ``refresh_ms`` while the condition holds, so
  ``last_seen_ms`` shows it is still being watched.
- It closes once the condition has been absent for ``clear_ms`` (a recorder retries a full disk every
  ``recording.disk_full_retry_s``: a short success between failures is not a recovery), dated at the first
  observation without it.

Who sees one: a user whose scope covers at least one of its cameras (the whole city sees them all).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from cctv.sites import is_within

DISK_FULL = "disk_full"  # a recorder hit ENOSPC/EDQUOT: its camera's recording is paused
DISK_LOW = "disk_low"  # free space on the recording disk under recording.warn_free_pct
KINDS = (DISK_FULL, DISK_LOW)


@dataclass(frozen=True, slots=True)
class NodeAlert:
    node: str
    kind: str
    opened_ms: int
    last_seen_ms: int  # the condition's last observation
    cameras: tuple[str, ...]  # every camera it touched while open, sorted
    affected_now: int  # cameras touched at the last observation
    free_bytes: int | None = None  # the recording disk at the last observation
    total_bytes: int | None = None
    closed_ms: int | None = None
    id: int | None = None
    acked_by: str | None = None
    acked_ms: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None


@dataclass(frozen=True, slots=True)
class NodeAlertEvent:
    kind: str  # "open" | "update" | "close"
    alert: NodeAlert


@dataclass(frozen=True, slots=True)
class Observation:
    active: bool
    cameras: tuple[str, ...] = ()
    free_bytes: int | None = None
    total_bytes: int | None = None


class NodeAlertTracker:
    """One condition on one node. Feed it observations in time order."""

    def __init__(self, node: str, kind: str, clear_ms: int, refresh_ms: int = 60_000) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown node alert kind {kind!r} (known: {', '.join(KINDS)})")
        if clear_ms <= 0 or refresh_ms <= 0:
            raise ValueError(f"clear_ms and refresh_ms must be > 0, not {clear_ms} and {refresh_ms}")
        self.node, self.kind, self.clear_ms, self.refresh_ms = node, kind, clear_ms, refresh_ms
        self.open: NodeAlert | None = None
        self._written_ms = 0  # when the open alert was last written
        self._absent_since: int | None = None

    def load(self, alert: NodeAlert | None) -> None:
        """Continue the store's open alert after a restart (it closes if the condition is not seen again)."""
        self.open = alert if alert is not None and alert.is_open else None
        self._written_ms = alert.last_seen_ms if self.open else 0
        self._absent_since = None

    def set_id(self, opened_ms: int, alert_id: int) -> None:
        if self.open is not None and self.open.opened_ms == opened_ms:
            self.open = replace(self.open, id=alert_id)

    def observe(self, now_ms: int, obs: Observation) -> list[NodeAlertEvent]:
        cur = self.open
        if obs.active:
            self._absent_since = None
            cams = tuple(sorted(set(obs.cameras)))
            if cur is None:
                self.open = NodeAlert(self.node, self.kind, now_ms, now_ms, cams, len(cams), obs.free_bytes,
                                      obs.total_bytes)
                self._written_ms = now_ms
                return [NodeAlertEvent("open", self.open)]
            union = tuple(sorted(set(cur.cameras) | set(cams)))
            new = replace(cur, last_seen_ms=max(cur.last_seen_ms, now_ms), cameras=union, affected_now=len(cams),
                          free_bytes=obs.free_bytes, total_bytes=obs.total_bytes)
            self.open = new
            changed = union != cur.cameras or len(cams) != cur.affected_now
            if changed or now_ms - self._written_ms >= self.refresh_ms:
                self._written_ms = now_ms
                return [NodeAlertEvent("update", new)]
            return []
        if cur is None:
            return []
        if self._absent_since is None:
            self._absent_since = now_ms
        if now_ms - self._absent_since < self.clear_ms:
            return []
        closed = replace(cur, closed_ms=max(self._absent_since, cur.opened_ms), affected_now=0,
                         free_bytes=obs.free_bytes if obs.free_bytes is not None else cur.free_bytes,
                         total_bytes=obs.total_bytes if obs.total_bytes is not None else cur.total_bytes)
        self.open, self._absent_since = None, None
        return [NodeAlertEvent("close", closed)]


def human_bytes(n: int | None) -> str:
    """Disk sizes as people read them: "3.0 GB", "512.4 MB" ("?" when unknown)."""
    if n is None:
        return "?"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"


def visible_to(alert: NodeAlert, roots: Iterable[str]) -> tuple[str, ...]:
    """The alert's cameras within the scope ``roots`` ("" is the city, which sees every alert, even one
    without cameras)."""
    roots = tuple(roots)
    return tuple(c for c in alert.cameras if any(is_within(c, r) for r in roots))
