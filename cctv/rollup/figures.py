"""Each camera's window figures kept between requests, exactly, and every area's sums of them (docs/status.md,
"Figures between requests").

Between a camera's own changes, each of its windows' time fields moves linearly with ``now``: the window's end
adds the weights of the row covering ``now`` (its open row), its start takes away the weights of the row
covering ``now − window``; and its event counts stay put until ``now − window`` passes one of the camera's row
boundaries (every event — an outage begun, a repair — is one). So a camera's figures are kept as a value at
``t0``, a slope and the time until which both hold (:class:`Entry`), and every area's as the sum of its cameras'
lines (``A + S × now``), updated by the difference when one camera's entry is computed again: after its change,
or when a window start passes one of its boundaries (a few times a camera a day). A city page then costs a
look-up per area, not four index queries per camera.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cctv.rollup.days import ancestors
from cctv.rollup.tally import Tally

TIME = ("known_ms", "up_ms", "usable_ms", "degraded_ms", "offline_ms")
EVENTS = ("outages", "degradations", "repaired", "repair_ms", "degraded_repaired", "degraded_repair_ms")
Slope = tuple[int, int, int, int, int]
INF = float("inf")


@dataclass(slots=True)
class Entry:
    """One camera's figures per window at ``t0``, how they move (ms of each time field per ms of ``now``), and
    until when (exclusive) that holds."""

    t0: int
    values: dict[str, Tally]
    slopes: dict[str, Slope]
    valid_until: float

    def still(self) -> bool:
        """Whether no window's figures move with ``now`` (every window gains at its end what it loses at its
        start): then they are ``values`` until ``valid_until``. Most cameras between their changes."""
        return not any(any(s) for s in self.slopes.values())

    def at(self, now_ms: int) -> dict[str, Tally]:
        dt = now_ms - self.t0
        if dt == 0:
            return {w: _copy(t) for w, t in self.values.items()}
        out = {}
        for w, t in self.values.items():
            s = self.slopes[w]
            out[w] = Tally(t.known_ms + s[0] * dt, t.up_ms + s[1] * dt, t.usable_ms + s[2] * dt,
                           t.degraded_ms + s[3] * dt, t.offline_ms + s[4] * dt, t.outages, t.degradations,
                           t.repaired, t.repair_ms, t.degraded_repaired, t.degraded_repair_ms)
        return out


def _copy(t: Tally) -> Tally:
    return Tally().add(t)


class _Line:
    """An area's sum of its cameras' lines for one window: time fields ``a + s × now``, events ``a``."""

    __slots__ = ("a", "s")

    def __init__(self) -> None:
        self.a = [0] * (len(TIME) + len(EVENTS))
        self.s = [0] * len(TIME)

    def add(self, value: Tally, slope: Slope, t0: int, sign: int) -> None:
        a, s = self.a, self.s
        for i, f in enumerate(TIME):
            a[i] += sign * (getattr(value, f) - slope[i] * t0)
            s[i] += sign * slope[i]
        for j, f in enumerate(EVENTS, len(TIME)):
            a[j] += sign * getattr(value, f)

    def at(self, now_ms: int) -> Tally:
        a, s = self.a, self.s
        return Tally(*(a[i] + s[i] * now_ms for i in range(len(TIME))), *a[len(TIME):])


class FigureCache:
    """``compute(camera, now)`` gives a fresh :class:`Entry`; this keeps them and the areas' sums."""

    def __init__(self, cameras: Iterable[str], windows: Sequence[str], compute: Callable[[str, int], Entry]) -> None:
        self.windows = tuple(windows)
        self.compute = compute
        self._up: dict[str, list[str]] = {c: ancestors(c) for c in cameras}
        self._entries: dict[str, Entry] = {}
        self._dirty: set[str] = set(self._up)  # no entry, or its camera changed since
        # loaded again (a midnight, days tallied, a bus reconnect): computed again in the background, and shown
        # as they were until then — a load changes how figures are kept, not what they are
        self._renew: set[str] = set()
        self._expiry: list[tuple[float, int, str]] = []  # (valid_until, id of the entry, camera)
        self._lines: dict[str, dict[str, _Line]] = {}
        self.computed = 0

    def invalidate(self, camera: str | None = None) -> None:
        """The camera's rows changed (None: every camera's, e.g. a load of other rows)."""
        if camera is None:
            self._dirty = set(self._up)
            self._renew = set()
        elif camera in self._up:
            self._dirty.add(camera)

    def renew(self) -> None:
        """The model loaded the same history again: every entry is computed again by ``catch_up(renew=True)``
        (the model's warm-up) and shown as it is until then, so no page waits for 30,000 cameras."""
        self._renew = set(self._entries)

    @property
    def renewing(self) -> int:
        """Cameras loaded again whose figures are shown as kept until computed again."""
        return len(self._renew)

    @property
    def waiting(self) -> int:
        """Cameras whose figures wait to be brought up to date (changed, or loaded again)."""
        return len(self._dirty) + len(self._renew - self._dirty)

    def entry(self, camera: str, now_ms: int) -> Entry:
        """The camera's entry holding at ``now_ms`` (computed again if its camera changed or it ran out): the
        same object for as long as it holds."""
        entry = self._entries.get(camera)
        if camera in self._dirty or entry is None or not entry.t0 <= now_ms < entry.valid_until:
            entry = self._refresh(camera, now_ms)
        return entry

    def figures(self, camera: str, now_ms: int) -> dict[str, Tally]:
        return self.entry(camera, now_ms).at(now_ms)

    def rank(self, camera: str, window: str, now_ms: int) -> tuple[float, float, int] | None:
        """(availability, usability, − outages) of the camera's ``window`` at ``now_ms`` — the order of the
        worst cameras — without building its tallies; None when nothing is known."""
        entry = self.entry(camera, now_ms)
        t, s, dt = entry.values[window], entry.slopes[window], now_ms - entry.t0
        known = t.known_ms + s[0] * dt
        if not known:
            return None
        return ((t.up_ms + s[1] * dt) / known, (t.usable_ms + s[2] * dt) / known, -t.outages)

    def ranked(self, cameras: Iterable[str], window: str, now_ms: int) -> list[tuple[tuple[float, float, int], str]]:
        """(rank, camera) of each of ``cameras`` with something known (:meth:`rank`): the smallest are the cameras
        with the least availability over ``window``, then usability, then most outages (ties by path), as
        :func:`cctv.rollup.tally.worst` orders them."""
        keyed = []
        for c in cameras:
            if c in self._up and (k := self.rank(c, window, now_ms)) is not None:
                keyed.append((k, c))
        return keyed

    def catch_up(self, now_ms: int, limit: int | None = None, area: str = "", renew: bool = False) -> bool:
        """Bring up to date the cameras of ``area`` ("" the city) changed since, and every camera whose entry
        ran out by ``now_ms`` (a few a second in a city) — at most ``limit`` of them (None: all); True when none
        is left (a caller with a loop to share does it in slices: every camera of a city is changed at once by
        its first verdicts, and a kecamatan's page need not wait for the other kecamatan's). ``renew``: and every
        camera loaded again (:meth:`renew`), city-wide."""
        mine = [c for c in self._dirty if c.startswith(area + "/")] if area else None
        done = 0
        while self._dirty if mine is None else mine:
            if limit is not None and done >= limit:
                return False
            self._refresh(next(iter(self._dirty)) if mine is None else mine.pop(), now_ms)
            done += 1
        while renew and self._renew:
            if limit is not None and done >= limit:
                return False
            self._refresh(self._renew.pop(), now_ms)
            done += 1
        while self._expiry and self._expiry[0][0] <= now_ms:
            if limit is not None and done >= limit:
                return False
            _until, ident, camera = heapq.heappop(self._expiry)
            entry = self._entries.get(camera)
            if entry is not None and id(entry) == ident:
                self._refresh(camera, now_ms)
                done += 1
        return True

    def area(self, area: str, now_ms: int) -> dict[str, Tally]:
        """The sum of the area's cameras' figures at ``now_ms`` (every camera brought up to date first: those
        changed, and those whose entry ran out)."""
        self.catch_up(now_ms, area=area)
        lines = self._lines.get(area)
        return {w: lines[w].at(now_ms) if lines else Tally() for w in self.windows}

    def _refresh(self, camera: str, now_ms: int) -> Entry:
        old = self._entries.get(camera)
        entry = self.compute(camera, now_ms)
        self.computed += 1
        for area in self._up.get(camera, ()):
            lines = self._lines.get(area)
            if lines is None:
                lines = self._lines[area] = {w: _Line() for w in self.windows}
            for w in self.windows:
                if old is not None:
                    lines[w].add(old.values[w], old.slopes[w], old.t0, -1)
                lines[w].add(entry.values[w], entry.slopes[w], entry.t0, 1)
        self._entries[camera] = entry
        self._dirty.discard(camera)
        self._renew.discard(camera)
        if entry.valid_until != INF:
            heapq.heappush(self._expiry, (entry.valid_until, id(entry), camera))
        if len(self._expiry) > 4 * len(self._up) + 1024:  # stale ids piled up: keep only the live ones
            self._expiry = [(e.valid_until, id(e), c) for c, e in self._entries.items() if e.valid_until != INF]
            heapq.heapify(self._expiry)
        return entry
