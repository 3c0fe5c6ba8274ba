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

from sqlalchemy import Connection, Engine, and_, bindparam, case, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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
        if ttl_ms <= 0:
            raise ValueError(f"lease ttl must be > 0 ms, got {ttl_ms}")
        out: dict[str, int] = {}
        with self.engine.begin() as conn:
            insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
            for camera in sorted(set(cameras)):
                stmt = insert(_L).values(camera=camera, node=node, token=1, acquired_ms=now_ms,
                                         expires_ms=now_ms + ttl_ms)
                ours = _L.c.node == stmt.excluded.node
                stmt = stmt.on_conflict_do_update(
                    index_elements=["camera"],
                    set_={
                        "node": stmt.excluded.node,
                        "token": case((ours, _L.c.token), else_=_L.c.token + 1),
                        "acquired_ms": case((ours, _L.c.acquired_ms), else_=stmt.excluded.acquired_ms),
                        "expires_ms": stmt.excluded.expires_ms,
                    },
                    where=ours | (_L.c.expires_ms <= now_ms),
                ).returning(_L.c.token)
                token = conn.execute(stmt).scalar_one_or_none()
                if token is not None:
                    out[camera] = int(token)
        return out

    def renew(self, node: str, held: Mapping[str, int], now_ms: int, ttl_ms: int) -> set[str]:
        """Extend the leases ``node`` still holds with the given tokens; the cameras it no longer holds are left
        out of the answer (another node took them: stop reporting them)."""
        return set(self._set_expiry(node, held, now_ms + ttl_ms))

    def release(self, node: str, held: Mapping[str, int], now_ms: int) -> int:
        """Give up leases (a clean handover or stop): they expire now, their token stays. Returns how many."""
        return len(self._set_expiry(node, held, now_ms))

    def _set_expiry(self, node: str, held: Mapping[str, int], expires_ms: int) -> list[str]:
        """Set ``expires_ms`` on the leases ``node`` still holds with the given tokens; those cameras."""
        if not held:
            return []
        stmt = (
            update(_L)
            .where(_L.c.camera == bindparam("b_camera"), _L.c.node == node, _L.c.token == bindparam("b_token"))
            .values(expires_ms=expires_ms)
        )
        with self.engine.begin() as conn:
            return [c for c, t in held.items() if conn.execute(stmt, {"b_camera": c, "b_token": t}).rowcount]

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
