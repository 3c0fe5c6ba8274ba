"""Camera leases in the store: at most one ingest node reports a camera at a time (docs/nodes.md).

A node *acquires* the cameras assignment gives it (streams/ingest/assignment.py): a camera whose lease is free,
released, lost (its node's lease expired) or already the node's. Taking it from another node raises its
fencing ``token`` by one. A node *renews* one row, its own lease (``node_leases``), well within ``ttl``: its
camera leases are live while it is (one row update per node per round, not one per camera). A node that stops
(crash, SIGSTOP, partition) stops renewing, its lease expires, and other nodes take its cameras. Every status
write of a node carries the token it holds (:class:`Fence`) and is checked against the camera's lease row in
the same SQL statement, so a node that wakes up after its lease was taken writes nothing — however late its
writes arrive.

Each call is one transaction; no clock but the caller's ``now_ms`` (the nodes' clocks are compared against the
store's in ``cctv nodes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, exists, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cctv.store.db import transaction
from cctv.store.lease_models import CameraLease, NodeLease

_L = CameraLease.__table__
_N = NodeLease.__table__
CHUNK = 500  # cameras per statement


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
        """Take or keep each of ``cameras`` that is free, released, lost or ``node``'s: camera → the token now
        held. A camera another live node holds is left out."""
        return {c: g.token for c, g in self.take(node, cameras, now_ms, ttl_ms).items()}

    def take(self, node: str, cameras: Iterable[str], now_ms: int, ttl_ms: int) -> dict[str, Grant]:
        """``acquire``, saying for each camera who held it before and until when it was watched (where the
        ``unmonitored`` gap starts for a camera this node takes over). Renews ``node``'s own lease too."""
        if ttl_ms <= 0:
            raise ValueError(f"lease ttl must be > 0 ms, got {ttl_ms}")
        wanted = sorted(set(cameras))
        out: dict[str, Grant] = {}
        if not wanted:
            return out
        with self.engine.begin() as conn:
            lock = conn.dialect.name != "sqlite"  # nobody takes or renews them between this read and the writes
            before: dict[str, Any] = {}
            for i in range(0, len(wanted), CHUNK):
                q = select(_L).where(_L.c.camera.in_(wanted[i : i + CHUNK]))
                before.update({r.camera: r for r in conn.execute(q.with_for_update() if lock else q)})
            q = select(_N).where(_N.c.node.in_(sorted({r.node for r in before.values()} | {node})))
            holders = {r.node: r for r in conn.execute(q.with_for_update() if lock else q)}
            fresh: list[str] = []
            for camera in wanted:
                prev = before.get(camera)
                if prev is None:
                    fresh.append(camera)
                    continue
                holder = holders.get(prev.node)
                released = prev.released_ms is not None
                if prev.node != node and not released and holder is not None and holder.expires_ms > now_ms:
                    continue  # another live node holds it
                # a new token whenever the camera changes hands, and when a node takes back what it released
                # (a restart's recover): rows its earlier holding left on disk are then refused (spool.py)
                token = prev.token if prev.node == node and not released else prev.token + 1
                got = conn.execute(
                    update(_L).where(_L.c.camera == camera, _L.c.token == prev.token)
                    .values(node=node, token=token, released_ms=None, renewed_ms=None,
                            acquired_ms=prev.acquired_ms if prev.node == node else now_ms)
                ).rowcount
                if not got:
                    continue
                if released:
                    watched = prev.renewed_ms if prev.renewed_ms is not None else prev.released_ms
                    handover = prev.renewed_ms is None or prev.renewed_ms >= prev.released_ms
                else:
                    watched = holder.renewed_ms if holder is not None else prev.acquired_ms
                    handover = False
                out[camera] = Grant(int(token), prev.node, min(int(watched), now_ms), released=handover)
            for i in range(0, len(fresh), CHUNK):
                ins = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(_L).values(
                    [{"camera": c, "node": node, "token": 1, "acquired_ms": now_ms} for c in fresh[i : i + CHUNK]])
                for camera in conn.execute(ins.on_conflict_do_nothing().returning(_L.c.camera)).scalars():
                    out[camera] = Grant(1)  # left out: another node inserted it meanwhile
            self._renew_node(conn, node, now_ms, ttl_ms, moved=bool(out), known=node in holders)
        return out

    def renew(self, node: str, held: Mapping[str, int], now_ms: int, ttl_ms: int) -> set[str]:
        """Extend ``node``'s lease (one row); the cameras of ``held`` it still holds with the given tokens (the
        others were taken by another node: stop reporting them)."""
        with self.engine.begin() as conn:
            self._renew_node(conn, node, now_ms, ttl_ms, moved=False)
            if not held:
                return set()
            rows = conn.execute(select(_L.c.camera, _L.c.token).where(_L.c.node == node, _L.c.released_ms.is_(None)))
            mine = {r.camera: r.token for r in rows}
        return {c for c, t in held.items() if mine.get(c) == t}

    def _renew_node(self, conn: Connection, node: str, now_ms: int, ttl_ms: int, *, moved: bool,
                    known: bool | None = None) -> None:
        values: dict[str, int] = {"renewed_ms": now_ms, "expires_ms": now_ms + ttl_ms}
        if moved:
            values["moved_ms"] = now_ms
        if known is not False and conn.execute(update(_N).where(_N.c.node == node).values(**values)).rowcount:
            return
        ins = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(_N).values(
            node=node, renewed_ms=now_ms, expires_ms=now_ms + ttl_ms, moved_ms=now_ms)
        conn.execute(ins.on_conflict_do_update(index_elements=["node"], set_=values))

    def release(self, node: str, held: Mapping[str, int], now_ms: int, conn: Connection | None = None) -> int:
        """Give up leases (a clean handover or stop): released now, their token stays. Returns how many."""
        if not held:
            return 0
        items = sorted(held.items())
        n = 0
        with transaction(self.engine, conn) as conn:
            for i in range(0, len(items), CHUNK):
                n += conn.execute(
                    update(_L).where(_L.c.node == node, _L.c.released_ms.is_(None),
                                     tuple_(_L.c.camera, _L.c.token).in_(items[i : i + CHUNK]))
                    .values(released_ms=now_ms, renewed_ms=now_ms)
                ).rowcount
            if n:
                conn.execute(update(_N).where(_N.c.node == node).values(moved_ms=now_ms))
        return n

    def recover(self, node: str, now_ms: int) -> int:
        """At a node's start: release what an earlier run of it left held (it stopped uncleanly), as watched
        until that run's last renewal — so whoever takes them marks the gap, and a camera this run does not
        want is not kept held by this run's renewals. Returns how many."""
        with self.engine.begin() as conn:
            last = conn.execute(select(_N.c.renewed_ms).where(_N.c.node == node)).scalar_one_or_none()
            n = conn.execute(
                update(_L).where(_L.c.node == node, _L.c.released_ms.is_(None))
                .values(released_ms=now_ms, renewed_ms=min(last if last is not None else now_ms, now_ms))
            ).rowcount
            if n:
                conn.execute(update(_N).where(_N.c.node == node).values(moved_ms=now_ms))
        return n

    def leases(self, now_ms: int | None = None) -> list[Lease]:
        """Every lease (only the live ones at ``now_ms`` when given), by camera: ``expires_ms`` is its node's
        lease's expiry while held, its release once released; ``renewed_ms`` its node's last renewal, or until
        when it was watched."""
        q = select(_L, _N.c.expires_ms.label("node_expires_ms"), _N.c.renewed_ms.label("node_renewed_ms")).join(
            _N, _N.c.node == _L.c.node, isouter=True)
        if now_ms is not None:
            q = q.where(_L.c.released_ms.is_(None), _N.c.expires_ms > now_ms)
        out = []
        with self.engine.connect() as conn:
            for r in conn.execute(q.order_by(_L.c.camera)):
                held = r.released_ms is None
                out.append(Lease(r.camera, r.node, r.token, r.acquired_ms,
                                 (r.node_expires_ms or 0) if held else r.released_ms,
                                 r.node_renewed_ms if held else r.renewed_ms))
        return out

    def held_by(self, nodes: Iterable[str] | None = None) -> dict[str, str]:
        """camera → node of every lease not released (of ``nodes`` when given), whether or not its node's lease
        is live (see ``nodes``)."""
        q = select(_L.c.camera, _L.c.node).where(_L.c.released_ms.is_(None))
        if nodes is not None:
            q = q.where(_L.c.node.in_(sorted(set(nodes))))
        with self.engine.connect() as conn:
            return {r.camera: r.node for r in conn.execute(q)}

    def nodes(self) -> dict[str, tuple[int, int]]:
        """node → (expires_ms, moved_ms) of every node lease: a few rows, read often (web/node_client.py rereads
        the cameras only when a node's ``moved_ms`` changed)."""
        with self.engine.connect() as conn:
            return {r.node: (r.expires_ms, r.moved_ms) for r in conn.execute(select(_N.c.node, _N.c.expires_ms,
                                                                                      _N.c.moved_ms))}

    def expired_of(self, node: str, now_ms: int) -> list[str]:
        """Cameras ``node`` held and lost when its lease expired (a lost node's cameras, for its alert)."""
        q = (select(_L.c.camera).join(_N, _N.c.node == _L.c.node, isouter=True)
             .where(_L.c.node == node, _L.c.released_ms.is_(None),
                    (_N.c.expires_ms.is_(None)) | (_N.c.expires_ms <= now_ms))
             .order_by(_L.c.camera))
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())
