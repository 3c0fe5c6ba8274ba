"""RT → kelurahan → kecamatan → city aggregation. Pure functions over camera states and status intervals.

Two kinds of figures (docs/status.md, "Roll-ups"):

- **Now**: :class:`Counts` of cameras by state and reason, and motion now, from the live camera states.
- **Over a window** (24 h, 7 d, 30 d ending at ``now``): a :class:`Tally` per camera from its status intervals —
  known, up (not offline) and usable (online) milliseconds, outages and repairs. Every field of a Tally is a sum,
  so an area's Tally is the sum of its children's: availability is ``up_ms / known_ms`` of the sums (time
  weighted), never an average of percentages; MTTR is ``repair_ms / repaired`` of the sums.

Conventions, the same everywhere (and checked against a brute-force oracle in tests/cctv/rollup/test_rollup.py):

- Time is clipped to the half-open window ``[since, until)``; an open interval runs to ``now``.
- Time no interval covers (before a camera's first interval, or while nothing watched it) is *unknown*: it is
  in no sum, so it is neither uptime nor downtime. ``known_ms`` is the denominator. An ``unmonitored``
  interval (a node was lost, or handed the camera over) is unknown time too: it says so in the store, and it
  counts like a gap.
- An *episode* is a maximal run of intervals in the same state, each starting where the previous ended
  (a reason changing, ``stalled`` → ``not_found``, does not end an outage). Zero-length intervals are ignored.
- An offline episode is *repaired* when the interval right after it (same instant, no gap) is not offline; a
  degraded one when the next is online. An episode cut by a gap (shutdown, crash) was not seen to be repaired and
  is not in MTTR. A repair's duration is the whole episode, also the part before the window.
- Events count in the window when ``since < t <= until``: an outage by its start, a repair by its end.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol

DAY_MS = 24 * 3600 * 1000
WINDOWS: dict[str, int] = {"24h": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}

ONLINE, DEGRADED, OFFLINE, UNMONITORED = "online", "degraded", "offline", "unmonitored"


# -- now: counts of live states ------------------------------------------------------------------------


@dataclass(slots=True)
class Counts:
    total: int = 0
    online: int = 0
    degraded: int = 0
    offline: int = 0
    motion: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # "offline:stalled" -> 3

    def add(self, other: Counts) -> Counts:
        """Add ``other`` into this one (an area's counts are the sum of its children's); returns self."""
        self.total += other.total
        self.online += other.online
        self.degraded += other.degraded
        self.offline += other.offline
        self.motion += other.motion
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v
        return self

    def copy(self) -> Counts:
        return Counts(self.total, self.online, self.degraded, self.offline, self.motion, dict(self.reasons))

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "online": self.online,
            "degraded": self.degraded,
            "offline": self.offline,
            "motion": self.motion,
            "reasons": dict(sorted(self.reasons.items())),
        }


def count_states(cameras: Iterable[tuple[str, str, bool]]) -> Counts:
    """Count (state, reason, motion) triples; a camera with no verdict yet (or unmonitored) counts as offline."""
    c = Counts()
    for state, reason, motion in cameras:
        c.total += 1
        if state == ONLINE:
            c.online += 1
        elif state == DEGRADED:
            c.degraded += 1
        else:
            c.offline += 1
        if state != ONLINE and reason:
            key = f"{state}:{reason}"
            c.reasons[key] = c.reasons.get(key, 0) + 1
        if motion and state in (ONLINE, DEGRADED):
            c.motion += 1
    return c


# -- over a window: tallies of status intervals --------------------------------------------------------


class IntervalLike(Protocol):
    """A status interval: ``cctv.store.Interval`` and :class:`Row` both fit."""

    @property
    def state(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def start_ms(self) -> int: ...

    @property
    def end_ms(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Row:
    state: str
    reason: str
    start_ms: int
    end_ms: int | None  # None while open


@dataclass(frozen=True, slots=True)
class Episode:
    """A maximal run of contiguous intervals in one state (see the module's conventions)."""

    state: str
    start_ms: int
    end_ms: int | None  # None while open
    reasons: tuple[str, ...]  # in order, without repeats
    repaired: bool  # followed, without a gap, by a better state

    def duration_ms(self, now_ms: int) -> int:
        return (self.end_ms if self.end_ms is not None else now_ms) - self.start_ms


@dataclass(slots=True)
class Tally:
    """Additive figures of one camera, or of an area (the sum of its cameras), over one window."""

    known_ms: int = 0  # time covered by intervals (the denominator)
    up_ms: int = 0  # stream up: online or degraded
    usable_ms: int = 0  # online (up and healthy)
    degraded_ms: int = 0
    offline_ms: int = 0
    outages: int = 0  # offline episodes that began in the window
    degradations: int = 0  # degraded episodes that began in the window
    repaired: int = 0  # offline episodes repaired in the window ...
    repair_ms: int = 0  # ... and their whole durations
    degraded_repaired: int = 0
    degraded_repair_ms: int = 0

    def add(self, other: Tally) -> Tally:
        # field by field, not through fields(): a city's figures add 100,000s of these per page
        self.known_ms += other.known_ms
        self.up_ms += other.up_ms
        self.usable_ms += other.usable_ms
        self.degraded_ms += other.degraded_ms
        self.offline_ms += other.offline_ms
        self.outages += other.outages
        self.degradations += other.degradations
        self.repaired += other.repaired
        self.repair_ms += other.repair_ms
        self.degraded_repaired += other.degraded_repaired
        self.degraded_repair_ms += other.degraded_repair_ms
        return self

    @property
    def availability(self) -> float | None:
        """Share of the known time the stream was up (0..1), None when nothing is known."""
        return self.up_ms / self.known_ms if self.known_ms else None

    @property
    def usability(self) -> float | None:
        """Share of the known time the camera was online (up and healthy)."""
        return self.usable_ms / self.known_ms if self.known_ms else None

    @property
    def mttr_ms(self) -> float | None:
        """Mean time to repair of the offline outages repaired in the window."""
        return self.repair_ms / self.repaired if self.repaired else None

    @property
    def mttr_degraded_ms(self) -> float | None:
        return self.degraded_repair_ms / self.degraded_repaired if self.degraded_repaired else None

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(
            availability=self.availability,
            usability=self.usability,
            mttr_ms=self.mttr_ms,
            mttr_degraded_ms=self.mttr_degraded_ms,
        )
        return d


def sum_tallies(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for t in tallies:
        total.add(t)
    return total


def episodes(rows: Sequence[IntervalLike]) -> list[Episode]:
    """The episodes of one camera's intervals (sorted by start)."""
    out: list[Episode] = []
    state: str | None = None
    start = 0
    end: int | None = None
    reasons: list[str] = []
    for r in rows:
        if r.end_ms is not None and r.end_ms <= r.start_ms:
            continue  # zero length: never seen in any state
        if state is not None and r.state == state and end == r.start_ms:
            end = r.end_ms
            if r.reason not in reasons:
                reasons.append(r.reason)
            continue
        if state is not None:
            out.append(
                Episode(state, start, end, tuple(reasons), _repairs(state, r.state) and end == r.start_ms)
            )
        state, start, end, reasons = r.state, r.start_ms, r.end_ms, [r.reason]
    if state is not None:
        out.append(Episode(state, start, end, tuple(reasons), False))
    return out


def _repairs(bad: str, next_state: str) -> bool:
    if next_state == UNMONITORED:
        return False  # nobody saw the repair: like a gap
    if bad == OFFLINE:
        return next_state != OFFLINE
    if bad == DEGRADED:
        return next_state == ONLINE
    return False


def camera_tally(
    rows: Sequence[IntervalLike],
    since_ms: int,
    until_ms: int,
    now_ms: int,
    eps: Sequence[Episode] | None = None,
) -> Tally:
    """One camera's Tally over ``[since_ms, until_ms)`` (``until_ms <= now_ms``); rows sorted by start.

    ``eps`` are ``episodes(rows)`` when the caller already has them (several windows over the same rows).
    """
    t = Tally()
    for r in rows:
        lo = max(r.start_ms, since_ms)
        hi = min(r.end_ms if r.end_ms is not None else now_ms, until_ms)
        if hi <= lo or r.state == UNMONITORED:
            continue
        ms = hi - lo
        t.known_ms += ms
        if r.state == ONLINE:
            t.up_ms += ms
            t.usable_ms += ms
        elif r.state == DEGRADED:
            t.up_ms += ms
            t.degraded_ms += ms
        else:
            t.offline_ms += ms
    for e in episodes(rows) if eps is None else eps:
        if e.state in (ONLINE, UNMONITORED):
            continue
        began = since_ms < e.start_ms <= until_ms
        fixed = e.repaired and e.end_ms is not None and since_ms < e.end_ms <= until_ms
        if e.state == OFFLINE:
            t.outages += began
            if fixed:
                t.repaired += 1
                t.repair_ms += e.end_ms - e.start_ms  # type: ignore[operator]
        else:
            t.degradations += began
            if fixed:
                t.degraded_repaired += 1
                t.degraded_repair_ms += e.end_ms - e.start_ms  # type: ignore[operator]
    return t


def camera_tallies(
    rows: Sequence[IntervalLike], now_ms: int, windows: Mapping[str, int] = WINDOWS
) -> dict[str, Tally]:
    """One camera's Tally for each window ending at ``now_ms``."""
    eps = episodes(rows)
    return {
        name: camera_tally(rows, now_ms - length, now_ms, now_ms, eps) for name, length in windows.items()
    }


def buckets(rows: Sequence[IntervalLike], edges: Sequence[int], now_ms: int) -> list[Tally]:
    """Known / up / usable time of one camera in each bucket ``[edges[i], edges[i+1])`` (for charts).

    Only the time fields are filled (no episodes): a sweep over the sorted rows, O(rows + buckets).
    """
    out = [Tally() for _ in range(max(0, len(edges) - 1))]
    if not out:
        return out
    first = 0
    for r in rows:
        start, end = r.start_ms, (r.end_ms if r.end_ms is not None else now_ms)
        if end <= start or end <= edges[0] or start >= edges[-1] or r.state == UNMONITORED:
            continue
        while first < len(out) and edges[first + 1] <= start:
            first += 1
        i = first
        while i < len(out) and edges[i] < end:
            ms = min(end, edges[i + 1]) - max(start, edges[i])
            if ms > 0:
                b = out[i]
                b.known_ms += ms
                if r.state == ONLINE:
                    b.up_ms += ms
                    b.usable_ms += ms
                elif r.state == DEGRADED:
                    b.up_ms += ms
                    b.degraded_ms += ms
                else:
                    b.offline_ms += ms
            i += 1
    return out


# -- areas ---------------------------------------------------------------------------------------------


class AreaLike(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def children(self) -> tuple[str, ...]: ...

    @property
    def cameras(self) -> tuple[str, ...]: ...


def area_tallies(
    areas: Iterable[AreaLike], per_camera: Mapping[str, Mapping[str, Tally]], windows: Iterable[str] = WINDOWS
) -> dict[str, dict[str, Tally]]:
    """Every area's Tally per window, bottom-up: an RT sums its cameras, every other area its child areas.

    ``areas`` must list parents before children (as ``Sites.areas`` does). Cameras missing from
    ``per_camera`` (no intervals) add nothing.
    """
    names = list(windows)
    by_path = {a.path: a for a in areas}
    done: dict[str, dict[str, Tally]] = {}

    def visit(path: str) -> dict[str, Tally]:
        if path in done:
            return done[path]
        a = by_path[path]
        total = {w: Tally() for w in names}
        if a.children:
            parts: Iterable[Mapping[str, Tally]] = (visit(c) for c in a.children)
        else:
            parts = (per_camera[c] for c in a.cameras if c in per_camera)
        for part in parts:
            for w in names:
                total[w].add(part[w])
        done[path] = total
        return total

    for path in reversed(list(by_path)):  # children first, so the recursion stays shallow
        visit(path)
    return done


@dataclass(frozen=True, slots=True)
class Ranked:
    camera: str
    tally: Tally


def worst(per_camera: Mapping[str, Tally], cameras: Iterable[str], n: int = 10) -> list[Ranked]:
    """The ``n`` cameras of ``cameras`` with the least availability, then usability, then most outages.

    Cameras with nothing known are left out (they are listed as unknown elsewhere). The ranking is total (ties
    by path), so the worst of an area are the worst among its children's worst.
    """
    ranked = [Ranked(c, per_camera[c]) for c in cameras if c in per_camera and per_camera[c].known_ms]
    return heapq.nsmallest(n, ranked, key=lambda r: (r.tally.availability, r.tally.usability, -r.tally.outages,
                                                     r.camera))
