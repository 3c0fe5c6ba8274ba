"""Camera leases in the store: at most one ingest node reports a camera at a time (docs/nodes.md).

A node *acquires* the cameras assignment gives it (streams/ingest/assignment.py): a camera whose lease is free,
expired, or already the node's. Taking it from another node raises its fencing ``token`` by one, in the same
statement. The holder *renews* its leases well within ``ttl``; a node that stops (crash, SIGSTOP, partition)
stops renewing, its leases expire, and another node takes them. Every status write of a node carries the
token it holds (:class:`Fence`) and is checked against the lease row in the same SQL statement, so a node that
wakes up after its lease was taken writes nothing — however late its writes arrive.

Each call is one transaction, run on the store's writer thread (``Store.awrite``); no clock but the caller's
``now_ms`` (the nodes' clocks are compared against the store's in ``cctv nodes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, exists, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cctv.store.db import transaction
from cctv.store.lease_models import CameraLease

_L = CameraLease.__table__


@dataclass(frozen=True, slots=True)
class Fence:
    """What a node's status write must match: the lease row of its camera names this node and token."""

    node: str
    token: int


@dataclass(frozen=True, slots=True)
class Lease:
    camera: str
    node: str
    token: int
    acquired_ms: int
    expires_ms: int
    renewed_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """A lease taken or kept: its token; who held it before (None: nobody ever) and until when that holder
    watched the camera (its last renewal, or its release); ``released``: handed over, not lost."""

    token: int
    from_node: str | None = None
    watched_until_ms: int | None = None
    released: bool = False


@dataclass(frozen=True, slots=True)
class LeaseRelease:
    """On the bus (``lease``), for this node's store writer: give up ``camera``'s lease at ``at_ms``, after the
    rows queued before it (the camera's last verdicts and its ``unmonitored`` mark) are written with it."""

    camera: str
    fence: Fence
    at_ms: int


def holds(conn: Connection, camera: str, fence: Fence, *, lock: bool = False) -> bool:
    """Whether ``fence`` still holds ``camera`` (``lock``: and keep the row locked until the transaction ends,
    on PostgreSQL, so no node takes it in between)."""
    q = select(_L.c.camera).where(_L.c.camera == camera, _L.c.node == fence.node, _L.c.token == fence.token)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first() is not None


def fenced(camera: Any, node: Any, token: Any) -> Any:
    """SQL condition for the WHERE of a write: the lease of ``camera`` names ``node`` and ``token`` (values or
    bind parameters)."""
    return exists().where(_L.c.camera == camera, _L.c.node == node, _L.c.token == token)


class LeaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def acquire(self, node: str, cameras: Iterable[str], now_ms: int, ttl_ms: int) -> dict[str, int]:
        """Take or keep each of ``cameras`` that is free, expired or ``node``'s: camera → the token now held.
        A camera another node holds, unexpired, is left out."""
        return {c: g.token for c, g in self.take(node, cameras, now_ms, ttl_ms).items()}

    def take(self, node: str, cameras: Iterable[str], now_ms: int, ttl_ms: int) -> dict[str, Grant]:
        """``acquire``, saying for each camera who held it before and until when it was watched (where the
        ``unmonitored`` gap starts for a camera this node takes over)."""
        if ttl_ms <= 0:
            raise ValueError(f"lease ttl must be > 0 ms, got {ttl_ms}")
        wanted = sorted(set(cameras))
        out: dict[str, Grant] = {}
        if not wanted:
            return out
        with self.engine.begin() as conn:
            q = select(_L).where(_L.c.camera.in_(wanted))
            if conn.dialect.name != "sqlite":
                q = q.with_for_update()  # nobody takes them between this read and the upsert
            before = {r.camera: r for r in conn.execute(q)}
            insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
            for camera in wanted:
                stmt = insert(_L).values(camera=camera, node=node, token=1, acquired_ms=now_ms,
                                         expires_ms=now_ms + ttl_ms, renewed_ms=now_ms)
                ours = _L.c.node == stmt.excluded.node
                stmt = stmt.on_conflict_do_update(
                    index_elements=["camera"],
                    set_={
                        "node": stmt.excluded.node,
                        "token": case((ours, _L.c.token), else_=_L.c.token + 1),
                        "acquired_ms": case((ours, _L.c.acquired_ms), else_=stmt.excluded.acquired_ms),
                        "expires_ms": stmt.excluded.expires_ms,
                        "renewed_ms": stmt.excluded.renewed_ms,
                    },
                    where=ours | (_L.c.expires_ms <= now_ms),
                ).returning(_L.c.token)
                token = conn.execute(stmt).scalar_one_or_none()
                if token is None:
                    continue
                prev = before.get(camera)
                if prev is None:
                    out[camera] = Grant(int(token))
                else:
                    watched = prev.renewed_ms if prev.renewed_ms is not None else prev.expires_ms - ttl_ms
                    out[camera] = Grant(int(token), prev.node, min(int(watched), now_ms),
                                        released=prev.expires_ms <= (prev.renewed_ms or -1))
        return out

    def renew(self, node: str, held: Mapping[str, int], now_ms: int, ttl_ms: int) -> set[str]:
        """Extend the leases ``node`` still holds with the given tokens; the cameras it no longer holds are left
        out of the answer (another node took them: stop reporting them)."""
        return set(self._set_expiry(node, held, now_ms + ttl_ms, now_ms))

    def release(self, node: str, held: Mapping[str, int], now_ms: int, conn: Connection | None = None) -> int:
        """Give up leases (a clean handover or stop): they expire now, their token stays. Returns how many."""
        return len(self._set_expiry(node, held, now_ms, now_ms, conn))

    def _set_expiry(self, node: str, held: Mapping[str, int], expires_ms: int, now_ms: int,
                    conn: Connection | None = None) -> list[str]:
        """Set ``expires_ms`` (and ``renewed_ms`` to now) on the leases ``node`` still holds with the given
        tokens; those cameras."""
        if not held:
            return []
        out: list[str] = []
        items = sorted(held.items())
        with transaction(self.engine, conn) as conn:
            for i in range(0, len(items), 500):  # one statement per 500 leases, not one per camera
                stmt = (
                    update(_L)
                    .where(_L.c.node == node, tuple_(_L.c.camera, _L.c.token).in_(items[i : i + 500]))
                    .values(expires_ms=expires_ms, renewed_ms=now_ms)
                    .returning(_L.c.camera)
                )
                out.extend(conn.execute(stmt).scalars())
        return out

    def leases(self, now_ms: int | None = None) -> list[Lease]:
        """Every lease (only the unexpired ones at ``now_ms`` when given), by camera."""
        q = select(_L)
        if now_ms is not None:
            q = q.where(_L.c.expires_ms > now_ms)
        with self.engine.connect() as conn:
            return [Lease(**r._mapping) for r in conn.execute(q.order_by(_L.c.camera))]

    def expired_of(self, node: str, now_ms: int) -> list[str]:
        """Cameras whose lease ``node`` held and let expire (a lost node's cameras, for its alert)."""
        q = select(_L.c.camera).where(and_(_L.c.node == node, _L.c.expires_ms <= now_ms)).order_by(_L.c.camera)
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())
