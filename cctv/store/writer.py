"""Bus → store: status intervals, motion events and segment rows, in order, batched into transactions.

The writer's subscription carries only never-dropped topics (``status``, ``motion``, ``segment``), so no change
is lost between the monitor (or an ingest process's recorder) and the store. What is queued is taken at once
and written on the store's one writer thread in transactions of at most ``batch_max`` rows: at a burst of
changes (a switch that took down a kelurahan) that is one commit, not hundreds. A batch that fails is written
again row by row, so one bad row costs only itself (counted in ``errors``, logged with its traceback).

When the store itself is away (PostgreSQL restarting or unreachable, SQLite locked), nothing is dropped: the
batch waits and is tried again with backoff (``outages``, ``waiting`` on ``/healthz``) while ingest goes on and
new rows queue behind it. With a spool (cctv/store/spool.py: an ingest node's data directory), more than
``MEMORY_ROWS`` waiting rows, or a stop with the store still away, go to disk, oldest first, and every row after
them too until the store has taken the files back in order (``spooled`` on ``/healthz``); a restart replays
them first. Without a spool, only at shutdown, after ``STOP_WAIT_S`` more of trying, are rows given up —
counted in ``lost`` and logged, never silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cctv.redact import redact_text
from cctv.status.bus import Bus
from cctv.status.messages import (
    TOPIC_LEASE,
    TOPIC_MOTION,
    TOPIC_SEGMENT,
    TOPIC_STATUS,
    MotionChange,
    State,
    StatusChange,
)
from cctv.store.leases import Fence, LeaseRelease, LeaseStore
from cctv.store.models import MotionEvent, StatusInterval
from cctv.store.segment_models import SegmentRow
from cctv.store.segments import NewSegment, add_segment
from cctv.store.spool import MEMORY_ROWS, Spool, Spooled
from cctv.store.store import Store

log = logging.getLogger(__name__)

BATCH_MAX = 500
BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
STOP_WAIT_S = 10.0
_NOW = object()  # _apply: the fence this node holds now (not one recorded in the spool)
WRITTEN, SPILLED, GAVE_UP = "written", "spilled", "gave up"


class StoreAway(Exception):
    """The store cannot be reached (not a bad row): try the whole batch again later."""


def store_away(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class StoreWriter:
    """``fences``: an ingest node among many — the lease this node holds for a camera (None: it holds none).
    Status and motion rows of a camera it does not hold are not written (``not_held``); a status write whose
    lease was taken meanwhile writes nothing (``fenced_out``, checked in the statement itself). Its
    ``LeaseRelease`` messages are applied in order after the camera's last rows; ``on_released`` (on the event
    loop) hears of each once committed."""

    def __init__(self, store: Store, bus: Bus, batch_max: int = BATCH_MAX, *,
                 fences: Callable[[str], Fence | None] | None = None,
                 on_released: Callable[[str], object] | None = None, spool: Spool | None = None) -> None:
        self.store = store
        self.spool = spool
        self.batch_max = batch_max
        self.fences = fences
        self.on_released = on_released
        self.leases = LeaseStore(store.engine)
        topics = (TOPIC_STATUS, TOPIC_MOTION, TOPIC_SEGMENT) + ((TOPIC_LEASE,) if fences is not None else ())
        self.sub = bus.subscribe(*topics, maxlen=1)  # keep topics only
        self._open_motion: dict[str, int] = {}  # camera -> id of its open motion event (writer thread only)
        self.written = 0
        self.errors = 0
        self.batches = 0
        self.outages = 0  # times the store was away while rows waited
        self.waiting = 0  # rows waiting for the store now
        self.lost = 0  # rows given up at shutdown because the store never came back
        self.not_held = 0  # rows of a camera this node holds no lease for (taken, or released): not written
        self.fenced_out = 0  # status writes refused by the store: another node took the lease meanwhile
        self.released = 0
        self.spool_skipped = 0  # spooled rows not written: a status row of an earlier run without a lease
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def dropped(self) -> int:
        return self.sub.dropped  # stays 0: every topic it takes is never dropped

    @property
    def queued(self) -> int:
        return self.sub.channel.keep_queued

    @property
    def spooled(self) -> int:
        """Rows waiting on disk for the store."""
        return self.spool.rows if self.spool is not None else 0

    async def run(self) -> None:
        try:
            if self.spool is not None and self.spool.files():  # an earlier run's rows go first
                log.warning("store writer: %d rows spooled while the store was away; writing them first",
                            self.spool.rows)
                await self._replay()
            while batch := await self.sub.get_batch():
                await self._write(batch)
        finally:
            self.sub.close()

    async def drain(self) -> None:
        """Write what is queued now (tests; shutdown goes through ``finish`` and ``run``)."""
        await self._write(self.sub.take())

    def finish(self) -> None:
        """Take no new messages; ``run()`` writes what is queued and returns (never cancel it mid-write)."""
        self._stopping = True
        self.sub.close()

    async def _write(self, items: list[tuple[str, Any]]) -> None:
        self._loop = asyncio.get_running_loop()  # where on_released is called
        messages = [m for _, m in items]
        if self.spool is not None and self.spool.files():  # rows wait on disk: these go after them
            await self._spill(messages)
            if not self._stopping:
                await self._replay()
            return
        for i in range(0, len(messages), self.batch_max):
            batch, rest = messages[i : i + self.batch_max], messages[i + self.batch_max :]
            outcome = await self._write_waiting(batch, rest)
            if outcome == SPILLED and not self._stopping:
                await self._replay()
            if outcome != WRITTEN:
                return

    async def _write_waiting(self, batch: list[Any], rest: list[Any]) -> str:
        """Write ``batch``, waiting for the store while it is away. With a spool, when too many rows wait (or
        at a stop), ``batch``, ``rest`` and what is queued go to disk instead (SPILLED); without one, at a stop
        it gives up (GAVE_UP: those rows counted as lost)."""
        loop = asyncio.get_running_loop()
        attempt, give_up_at = 0, None
        left = len(batch) + len(rest)
        while True:
            try:
                await self.store.awrite(self._write_batch, batch)
            except StoreAway as exc:
                if attempt == 0:
                    self.outages += 1
                    log.error("store writer: the store is away (%s); %d rows wait and ingest goes on", exc, left)
                self.waiting = left + self.queued
                if self.spool is not None and (self._stopping or self.waiting > MEMORY_ROWS):
                    await self._spill(batch + rest + [m for _, m in self.sub.take()])
                    self.waiting = 0
                    return SPILLED
                if self._stopping:
                    give_up_at = give_up_at or loop.time() + STOP_WAIT_S
                    if loop.time() >= give_up_at:
                        self.lost += left
                        self.waiting = 0
                        log.error("store writer: stopping with the store still away: %d rows lost", left)
                        return GAVE_UP
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            if attempt:
                log.warning("store writer: the store is back after %d tries; writing what waited", attempt)
            self.waiting = 0
            return WRITTEN

    async def _spill(self, messages: list[Any]) -> None:
        """Put ``messages`` on disk after what is there, each with the fence it is observed under now."""
        if not messages:
            return
        assert self.spool is not None
        rows = [(m, self._fence_now(m)) for m in messages]
        await asyncio.get_running_loop().run_in_executor(None, self.spool.write, rows)
        log.warning("store writer: %d rows put on disk for the store (%d there now)", len(rows), self.spool.rows)

    def _fence_now(self, m: Any) -> Fence | None:
        if isinstance(m, LeaseRelease):
            return m.fence
        if self.fences is not None and isinstance(m, (StatusChange, MotionChange)):
            return self.fences(m.camera)
        return None

    async def _replay(self) -> None:
        """Write the spooled files back, oldest first, waiting for the store while it is away (what arrives
        meanwhile goes to disk after them once too much waits); returns at a stop with the files kept."""
        assert self.spool is not None
        loop = asyncio.get_running_loop()
        attempt = 0
        while files := self.spool.files():
            path = files[0]
            rows = await loop.run_in_executor(None, self.spool.read, path)
            total = len(rows)
            while rows:
                chunk = rows[: self.batch_max]
                try:
                    await self.store.awrite(self._write_spooled, chunk)
                except StoreAway as exc:
                    if attempt == 0:
                        self.outages += 1
                        log.error("store writer: the store is away (%s); %d rows wait on disk", exc,
                                  self.spool.rows)
                    if len(rows) < total:  # what is written is not written twice after a restart
                        await loop.run_in_executor(None, self.spool.rewrite, path, rows, total - len(rows))
                        total = len(rows)
                    if self._stopping:
                        return
                    if self.queued > MEMORY_ROWS:
                        await self._spill([m for _, m in self.sub.take()])
                    await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                    attempt += 1
                    continue
                if attempt:
                    log.warning("store writer: the store is back; writing the rows that waited on disk")
                    attempt = 0
                rows = rows[self.batch_max :]
            await loop.run_in_executor(None, self.spool.done, path, total)

    # -- on the writer thread ----------------------------------------------------------------------

    def _write_spooled(self, rows: list[Spooled]) -> None:
        todo: list[tuple[Any, Any]] = []
        for r in rows:
            if r.earlier_run and self.fences is None and isinstance(r.message, StatusChange):
                self.spool_skipped += 1  # one node, restarted since: its shutdown closed those intervals
                continue
            todo.append((r.message, r.fence if self.fences is not None else _NOW))
        self._write_rows(todo, replayed=True)

    def _write_batch(self, messages: list[Any]) -> None:
        self._write_rows([(m, _NOW) for m in messages])

    def _write_rows(self, messages: list[tuple[Any, Any]], replayed: bool = False) -> None:
        """(row, fence: _NOW for the lease held now, else the one it was observed under) in one transaction;
        ``replayed``: from the spool (a segment indexed meanwhile is not added twice)."""
        opened: dict[str, int | None] = {}
        released: list[str] = []
        try:
            with self.store.engine.begin() as conn:
                for m in messages:
                    self._apply(conn, m, opened, released, replayed)
        except Exception as exc:  # noqa: BLE001 - one by one, so a bad row costs only itself
            if store_away(exc):
                first = (str(exc).splitlines() or [""])[0][:200]
                raise StoreAway(f"{type(exc).__name__}: {redact_text(first)}") from None
            log.warning("store writer: a batch of %d failed; writing its rows one by one", len(messages),
                        exc_info=True)
            for m in messages:
                one: dict[str, int | None] = {}
                gone: list[str] = []
                try:
                    with self.store.engine.begin() as conn:
                        self._apply(conn, m, one, gone, replayed)
                except Exception:  # noqa: BLE001 - counted and visible on /healthz; the writer goes on
                    self.errors += 1
                    log.exception("store writer: could not write %s", type(m[0]).__name__)
                    continue
                self._commit_motion(one)
                self._commit_released(gone)
                self.written += 1
            return
        self._commit_motion(opened)
        self._commit_released(released)
        self.written += len(messages)
        self.batches += 1

    def _apply(self, conn: Connection, row: tuple[Any, Any], opened: dict[str, int | None], released: list[str],
               replayed: bool = False) -> None:
        m, recorded = row
        if isinstance(m, NewSegment):
            if replayed and conn.execute(select(SegmentRow.id).where(SegmentRow.path == m.path)).first():
                return  # indexed meanwhile (start-up reconciliation found its file)
            add_segment(self.store, m, conn)  # never fenced: footage is kept whoever recorded it
            return
        fence = None
        if self.fences is not None and isinstance(m, (StatusChange, MotionChange, LeaseRelease)):
            if isinstance(m, LeaseRelease):
                fence = m.fence
            else:
                fence = self.fences(m.camera) if recorded is _NOW else recorded
            if fence is None:
                self.not_held += 1
                return
        if isinstance(m, StatusChange):
            if m.state == State.UNMONITORED:
                m = self._after_open(conn, m)
            if not self.store.apply_status_change(m, conn, fence):
                if fence is not None:
                    self.fenced_out += 1
                return
            if m.state == State.UNMONITORED:  # nobody watches it now: motion seen by the last holder is over
                conn.execute(update(MotionEvent).where(MotionEvent.camera == m.camera, MotionEvent.end_ms.is_(None))
                             .values(end_ms=func.max(MotionEvent.start_ms, m.since_ms)
                                     if conn.dialect.name == "sqlite"
                                     else func.greatest(MotionEvent.start_ms, m.since_ms)))
                opened[m.camera] = None
        elif isinstance(m, LeaseRelease):
            assert fence is not None
            if self.leases.release(fence.node, {m.camera: fence.token}, m.at_ms, conn):
                released.append(m.camera)
        elif isinstance(m, MotionChange):
            current = opened[m.camera] if m.camera in opened else self._open_motion.get(m.camera)
            if m.motion:
                if current is None:
                    opened[m.camera] = self.store.start_motion_event(m.camera, m.t_ms, m.score, conn)
            elif current is not None:
                self.store.end_motion_event(current, m.t_ms, m.score, conn)
                opened[m.camera] = None

    @staticmethod
    def _after_open(conn: Connection, m: StatusChange) -> StatusChange:
        """An ``unmonitored`` mark dated from a lease's last renewal may lie before the verdict the lost node
        wrote after that renewal: the gap then starts where that verdict's interval starts (intervals never
        overlap)."""
        start = conn.execute(select(StatusInterval.start_ms).where(
            StatusInterval.camera == m.camera, StatusInterval.end_ms.is_(None))).scalar()
        return replace(m, since_ms=start) if start is not None and start > m.since_ms else m

    def _commit_released(self, cameras: list[str]) -> None:
        self.released += len(cameras)
        if cameras and self.on_released is not None and self._loop is not None:
            for cam in cameras:
                self._loop.call_soon_threadsafe(self.on_released, cam)

    def _commit_motion(self, opened: dict[str, int | None]) -> None:
        for camera, event_id in opened.items():
            if event_id is None:
                self._open_motion.pop(camera, None)
            else:
                self._open_motion[camera] = event_id
