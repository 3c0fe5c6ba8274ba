"""The store: one writer thread, concurrent readers.

Synchronous methods do the work; the ``a*`` coroutines run them off the event loop — writes on the single
writer thread (so writes never contend and keep their order), reads on a small pool. ``close()`` drains
pending writes and is idempotent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cctv.status.messages import StatusChange
from cctv.store.db import make_engine, migrate, transaction
from cctv.store.leases import Fence, holds
from cctv.store.leases import fenced as fenced_by
from cctv.store.models import MotionEvent, NodeHeartbeat, StatusInterval

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Interval:
    camera: str
    state: str
    reason: str
    start_ms: int
    end_ms: int | None


_OPEN_INTERVALS = select(
    StatusInterval.camera,
    StatusInterval.state,
    StatusInterval.reason,
    StatusInterval.start_ms,
    StatusInterval.end_ms,
).where(StatusInterval.end_ms.is_(None))


class Store:
    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="store-reader")
        self._closed = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------

    def migrate(self) -> None:
        migrate(self.engine)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()

    # -- async wrappers ----------------------------------------------------------------------------

    async def awrite(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(*args, **kwargs))

    def submit_write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """From any thread: queue ``fn`` on the writer thread without waiting (order of submission kept)."""
        return self._writer.submit(fn, *args, **kwargs)

    async def aread(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(*args, **kwargs))

    # -- writes (call on the writer thread through awrite, or directly from a CLI) ----------------

    def apply_status_change(self, change: StatusChange, conn: Connection | None = None,
                            fence: Fence | None = None) -> bool:
        """Close the camera's open interval at ``since_ms`` and open the new one, in one transaction (``conn``'s,
        when given: the store writer batches many changes into one).

        With ``fence`` (a node of many, cctv/store/leases.py): only while that node holds the camera's lease with
        that token — the lease row is locked first and each statement checks it again — else nothing is written
        and the answer is False."""
        with transaction(self.engine, conn) as conn:
            row = {"b_camera": change.camera, "b_since": change.since_ms, "b_state": str(change.state),
                   "b_reason": change.reason}
            if fence is None:
                close, open_ = _status_statements(conn.dialect.name, False)
            else:
                if not holds(conn, change.camera, fence, lock=True):
                    return False
                close, open_ = _status_statements(conn.dialect.name, True)
                row |= {"b_node": fence.node, "b_token": fence.token}
            conn.execute(close, row)
            return bool(conn.execute(open_, row).rowcount)

    def close_open_intervals(self, end_ms: int, cameras: Sequence[str] | None = None) -> int:
        """Close open status intervals and motion events at ``end_ms`` (shutdown, or recovery after a crash).

        Only ``cameras`` when given (a node closes what it owns). Returns the number of status intervals closed.
        """
        closed = 0
        with self.engine.begin() as conn:
            for model in (StatusInterval, MotionEvent):
                stmt = update(model).where(model.end_ms.is_(None))
                if cameras is not None:
                    stmt = stmt.where(model.camera.in_(list(cameras)))
                # a row that (oddly) starts after end_ms is closed where it starts, never before
                n1 = conn.execute(stmt.where(model.start_ms > end_ms).values(end_ms=model.start_ms)).rowcount
                n2 = conn.execute(stmt.where(model.start_ms <= end_ms).values(end_ms=end_ms)).rowcount
                if model is StatusInterval:
                    closed = (n1 or 0) + (n2 or 0)
        return closed

    def recover_after_crash(self, now_ms: int, cameras: Sequence[str] | None = None) -> int:
        """Close what a previous run left open, at that run's last heartbeat (never later than now).

        Scoped to ``cameras`` (this node's) so that a node starting beside live ones never closes theirs.
        """
        open_q = select(func.min(StatusInterval.start_ms)).where(StatusInterval.end_ms.is_(None))
        if cameras is not None:
            open_q = open_q.where(StatusInterval.camera.in_(list(cameras)))
        with self.engine.connect() as conn:
            last = conn.execute(
                select(func.max(NodeHeartbeat.last_ms)).where(NodeHeartbeat.last_ms <= now_ms)
            ).scalar()
            oldest_open = conn.execute(open_q).scalar()
        if oldest_open is None:
            return 0
        end = last if last is not None else oldest_open
        n = self.close_open_intervals(end, cameras)
        if n:
            log.warning("closed %d status intervals left open by an earlier run, at %d ms", n, end)
        return n

    def heartbeat(self, node_id: str, started_ms: int, now_ms: int) -> None:
        table = NodeHeartbeat.__table__
        values = {"node_id": node_id, "started_ms": started_ms, "last_ms": now_ms}
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                stmt = sqlite_insert(table).values(**values)
            else:
                stmt = pg_insert(table).values(**values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["node_id"], set_={"last_ms": now_ms, "started_ms": started_ms}
                )
            )

    def start_motion_event(self, camera: str, start_ms: int, score: float, conn: Connection | None = None) -> int:
        with transaction(self.engine, conn) as conn:
            res = conn.execute(
                MotionEvent.__table__.insert()
                .values(camera=camera, start_ms=start_ms, end_ms=None, peak_score=score)
                .returning(MotionEvent.id)
            )
            return int(res.scalar_one())

    def end_motion_event(self, event_id: int, end_ms: int, peak_score: float,
                         conn: Connection | None = None) -> None:
        with transaction(self.engine, conn) as conn:
            conn.execute(
                update(MotionEvent)
                .where(MotionEvent.id == event_id)
                .values(end_ms=end_ms, peak_score=peak_score)
            )

    def delete_camera_history(self, camera: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(StatusInterval).where(StatusInterval.camera == camera))
            conn.execute(delete(MotionEvent).where(MotionEvent.camera == camera))

    # -- reads -------------------------------------------------------------------------------------

    def intervals(
        self,
        camera: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Interval]:
        """Intervals overlapping [since_ms, until_ms), ordered by camera then start."""
        q = select(
            StatusInterval.camera,
            StatusInterval.state,
            StatusInterval.reason,
            StatusInterval.start_ms,
            StatusInterval.end_ms,
        )
        if camera is not None:
            q = q.where(StatusInterval.camera == camera)
        if since_ms is not None:
            q = q.where(or_(StatusInterval.end_ms.is_(None), StatusInterval.end_ms > since_ms))
        if until_ms is not None:
            q = q.where(StatusInterval.start_ms < until_ms)
        q = q.order_by(StatusInterval.camera, StatusInterval.start_ms, StatusInterval.id)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [Interval(*row) for row in conn.execute(q)]

    def open_intervals(self) -> dict[str, Interval]:
        with self.engine.connect() as conn:
            return {row[0]: Interval(*row) for row in conn.execute(_OPEN_INTERVALS)}

    def live_state(self) -> tuple[list[Interval], list[str]]:
        """What a live model starts from: every open status interval, and the cameras with an open motion
        event (read on one connection, so the two agree)."""
        with self.engine.connect() as conn:
            intervals = [Interval(*row) for row in conn.execute(_OPEN_INTERVALS)]
            motion = [r[0] for r in conn.execute(select(MotionEvent.camera).where(MotionEvent.end_ms.is_(None)))]
        return intervals, motion

    def motion_events(self, camera: str, since_ms: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(MotionEvent.start_ms, MotionEvent.end_ms, MotionEvent.peak_score).where(
            MotionEvent.camera == camera
        )
        if since_ms is not None:
            q = q.where(or_(MotionEvent.end_ms.is_(None), MotionEvent.end_ms > since_ms))
        q = q.order_by(MotionEvent.start_ms.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(q)]

    def availability(self, camera: str, since_ms: int, until_ms: int) -> dict[str, int]:
        """Milliseconds per state for ``camera`` within [since_ms, until_ms) (open intervals end at until)."""
        end = func.coalesce(StatusInterval.end_ms, until_ms)
        dialect = self.engine.dialect.name
        lo = _greatest(dialect, StatusInterval.start_ms, since_ms)
        hi = _least(dialect, end, until_ms)
        q = (
            select(StatusInterval.state, func.sum(hi - lo))
            .where(
                StatusInterval.camera == camera,
                and_(StatusInterval.start_ms < until_ms, or_(StatusInterval.end_ms.is_(None),
                                                               StatusInterval.end_ms > since_ms)),
            )
            .group_by(StatusInterval.state)
        )
        with self.engine.connect() as conn:
            return {state: int(ms or 0) for state, ms in conn.execute(q)}


@functools.cache
def _status_statements(dialect: str, fenced: bool) -> tuple[Any, Any]:
    """Close a camera's open interval at ``b_since`` (never before its start), and open the next — with
    ``fenced``, each only while the lease of the camera is ``(b_node, b_token)``'s. Built once per dialect, so the
    writer thread does not rebuild and re-key two statements per change."""
    t = StatusInterval.__table__
    camera = bindparam("b_camera", type_=String)
    lease = fenced_by(camera, bindparam("b_node", type_=String), bindparam("b_token", type_=BigInteger))
    where = [lease] if fenced else []
    close = (
        update(t)
        .where(t.c.camera == camera, t.c.end_ms.is_(None), *where)
        .values(end_ms=_greatest(dialect, t.c.start_ms, bindparam("b_since")))
    )
    new = select(camera, bindparam("b_state", type_=String), bindparam("b_reason", type_=String),
                 bindparam("b_since", type_=BigInteger), null())
    open_ = insert(t).from_select(["camera", "state", "reason", "start_ms", "end_ms"],
                                  new.where(*where) if where else new)
    return close, open_


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    """Scalar max of two values: SQLite's two-argument max(), elsewhere GREATEST."""
    return func.max(a, b) if dialect == "sqlite" else func.greatest(a, b)


def _least(dialect: str, a: Any, b: Any) -> Any:
    return func.min(a, b) if dialect == "sqlite" else func.least(a, b)
