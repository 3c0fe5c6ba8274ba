"""The live roll-up model: every camera's recent status intervals, kept from the bus, loaded from the store.

At start the model loads, from the store, every interval that overlaps the longest window (30 d) plus, for a
camera whose first such interval is offline or degraded, the intervals of the same episode before it (so a
repair's whole duration is known). It then applies each ``StatusChange`` from the bus exactly as
``Store.apply_status_change`` does (close the open row at ``max(start, since)``, open the new one), so the model
after a restart equals the model that ran through (tests/cctv/rollup/test_rollup.py checks it). Never counters.

Figures are computed on demand from each camera's :class:`~cctv.rollup.timeline.Timeline` (prefix sums, rebuilt
only when that camera's rows change), so a window query costs O(log n) per camera, not a pass over its rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, select

from cctv.clock import Clock
from cctv.rollup.tally import ONLINE, WINDOWS, Episode, IntervalLike, Row, Tally
from cctv.rollup.timeline import Timeline
from cctv.status.bus import Bus, Subscription
from cctv.status.messages import TOPIC_STATUS, StatusChange
from cctv.store.models import StatusInterval

log = logging.getLogger(__name__)

T = TypeVar("T")
MEMO_MAX = 256
QUEUE = 100_000  # status changes are few (a few per camera per hour): a drop means a reload


class RollupModel:
    def __init__(self, cameras: Iterable[str], windows: Mapping[str, int] = WINDOWS) -> None:
        self.windows = dict(windows)
        self.horizon_ms = max(self.windows.values())
        self._rows: dict[str, list[Row]] = {c: [] for c in cameras}
        self._timelines: dict[str, Timeline] = {}
        self._memo: dict[Hashable, tuple[int, Any]] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.applied = 0
        self.reloads = 0
        self._seen_drops = 0

    # -- state -----------------------------------------------------------------------------------------

    @property
    def cameras(self) -> list[str]:
        return list(self._rows)

    def rows(self, camera: str) -> list[Row]:
        return list(self._rows.get(camera, ()))

    def load(self, rows: Iterable[IntervalLike]) -> None:
        """Replace the model's intervals with ``rows`` (of any cameras, in any order; unknown cameras ignored)."""
        fresh: dict[str, list[Row]] = {c: [] for c in self._rows}
        for r in rows:
            cam = getattr(r, "camera", None)
            if cam in fresh:
                fresh[cam].append(Row(str(r.state), r.reason, r.start_ms, r.end_ms))
        for lst in fresh.values():
            lst.sort(key=lambda r: r.start_ms)
        self._rows = fresh
        self._timelines = {}

    def apply(self, change: StatusChange) -> None:
        """Mirror ``Store.apply_status_change``: close the open row at ``max(start, since)``, open a new one."""
        rows = self._rows.get(change.camera)
        if rows is None:
            return
        if rows and rows[-1].end_ms is None:
            last = rows[-1]
            rows[-1] = Row(last.state, last.reason, last.start_ms, max(last.start_ms, change.since_ms))
        rows.append(Row(str(change.state), change.reason, change.since_ms, None))
        self.applied += 1
        self._timelines.pop(change.camera, None)

    def prune(self, now_ms: int) -> int:
        """Forget rows no window will need again; returns how many were dropped."""
        horizon = now_ms - self.horizon_ms
        dropped = 0
        for cam, rows in self._rows.items():
            i = keep_from(rows, horizon)
            if i:
                del rows[:i]
                dropped += i
                self._timelines.pop(cam, None)
        return dropped

    # -- figures ---------------------------------------------------------------------------------------

    def timeline(self, camera: str) -> Timeline:
        """The camera's rows indexed for window queries (rebuilt only after its rows change)."""
        tl = self._timelines.get(camera)
        if tl is None:
            tl = self._timelines[camera] = Timeline(self._rows.get(camera, []))
        return tl

    def tallies(self, now_ms: int, cameras: Iterable[str] | None = None) -> dict[str, dict[str, Tally]]:
        """The Tally per window ending at ``now_ms`` of ``cameras`` (default: all). O(log n) per camera."""
        out = {}
        for cam in self._rows if cameras is None else cameras:
            if cam in self._rows:
                tl = self.timeline(cam)
                out[cam] = {
                    w: tl.tally(now_ms - length, now_ms, now_ms) for w, length in self.windows.items()
                }
        return out

    def camera_tallies(self, camera: str, now_ms: int) -> dict[str, Tally]:
        return self.tallies(now_ms, [camera]).get(camera) or {w: Tally() for w in self.windows}

    def memo(self, key: Hashable, now_ms: int, ttl_ms: int, compute: Callable[[], T]) -> T:
        """``compute()``, reused for ``ttl_ms`` under ``key`` (charts of hourly buckets need no fresher data)."""
        hit = self._memo.get(key)
        if hit is not None and 0 <= now_ms - hit[0] < ttl_ms:
            return hit[1]  # type: ignore[no-any-return]
        if len(self._memo) >= MEMO_MAX:
            self._memo.clear()
        value = compute()
        self._memo[key] = (now_ms, value)
        return value

    def episodes(self, camera: str, since_ms: int | None = None) -> list[Episode]:
        """The camera's episodes (those ending after ``since_ms``, or open, when given), oldest first."""
        tl = self.timeline(camera)
        return tl.episodes if since_ms is None else tl.episodes_since(since_ms)

    # -- running from the bus --------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._task is not None

    async def start(self, store: Any, bus: Bus, clock: Clock) -> None:
        """Subscribe, load from ``store``, then follow the bus (idempotent; safe to call from two tasks)."""
        async with self._lock:
            if self._task is not None:
                return
            self._sub = bus.subscribe(TOPIC_STATUS, maxlen=QUEUE, remote=True)
            self._clock = clock
            self._store = store
            await self._reload()
            self._task = asyncio.create_task(self._follow(), name="rollup-model")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if self._sub is not None:
            self._sub.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def sync(self) -> None:
        """Apply what the bus has queued now, so a read right after a change sees it (on the loop's thread)."""
        sub = self._sub
        if sub is None or sub.dropped != self._seen_drops:
            return  # not started, or fell behind: the follower task reloads
        while (item := sub.get_nowait()) is not None:
            if isinstance(item[1], StatusChange):
                self.apply(item[1])

    async def reload(self) -> None:
        """Read the intervals again (the bus between nodes was lost for a while), if started."""
        if self._task is not None:
            await self._reload()

    async def _reload(self) -> None:
        now = self._clock.now_ms()
        engine: Engine = self._store.engine
        rows = await self._store.aread(load_rows, engine, now - self.horizon_ms)
        self.load(rows)
        self.reloads += 1

    async def _follow(self) -> None:
        assert self._sub is not None
        sub = self._sub
        async for _topic, message in sub:
            try:
                if sub.dropped != self._seen_drops:  # fell behind: the store has every change: reload
                    self._seen_drops = sub.dropped
                    log.warning("roll-up model fell behind the bus (%d dropped): reloading", sub.dropped)
                    await self._reload()
                    continue
                if isinstance(message, StatusChange):
                    self.apply(message)
                    if self.applied % 1000 == 0:
                        self.prune(self._clock.now_ms())
            except Exception:  # noqa: BLE001 - one bad message never stops the model
                log.exception("roll-up model: could not apply %s", type(message).__name__)


def keep_from(rows: Sequence[IntervalLike], horizon_ms: int) -> int:
    """Index of the first row a window after ``horizon_ms`` needs: the first that ends after it (or is open),
    moved back over the earlier rows of its episode when that is an outage or a degradation.

    Assumes no status change is dated back beyond the horizon (the status machine backdates by seconds; the
    horizon is 30 days), so a dropped row can never join an episode again."""
    i = 0
    while i < len(rows) and rows[i].end_ms is not None and rows[i].end_ms <= horizon_ms:  # type: ignore[operator]
        i += 1
    if i == len(rows) or rows[i].state == ONLINE:
        return i
    state = rows[i].state
    while i > 0 and _continues(rows[i - 1], rows[i], state):
        i -= 1
    return i


def _continues(prev: IntervalLike, nxt: IntervalLike, state: str) -> bool:
    """Whether ``prev`` belongs to the episode (in ``state``) that ``nxt`` is in: no gap, and the same state
    or zero length (a zero-length row is in no episode)."""
    return prev.end_ms == nxt.start_ms and (prev.state == state or prev.start_ms == prev.end_ms)


def load_rows(engine: Engine, horizon_ms: int, walk_limit: int = 1000) -> list[StatusInterval]:
    """The rows the model needs at ``horizon_ms`` (see :func:`keep_from`), read from the store (blocking)."""
    cols = (
        StatusInterval.camera,
        StatusInterval.state,
        StatusInterval.reason,
        StatusInterval.start_ms,
        StatusInterval.end_ms,
        StatusInterval.id,
    )
    q = (
        select(*cols)
        .where((StatusInterval.end_ms.is_(None)) | (StatusInterval.end_ms > horizon_ms))
        .order_by(StatusInterval.camera, StatusInterval.start_ms, StatusInterval.id)
    )
    with engine.connect() as conn:
        rows = list(conn.execute(q))
        firsts: dict[str, Any] = {}
        for r in rows:
            firsts.setdefault(r.camera, r)
        extra = []
        for cam, first in firsts.items():
            if first.state == ONLINE:
                continue
            cur = first
            for _ in range(walk_limit):  # an episode has few rows (reasons only get more specific)
                prev = conn.execute(
                    select(*cols)
                    .where(  # the row just before ``cur`` in the store's order (start, id), ending where it starts
                        StatusInterval.camera == cam,
                        StatusInterval.end_ms == cur.start_ms,
                        (StatusInterval.start_ms < cur.start_ms)
                        | ((StatusInterval.start_ms == cur.start_ms) & (StatusInterval.id < cur.id)),
                    )
                    .order_by(StatusInterval.start_ms.desc(), StatusInterval.id.desc())
                    .limit(1)
                ).first()
                if prev is None or not _continues(prev, cur, first.state):
                    break
                extra.append(prev)
                cur = prev
    # in the store's order, which RollupModel.load keeps (its sort by start is stable)
    return sorted(extra + rows, key=lambda r: (r.camera, r.start_ms, r.id))
