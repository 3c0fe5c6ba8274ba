"""Bus → store: status intervals, motion events and segment rows, in order, batched into transactions.

The writer's subscription carries only never-dropped topics (``status``, ``motion``, ``segment``), so no change
is lost between the monitor (or an ingest process's recorder) and the store. What is queued is taken at once
and written on the store's one writer thread in transactions of at most ``batch_max`` rows: at a burst of
changes (a switch that took down a kelurahan) that is one commit, not hundreds. A batch that fails is written
again row by row, so one bad row costs only itself (counted in ``errors``, logged with its traceback).

When the store itself is away (PostgreSQL restarting or unreachable, SQLite locked), nothing is dropped: the
batch waits and is tried again with backoff (``outages``, ``waiting`` on ``/healthz``) while ingest goes on and
new rows queue behind it. Only at shutdown, after ``STOP_WAIT_S`` more of trying, are rows given up — counted in
``lost`` and logged, never silently.
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
from cctv.store.segments import NewSegment, add_segment
from cctv.store.store import Store

log = logging.getLogger(__name__)

BATCH_MAX = 500
BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
STOP_WAIT_S = 10.0


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
                 on_released: Callable[[str], object] | None = None) -> None:
        self.store = store
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
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def dropped(self) -> int:
        return self.sub.dropped  # stays 0: every topic it takes is never dropped

    @property
    def queued(self) -> int:
        return self.sub.channel.keep_queued

    async def run(self) -> None:
        try:
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
        for i in range(0, len(items), self.batch_max):
            batch = [m for _, m in items[i : i + self.batch_max]]
            if not await self._write_waiting(batch, len(items) - i):
                return

    async def _write_waiting(self, batch: list[Any], left: int) -> bool:
        """Write ``batch``, waiting for the store while it is away; False when it gave up at shutdown (``left``
        rows, this batch and the ones after it, counted as lost)."""
        loop = asyncio.get_running_loop()
        attempt, give_up_at = 0, None
        while True:
            try:
                await self.store.awrite(self._write_batch, batch)
            except StoreAway as exc:
                if attempt == 0:
                    self.outages += 1
                    log.error("store writer: the store is away (%s); %d rows wait and ingest goes on", exc, left)
                self.waiting = left + self.queued
                if self._stopping:
                    give_up_at = give_up_at or loop.time() + STOP_WAIT_S
                    if loop.time() >= give_up_at:
                        self.lost += left
                        self.waiting = 0
                        log.error("store writer: stopping with the store still away: %d rows lost", left)
                        return False
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            if attempt:
                log.warning("store writer: the store is back after %d tries; writing what waited", attempt)
            self.waiting = 0
            return True

    # -- on the writer thread ----------------------------------------------------------------------

    def _write_batch(self, messages: list[Any]) -> None:
        opened: dict[str, int | None] = {}
        released: list[str] = []
        try:
            with self.store.engine.begin() as conn:
                for m in messages:
                    self._apply(conn, m, opened, released)
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
                        self._apply(conn, m, one, gone)
                except Exception:  # noqa: BLE001 - counted and visible on /healthz; the writer goes on
                    self.errors += 1
                    log.exception("store writer: could not write %s", type(m).__name__)
                    continue
                self._commit_motion(one)
                self._commit_released(gone)
                self.written += 1
            return
        self._commit_motion(opened)
        self._commit_released(released)
        self.written += len(messages)
        self.batches += 1

    def _apply(self, conn: Connection, m: Any, opened: dict[str, int | None], released: list[str]) -> None:
        if isinstance(m, NewSegment):
            add_segment(self.store, m, conn)  # never fenced: footage is kept whoever recorded it
            return
        fence = None
        if self.fences is not None and isinstance(m, (StatusChange, MotionChange, LeaseRelease)):
            fence = m.fence if isinstance(m, LeaseRelease) else self.fences(m.camera)
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
