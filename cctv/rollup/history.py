"""The live roll-up model: every camera's recent status intervals, kept from the bus, loaded from the store,
and for the long windows (7 d, 30 d) the daily tallies of the store (cctv/rollup/days.py).

What it holds (a *basis*, loaded at start and again after each local midnight):

- the **recent rows**: every interval from the start of yesterday on (plus, for a camera whose first such
  interval is offline or degraded, the earlier rows of the same episode, so a repair's whole duration is
  known), then each ``StatusChange`` from the bus applied exactly as ``Store.apply_status_change`` does;
- for each window reaching further back, its **edge day** (the local day holding ``now − window``) as rows, and
  per camera the sum of the tallied **full days** between that day and the recent rows.

A window's figures are then edge rows ``[now − window, edge end)`` + full days ``[edge end, recent start)`` +
recent rows ``[recent start, now)``: exactly what one pass over all the rows gives (tested against the oracle
with random histories), with about four days of rows in memory instead of thirty. Until the basis is loaded
again after midnight a long window starts no later than its edge day's end (a few seconds, a little short).
Without a store (``load``) the rows are all there is.

Figures are computed on demand from each camera's :class:`~cctv.rollup.timeline.Timeline` (prefix sums, rebuilt
only when that camera's rows change), so a window query costs O(log n) per camera, not a pass over its rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, select, true

from cctv.clock import Clock
from cctv.rollup.days import HOUR_MS, Calendar, DayTallier, day_sums, tallied
from cctv.rollup.figures import Entry, FigureCache
from cctv.rollup.tally import ONLINE, WINDOWS, Episode, IntervalLike, Row, Tally
from cctv.rollup.timeline import Timeline
from cctv.status.bus import Bus, Subscription
from cctv.status.messages import TOPIC_STATUS, State, StatusChange
from cctv.store.models import StatusInterval

log = logging.getLogger(__name__)

T = TypeVar("T")
MEMO_MAX = 256
QUEUE = 100_000  # status changes are few (a few per camera per hour): a drop means a reload
TALLY_EVERY_S = 600.0  # how often the model looks for closed days to tally
BACKFILL = 7  # days tallied before the figures are loaded again
RANK_SLICE = 200  # cameras ranked or brought up to date between two turns of the event loop (a city: 30,000)
WAITING_S = 15.0  # while another node tallies
WARM_SLICE = 500  # cameras whose figures are computed between two turns of the event loop after a load
KEEP_SHARE = 0.5  # at most this share of the loop's time goes to bringing changed cameras' figures up to date
RENEW_SHARE = 0.25  # of the loop's time, for computing the figures again after a load of the same history
KEEP_EVERY_S = 10.0  # and figures that ran out (a window's start passed a row) are looked at this often


@dataclass(slots=True)
class Edge:
    """A long window's edge day ``[day_ms, end_ms)`` as rows, and the full days after it, summed per camera."""

    day_ms: int
    end_ms: int
    rows: dict[str, list[Row]]
    sums: dict[str, Tally]
    timelines: dict[str, Timeline] = field(default_factory=dict)

    def timeline(self, camera: str) -> Timeline:
        tl = self.timelines.get(camera)
        if tl is None:
            tl = self.timelines[camera] = Timeline(self.rows.get(camera, []))
        return tl


@dataclass(slots=True)
class Basis:
    at_ms: int  # when it was loaded
    recent_ms: int  # the recent rows cover [recent_ms, now)
    edges: dict[str, Edge]  # window → its edge (the windows starting before recent_ms)
    days: frozenset[int] = frozenset()  # the tallied days within the horizon when it was loaded


def _rows_by_camera(rows: Iterable[IntervalLike], cameras: Iterable[str]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {c: [] for c in cameras}
    for r in rows:
        lst = out.get(getattr(r, "camera", None))  # type: ignore[arg-type]
        if lst is not None:
            lst.append(Row(str(r.state), r.reason, r.start_ms, r.end_ms))
    for lst in out.values():
        lst.sort(key=lambda r: r.start_ms)
    return out


class RollupModel:
    def __init__(self, cameras: Iterable[str], windows: Mapping[str, int] = WINDOWS,
                 calendar: Calendar | None = None, settle_ms: int = HOUR_MS) -> None:
        self.windows = dict(windows)
        self.horizon_ms = max(self.windows.values())
        self.calendar = calendar or Calendar()
        self._rows: dict[str, list[Row]] = {c: [] for c in cameras}
        self._timelines: dict[str, Timeline] = {}
        self.basis: Basis | None = None
        self.tallier = DayTallier(self._rows, self.calendar, self.horizon_ms, settle_ms)
        self.figures = FigureCache(self._rows, self.windows, self._entry)
        self._memo: dict[Hashable, tuple[int, Any]] = {}
        self._memo_before: dict[Hashable, tuple[int, Any]] = {}  # what the memo held before the last load
        self._refreshing: dict[Hashable, asyncio.Task[None]] = {}  # memo keys computed again in the background
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._days_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._reloading = asyncio.Lock()
        self.applied = 0
        self.stale = 0  # changes older than the camera's last row, ignored
        self.reloads = 0
        self._seen_drops = 0
        self._meanwhile: list[StatusChange] | None = None  # changes applied while a reload reads the store
        self._warm_task: asyncio.Task[None] | None = None
        self._keep_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()  # a camera's rows changed: the keeper brings its figures up to date
        # after a load, and again once its figures are computed (cctv/app/cli.py: the gc freezes what is new)
        self.on_warm: list[Callable[[], None]] = []

    # -- state -----------------------------------------------------------------------------------------

    @property
    def cameras(self) -> list[str]:
        return list(self._rows)

    def rows(self, camera: str) -> list[Row]:
        return list(self._rows.get(camera, ()))

    def recent_since(self, now_ms: int) -> int:
        """Since when the model holds every row (the start of yesterday once loaded from a store)."""
        return self.basis.recent_ms if self.basis is not None else now_ms - self.horizon_ms

    def load(self, rows: Iterable[IntervalLike], basis: Basis | None = None, *, again: bool = False) -> None:
        """Replace the model's intervals with ``rows`` (of any cameras, in any order; unknown cameras ignored);
        with ``basis`` the long windows' edges and day sums too (else the rows are all there is). ``again``: the
        same history read again from the store (a midnight, days tallied, a bus reconnect): the figures kept
        are shown until the warm-up has computed them again, instead of the next page computing them all."""
        self._rows = _rows_by_camera(rows, self._rows)
        self._timelines = {}
        self.basis = basis
        if self._memo:  # amemo shows them while the first fresh ones are computed
            self._memo_before, self._memo = self._memo, {}
        if again:
            self.figures.renew()
        else:
            self.figures.invalidate()

    def apply(self, change: StatusChange) -> None:
        """Mirror ``Store.apply_status_change``: close the open row at ``max(start, since)``, open a new one."""
        rows = self._rows.get(change.camera)
        if rows is None:
            return
        since = change.since_ms
        if rows and since < rows[-1].start_ms:
            if change.state is not State.UNMONITORED:
                self.stale += 1  # older than the camera's last row (re-sent after a reconnect): ignored
                return
            since = rows[-1].start_ms  # the gap from a lost node's last renewal, clamped as the store does
        if rows and rows[-1].end_ms is None:
            last = rows[-1]
            rows[-1] = Row(last.state, last.reason, last.start_ms, max(last.start_ms, since))
        rows.append(Row(str(change.state), change.reason, since, None))
        self.applied += 1
        self._timelines.pop(change.camera, None)
        self.figures.invalidate(change.camera)
        self._changed.set()
        if self._meanwhile is not None:
            self._meanwhile.append(change)

    def prune(self, now_ms: int) -> int:
        """Forget rows no window will need again; returns how many were dropped."""
        horizon = self.recent_since(now_ms)
        dropped = 0
        for cam, rows in self._rows.items():
            i = keep_from(rows, horizon)
            if i:
                del rows[:i]
                dropped += i
                self._timelines.pop(cam, None)
                self.figures.invalidate(cam)
        return dropped

    # -- figures ---------------------------------------------------------------------------------------

    def timeline(self, camera: str) -> Timeline:
        """The camera's recent rows indexed for window queries (rebuilt only after its rows change)."""
        tl = self._timelines.get(camera)
        if tl is None:
            tl = self._timelines[camera] = Timeline(self._rows.get(camera, []))
        return tl

    def tallies(self, now_ms: int, cameras: Iterable[str] | None = None) -> dict[str, dict[str, Tally]]:
        """The Tally per window ending at ``now_ms`` of ``cameras`` (default: all): kept between calls while
        they still hold (cctv/rollup/figures.py), else O(log n) per camera."""
        figures = self.figures.figures
        return {cam: figures(cam, now_ms) for cam in (self._rows if cameras is None else cameras)
                if cam in self._rows}

    async def acatch_up(self, now_ms: int, area: str = "") -> None:
        """The figures of every changed camera of ``area`` ("" the city) brought up to date in slices, a turn
        of the event loop between them (a page does this before its sync look-ups: after a city's first
        verdicts, or a reload, every camera changed; the background keeper may not be through yet)."""
        self.sync()
        while not self.figures.catch_up(now_ms, RANK_SLICE, area):
            await asyncio.sleep(0)
            self.sync()

    async def aworst(self, cameras: list[str], now_ms: int, n: int = 10, window: str = "7d") -> list[str]:
        """The ``n`` worst of ``cameras`` over ``window`` (cctv/rollup/tally.py's order), ranked in slices with a
        turn of the event loop between them (a city's page)."""
        keyed = []
        for i in range(0, len(cameras), RANK_SLICE):
            if i:
                await asyncio.sleep(0)
            keyed.extend(self.figures.ranked(cameras[i : i + RANK_SLICE], window, now_ms))
        return [c for _k, c in heapq.nsmallest(n, keyed)]

    def area_tallies(self, area: str, now_ms: int) -> dict[str, Tally]:
        """The sum of the tallies of every camera of ``area`` (a path; "" the city): a look-up, not a sum."""
        return self.figures.area(area, now_ms)

    def _entry(self, cam: str, now_ms: int) -> Entry:
        """The camera's figures at ``now_ms``, how they move with ``now`` and until when (figures.py)."""
        tl = self.timeline(cam)
        basis = self.basis
        end_side = tl.slope_at(now_ms)  # the open row
        until = now_ms + (tl.next_break(now_ms) - now_ms)  # a row dated after now (a clock ahead)
        values: dict[str, Tally] = {}
        slopes: dict[str, tuple[int, int, int, int, int]] = {}
        recent: Tally | None = None
        for w, length in self.windows.items():
            since = now_ms - length
            edge = basis.edges.get(w) if basis is not None and since < basis.recent_ms else None
            if edge is None or basis is None:
                values[w] = tl.tally(since, now_ms, now_ms)
                start_side, nxt = tl.slope_at(since), tl.next_break(since)
            else:
                if recent is None:
                    recent = tl.tally(basis.recent_ms, now_ms, now_ms)
                stop = min(edge.end_ms, basis.recent_ms)
                clipped = min(max(since, edge.day_ms), edge.end_ms)  # past the edge day: reload pending
                etl = edge.timeline(cam)
                t = etl.tally(clipped, stop, now_ms)
                days = edge.sums.get(cam)
                if days is not None:
                    t.add(days)
                values[w] = t.add(recent)
                if since < stop:
                    start_side, nxt = etl.slope_at(since), min(etl.next_break(since), stop)
                else:  # clipped: nothing moves at the start until the basis is loaded again
                    start_side, nxt = (0, 0, 0, 0, 0), float("inf")
            slopes[w] = tuple(a - b for a, b in zip(end_side, start_side, strict=True))  # type: ignore[assignment]
            until = min(until, now_ms + (nxt - since))
        return Entry(now_ms, values, slopes, until)

    def camera_tallies(self, camera: str, now_ms: int) -> dict[str, Tally]:
        return self.tallies(now_ms, [camera]).get(camera) or {w: Tally() for w in self.windows}

    def memo(self, key: Hashable, now_ms: int, ttl_ms: int, compute: Callable[[], T]) -> T:
        """``compute()``, reused for ``ttl_ms`` under ``key`` (charts of hourly buckets need no fresher data)."""
        hit = self.memo_get(key, now_ms, ttl_ms)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        value = compute()
        self.memo_put(key, now_ms, value)
        return value

    def memo_get(self, key: Hashable, now_ms: int, ttl_ms: int) -> Any:
        """What ``memo_put`` kept under ``key`` less than ``ttl_ms`` ago, else None."""
        hit = self._memo.get(key)
        return hit[1] if hit is not None and 0 <= now_ms - hit[0] < ttl_ms else None

    def memo_put(self, key: Hashable, now_ms: int, value: Any) -> None:
        if len(self._memo) >= MEMO_MAX:
            self._memo.clear()
        self._memo[key] = (now_ms, value)
        self._memo_before.pop(key, None)

    async def amemo(self, key: Hashable, now_ms: int, ttl_ms: int, stale_ms: int,
                    compute: Callable[[], Awaitable[T]]) -> T:
        """``await compute()``, reused for ``ttl_ms`` under ``key``; once older, still given for up to
        ``stale_ms`` while a fresh one is computed in the background, so no page waits seconds for a city's
        chart each minute; after a load (midnight, days tallied) what was kept before it is shown the same way
        while the first fresh one is computed (a few seconds; a page then waits for neither)."""
        hit = self._memo.get(key) or self._memo_before.get(key)  # before the last load: stale at best
        age = now_ms - hit[0] if hit is not None else -1
        if hit is not None and key in self._memo and 0 <= age < ttl_ms:
            return hit[1]  # type: ignore[no-any-return]
        if hit is not None and 0 <= age < stale_ms:
            if key not in self._refreshing:
                self._refreshing[key] = asyncio.create_task(self._refresh_memo(key, now_ms, compute),
                                                            name="rollup-memo")
            return hit[1]  # type: ignore[no-any-return]
        value = await compute()
        self.memo_put(key, now_ms, value)
        return value

    async def _refresh_memo(self, key: Hashable, now_ms: int, compute: Callable[[], Awaitable[Any]]) -> None:
        try:
            self.memo_put(key, now_ms, await compute())
        except Exception:  # noqa: BLE001 - the stale value stays; the next call tries again
            log.exception("roll-up model: could not refresh %r", key)
        finally:
            self._refreshing.pop(key, None)

    def episodes(self, camera: str, since_ms: int | None = None) -> list[Episode]:
        """The camera's episodes among its recent rows (those ending after ``since_ms``, or open, when given),
        oldest first."""
        tl = self.timeline(camera)
        return tl.episodes if since_ms is None else tl.episodes_since(since_ms)

    # -- running from the bus --------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._task is not None

    async def start(self, store: Any, bus: Bus, clock: Clock) -> None:
        """Subscribe, load from ``store``, then follow the bus and tally closed days (idempotent; safe to call
        from two tasks)."""
        async with self._lock:
            if self._task is not None:
                return
            self._sub = bus.subscribe(TOPIC_STATUS, maxlen=QUEUE, remote=True)
            self._clock = clock
            self._store = store
            await self._reload()
            self._task = asyncio.create_task(self._follow(), name="rollup-model")
            self._keep_task = asyncio.create_task(self._keep(), name="rollup-keep")
            self._days_task = asyncio.create_task(self._days(), name="rollup-days")

    async def stop(self) -> None:
        task, self._task = self._task, None
        days, self._days_task = self._days_task, None
        warm, self._warm_task = self._warm_task, None
        keep, self._keep_task = self._keep_task, None
        refreshing, self._refreshing = list(self._refreshing.values()), {}
        if self._sub is not None:
            self._sub.close()
        for t in (task, days, warm, keep, *refreshing):
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t

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
        async with self._reloading:  # one at a time: the days task, a bus reconnect and a fall-behind may meet
            await self._reload_now()

    async def _reload_now(self) -> None:
        now = self._clock.now_ms()
        engine: Engine = self._store.engine
        self._meanwhile = []
        try:
            rows, basis = await self._store.aread(load_basis, engine, self.windows, self.calendar, now)
        finally:
            meanwhile, self._meanwhile = self._meanwhile, None
        self.load(rows, basis, again=self.reloads > 0)
        for change in meanwhile:  # applied while the store was read: kept unless the store had it already
            last = self._rows.get(change.camera)
            if last is not None and not any(r.start_ms == change.since_ms and r.state == change.state
                                            for r in last[-3:]):
                self.apply(change)
        self.reloads += 1
        self._hooks()  # the rows just loaded (the bulk) frozen at once, not only after the warm-up (gc)
        if self._warm_task is not None:
            self._warm_task.cancel()
        self._warm_task = asyncio.create_task(self._warm(), name="rollup-warm")

    async def _warm(self) -> None:
        """Compute every camera's figures after a load, a slice at a time between the loop's other work, so
        the first city page after a start does not pay for 30,000 cameras (seconds). After a load of the same
        history again the figures kept are shown meanwhile: then it takes at most ``RENEW_SHARE`` of the loop,
        so pages and sockets are not slowed while it runs (at full speed it doubled a city page's time)."""
        if self.figures.renewing:
            await self._catch_up_sharing(RANK_SLICE, RENEW_SHARE, renew=True)
        else:
            await self._catch_up_sharing(WARM_SLICE, 1.0, renew=True)
        self._hooks()

    async def _catch_up_sharing(self, size: int, share: float, renew: bool = False) -> None:
        """``figures.catch_up`` in slices of ``size``, taking at most ``share`` of the loop's time (1: a turn of
        the loop between slices, no more)."""
        while True:
            t0 = time.perf_counter()
            if self.figures.catch_up(self._clock.now_ms(), size, renew=renew):
                return
            await asyncio.sleep((time.perf_counter() - t0) * (1 - share) / share)

    def _hooks(self) -> None:
        for fn in self.on_warm:
            try:
                fn()
            except Exception:  # noqa: BLE001 - a hook never stops the model
                log.exception("roll-up model: a hook after the load failed")

    async def _keep(self) -> None:
        """Bring the figures of cameras that changed up to date soon after their changes, a slice at a time and
        at most ``KEEP_SHARE`` of the loop's time, so a page does not pay for them: a city's first verdicts, or
        a kecamatan losing power, change thousands of cameras at once, and the first city page after them
        left its web node seconds behind the bus (bench/city.py)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), KEEP_EVERY_S)
            self._changed.clear()
            await self._catch_up_sharing(RANK_SLICE, KEEP_SHARE)

    async def tally_closed_days(self, limit: int | None = None) -> int:
        """Tally the closed days not tallied yet (at most ``limit``), then load the basis again if any were,
        if another node tallied days since it was loaded (its figures would lack them until midnight), or if a
        local midnight passed since. Returns how many days were tallied here."""
        now = self._clock.now_ms()
        loop = asyncio.get_running_loop()
        n = await loop.run_in_executor(None, self.tallier.catch_up, self._store.engine, now, limit)
        basis = self.basis
        if (n or basis is None or self.calendar.floor(now) != self.calendar.floor(basis.at_ms)
                or (self.tallier.seen is not None and self.tallier.seen != basis.days)):
            await self._reload()
        return n

    async def _days(self) -> None:
        """Tally the closed days now and then; load the basis again after each local midnight (and when days
        it lacked were tallied)."""
        while True:
            n = 0
            try:  # a week at a time: a first start on a long history shows its figures filling in
                n = await self.tally_closed_days(BACKFILL)
            except Exception as exc:  # noqa: BLE001 - the figures stay as loaded; tried again later
                self.tallier.last_error = type(exc).__name__
                log.exception("roll-up model: could not tally closed days")
            if n == BACKFILL:
                continue
            now = self._clock.now_ms()
            to_midnight = (self.calendar.next(self.calendar.floor(now)) - now) / 1000 + 1
            every = WAITING_S if self.tallier.waiting else TALLY_EVERY_S  # another node tallies: look soon
            await asyncio.sleep(min(every, max(1.0, to_midnight)))

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


def load_basis(engine: Engine, windows: Mapping[str, int], calendar: Calendar, now_ms: int
               ) -> tuple[list[StatusInterval], Basis]:
    """What :class:`RollupModel` holds at ``now_ms`` (blocking): the recent rows (from the start of yesterday)
    and, for each window reaching before them, its edge day's rows and the sums of the full days after it."""
    recent = calendar.floor(calendar.floor(now_ms) - 1)
    rows = load_rows(engine, recent)
    edges: dict[str, Edge] = {}
    for w, length in windows.items():
        since = now_ms - length
        if since >= recent:
            continue
        day = calendar.floor(since)
        end = calendar.next(day)
        edge_rows: dict[str, list[Row]] = {}
        for r in load_rows(engine, day, until_ms=min(end, recent)):
            edge_rows.setdefault(r.camera, []).append(Row(str(r.state), r.reason, r.start_ms, r.end_ms))
        edges[w] = Edge(day, end, edge_rows, day_sums(engine, end, recent))
    lo = calendar.floor(now_ms - max(windows.values()))
    return rows, Basis(now_ms, recent, edges, frozenset(tallied(engine, lo, now_ms)))


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


def load_rows(engine: Engine, horizon_ms: int, walk_limit: int = 1000, until_ms: int | None = None
              ) -> list[StatusInterval]:
    """The rows the model needs at ``horizon_ms`` (see :func:`keep_from`), read from the store (blocking);
    with ``until_ms``, only those starting at or before it (a day's rows, and the one that ends its last
    outage: whether it was repaired)."""
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
        .where(StatusInterval.start_ms <= until_ms if until_ms is not None else true())
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
