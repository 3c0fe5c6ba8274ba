"""Per-area counts (online, degraded, offline, motion, reasons) kept incrementally from the live model.

A camera's state, reason or motion change marks it dirty (a listener of :class:`LiveModel`). At most once a
second (:meth:`AreaAggregates.run`), the dirty cameras' old contribution is taken out of every area above them
and the new one put in — O(depth) per changed camera, never a walk over an area's cameras — and the areas whose
counts changed are published as one ``counts`` message (:class:`~cctv.status.messages.AreaCounts`). Reads
(:meth:`counts`) fold in what is dirty first, so a page rendered right after a change agrees with the tiles.

A scoped view of an area above the caller's scope (the city, for a kecamatan operator) is the sum of the
scope roots within it (:meth:`scoped`): never a number from outside the scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from cctv.clock import Clock
from cctv.rollup.tally import Counts
from cctv.sites import Sites, is_within
from cctv.status.bus import Bus
from cctv.status.live_model import LiveModel
from cctv.status.messages import TOPIC_COUNTS, AreaCounts

log = logging.getLogger(__name__)

Key = tuple[str, str, bool]  # (bucket, "state:reason" or "", counts as motion): see count_key


class AreaAggregates:
    def __init__(self, sites: Sites, live: LiveModel, bus: Bus, clock: Clock, every_s: float = 1.0) -> None:
        self.sites = sites
        self.live = live
        self.bus = bus
        self.clock = clock
        self.every_s = every_s
        self._ancestors: dict[str, tuple[str, ...]] = {}
        self._counts: dict[str, Counts] = {}
        self._keys: dict[str, Key] = {}
        self._dirty: set[str] = set()
        self._changed_areas: set[str] = set()
        self.published = 0
        self._build()
        live.listeners.append(self._dirty.add)
        self._task: asyncio.Task[None] | None = None

    def _build(self) -> None:
        for area in self.sites.areas:
            self._counts[area.path] = Counts()
        for cam in self.live.cameras():
            ancestors = tuple(a.path for a in self.sites.ancestors(cam.path))
            self._ancestors[cam.path] = ancestors
            key = count_key(cam.state, cam.reason, cam.motion)
            self._keys[cam.path] = key
            for a in ancestors:
                _add(self._counts[a], key, 1)

    # -- folding changes in ----------------------------------------------------------------------------

    def fold(self) -> set[str]:
        """Fold the dirty cameras into the counts; returns the areas whose counts changed."""
        if not self._dirty:
            return set()
        changed: set[str] = set()
        dirty = set(self._dirty)
        self._dirty.clear()  # the live model's listener holds this very set
        for path in dirty:
            cam = self.live.peek(path)
            old = self._keys.get(path)
            if cam is None or old is None:
                continue
            new = count_key(cam.state, cam.reason, cam.motion)
            if new == old:
                continue
            self._keys[path] = new
            for a in self._ancestors[path]:
                c = self._counts[a]
                _add(c, old, -1)
                _add(c, new, 1)
                changed.add(a)
        self._changed_areas |= changed
        return changed

    def publish(self) -> AreaCounts | None:
        """One ``counts`` message with every area changed since the last one (None when nothing changed)."""
        self.live.sync()
        self.fold()
        if not self._changed_areas:
            return None
        areas, self._changed_areas = self._changed_areas, set()
        msg = AreaCounts(self.clock.now_ms(), {a: self._counts[a].copy() for a in sorted(areas)})
        self.bus.publish(TOPIC_COUNTS, msg)
        self.published += 1
        return msg

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="area-aggregates")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                self.publish()
            except Exception:  # noqa: BLE001
                log.exception("area aggregates: could not publish")

    # -- reads -----------------------------------------------------------------------------------------

    def counts(self, area: str) -> Counts:
        """The area's counts now (a copy). KeyError for an unknown area."""
        self.live.sync()
        self.fold()
        return self._counts[area].copy()

    def scoped(self, area: str, roots: Iterable[str]) -> Counts:
        """Counts of ``area`` as a caller with scope ``roots`` sees it: the area itself when a root covers it,
        else the sum of the roots within it."""
        roots = tuple(roots)
        if any(is_within(area, r) for r in roots):
            return self.counts(area)
        total = Counts()
        for r in roots:
            if r in self._counts and is_within(r, area):
                total.add(self.counts(r))
        return total


def count_key(state: str, reason: str, motion: bool) -> Key:
    """What of a camera's state, reason and motion the counts see (as count_states counts them): its bucket,
    its "state:reason" key ("" when none), whether it counts as motion."""
    up = state in ("online", "degraded")
    bucket = state if up else "offline"  # unmonitored (no node watching yet) counts as no verdict: offline
    return bucket, (f"{state}:{reason}" if state != "online" and reason else ""), bool(motion and up)


def _add(c: Counts, key: Key, n: int) -> None:
    bucket, reason, motion = key
    c.total += n
    setattr(c, bucket, getattr(c, bucket) + n)
    if reason:
        v = c.reasons.get(reason, 0) + n
        if v:
            c.reasons[reason] = v
        else:
            c.reasons.pop(reason, None)
    if motion:
        c.motion += n
