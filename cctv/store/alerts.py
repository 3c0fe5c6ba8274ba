"""Alerts in the store, every kind (cctv/alerts/model.py): written from the tracker's events, listed by scope,
acknowledged once.

Who sees an alert is decided by its cameras in ``alert_cameras`` (a camera alert: its own camera): a scope or
area filter is an EXISTS over that table, so it stays in SQL however many alerts there are. Writes run on the
store's one writer thread (``Store.awrite``); reads anywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from cctv.alerts.model import KINDS, NODE_LOST, Alert, AlertEvent, node_alert
from cctv.store.alert_models import AlertCameraRow, AlertRow
from cctv.store.db import transaction

# what the tracker changes after the alert opened (the rest identifies it, or is the acknowledgement)
_DETAIL = (
    "recovered_ms", "closed_ms", "state", "reason", "worst_state", "changes", "last_change_ms",
    "last_seen_ms", "affected_now", "free_bytes", "total_bytes",
)
_COLS = (AlertRow.id, AlertRow.kind, AlertRow.subject, AlertRow.opened_ms, AlertRow.acked_by, AlertRow.acked_ms,
         *(getattr(AlertRow, name) for name in _DETAIL if name != "affected_now"))  # that one: the flags


# built once: the writer thread runs these for every alert event
_A, _C = AlertRow.__table__, AlertCameraRow.__table__
_INSERT_ALERT = insert(_A).returning(_A.c.id)
_UPDATE_ALERT = (
    update(_A)
    .where(_A.c.kind == bindparam("b_kind"), _A.c.subject == bindparam("b_subject"),
           _A.c.opened_ms == bindparam("b_opened_ms"))
    .values({name: bindparam(name) for name in _DETAIL})
    .returning(_A.c.id)
)
_ALERT_CAMERAS = select(_C.c.camera, _C.c.now).where(_C.c.alert_id == bindparam("b_alert"))
_INSERT_CAMERA = insert(_C)
_SET_NOW = (update(_C).where(_C.c.alert_id == bindparam("b_alert"), _C.c.camera == bindparam("b_camera"))
            .values(now=bindparam("now")))


def _like_escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _under(paths: Sequence[str]) -> Any:
    cam = AlertCameraRow.camera
    return or_(*(or_(cam == p, cam.like(_like_escape(p) + "/%", escape="\\")) for p in paths))


def within(paths: Sequence[str], area: str | None = None) -> Any:
    """SQL condition: the alert touched a camera within one of ``paths`` ("" is the city: every alert, even one
    without cameras) and, if given, within ``area`` (the same camera: an area narrows, never widens)."""
    if not paths:
        return false()
    scope = [] if "" in paths else [_under(paths)]
    if area:
        scope.append(_under([area]))
    if not scope:
        return true()
    return exists().where(AlertCameraRow.alert_id == AlertRow.id, *scope)


class AlertStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes (on the writer thread) -----------------------------------------------------------------

    def write_many(self, events: Sequence[AlertEvent]) -> list[int | None]:
        """Apply tracker events in order, in one transaction; the row id of each "open" (else None)."""
        with self.engine.begin() as conn:
            return [self.write(ev, conn) for ev in events]

    def write(self, event: AlertEvent, conn: Connection | None = None) -> int | None:
        """Apply one tracker event (in ``conn``'s transaction when given); returns the row id for "open".
        Cameras are only ever added."""
        a = event.alert
        detail = {name: getattr(a, name) for name in _DETAIL}
        with transaction(self.engine, conn) as conn:
            if event.kind == "open":
                row = {"kind": a.kind, "subject": a.subject, "opened_ms": a.opened_ms, **detail}
                alert_id = int(conn.execute(_INSERT_ALERT, row).scalar_one())
                _add_cameras(conn, alert_id, a.cameras, a.cameras_now)
                return alert_id
            key = {"b_kind": a.kind, "b_subject": a.subject, "b_opened_ms": a.opened_ms}
            found = conn.execute(_UPDATE_ALERT, key | detail).scalar_one_or_none()
            if found is not None:
                _add_cameras(conn, int(found), a.cameras, a.cameras_now)
        return None

    def note_node_lost(self, node: str, cameras: Iterable[str], now_ms: int) -> int:
        """An ingest node was found lost (its leases expired unreleased) by a node that took ``cameras`` of it:
        open its ``node_lost`` alert, or add those cameras to the open one. Several nodes take a lost node's
        cameras at once: the one open alert is shared (a second insert meets the unique index and is retried
        as an update by the caller). Returns the alert's id."""
        cams = tuple(sorted(set(cameras)))
        with self.engine.begin() as conn:
            q = select(*_COLS).where(AlertRow.kind == NODE_LOST, AlertRow.subject == node,
                                     AlertRow.closed_ms.is_(None))
            if conn.dialect.name != "sqlite":
                q = q.with_for_update()
            found = _load(conn, q)
            if not found:
                return int(self.write(AlertEvent("open", node_alert(node, NODE_LOST, now_ms, cams)), conn) or 0)
            cur = found[0]
            both = tuple(sorted(set(cur.cameras) | set(cams)))
            self.write(AlertEvent("update", replace(cur, cameras=both, cameras_now=both,
                                                    last_seen_ms=max(now_ms, cur.last_seen_ms or now_ms))), conn)
            return int(cur.id or 0)

    def close_node_lost(self, node: str, now_ms: int) -> int:
        """``node`` is back (it started again): its open ``node_lost`` alert closes. Returns how many closed."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(AlertRow)
                .where(AlertRow.kind == NODE_LOST, AlertRow.subject == node, AlertRow.closed_ms.is_(None))
                .values(recovered_ms=func.coalesce(AlertRow.recovered_ms, now_ms), closed_ms=now_ms)
            ).rowcount or 0

    def ack(self, alert_id: int, username: str, now_ms: int) -> tuple[Alert | None, bool]:
        """Acknowledge once: (the alert after it, whether this call acknowledged it). (None, False) if absent."""
        with self.engine.begin() as conn:
            n = conn.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.acked_by.is_(None))
                .values(acked_by=username[:64], acked_ms=now_ms)
            ).rowcount
            rows = _load(conn, select(*_COLS).where(AlertRow.id == alert_id))
        return (rows[0] if rows else None), n == 1

    # -- reads -----------------------------------------------------------------------------------------

    def open_alerts(self, kinds: Sequence[str] = KINDS, subject: str | None = None) -> list[Alert]:
        q = select(*_COLS).where(AlertRow.closed_ms.is_(None), AlertRow.kind.in_(kinds))
        if subject is not None:
            q = q.where(AlertRow.subject == subject)
        with self.engine.connect() as conn:
            return _load(conn, q.order_by(AlertRow.id))

    def get(self, alert_id: int, kinds: Sequence[str] = KINDS) -> Alert | None:
        """The alert ``alert_id`` if it is of one of ``kinds`` (else, as if it did not exist, None)."""
        with self.engine.connect() as conn:
            rows = _load(conn, select(*_COLS).where(AlertRow.id == alert_id, AlertRow.kind.in_(kinds)))
        return rows[0] if rows else None

    def touching(self, camera: str, kind: str, start_ms: int, end_ms: int) -> list[Alert]:
        """Alerts of ``kind`` that touched ``camera`` and overlap [start_ms, end_ms), oldest first."""
        q = select(*_COLS).where(
            AlertRow.kind == kind,
            AlertRow.opened_ms < end_ms,
            or_(AlertRow.closed_ms.is_(None), AlertRow.closed_ms > start_ms),
            exists().where(AlertCameraRow.alert_id == AlertRow.id, AlertCameraRow.camera == camera),
        )
        with self.engine.connect() as conn:
            return _load(conn, q.order_by(AlertRow.opened_ms, AlertRow.id))

    def alerts(
        self,
        scope: Sequence[str],
        *,
        kinds: Sequence[str] = KINDS,
        area: str | None = None,
        only_open: bool = False,
        unacked: bool = False,
        before_id: int | None = None,
        open_first: bool = False,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts of ``kinds`` touching ``scope`` (and ``area``), newest first (by opened_ms, then id); with
        ``open_first`` the open ones before the closed ones."""
        q = select(*_COLS).where(AlertRow.kind.in_(kinds), within(scope, area))
        if only_open:
            q = q.where(AlertRow.closed_ms.is_(None))
        if unacked:
            q = q.where(AlertRow.acked_by.is_(None))
        if before_id is not None:
            cut = select(AlertRow.opened_ms).where(AlertRow.id == before_id).scalar_subquery()
            q = q.where(or_(AlertRow.opened_ms < cut, and_(AlertRow.opened_ms == cut, AlertRow.id < before_id)))
        order = (AlertRow.closed_ms.is_not(None),) if open_first else ()
        q = q.order_by(*order, AlertRow.opened_ms.desc(), AlertRow.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return _load(conn, q)


def _add_cameras(conn: Connection, alert_id: int, cameras: Iterable[str], now: Iterable[str]) -> None:
    """Add the cameras not yet there (never removed) and set which of them are touched now."""
    now = set(now)
    have = dict(conn.execute(_ALERT_CAMERAS, {"b_alert": alert_id}).all())
    new = sorted(set(cameras) - have.keys())
    if new:
        conn.execute(_INSERT_CAMERA, [{"alert_id": alert_id, "camera": c, "now": c in now} for c in new])
    flip = [{"b_alert": alert_id, "b_camera": c, "now": c in now} for c, was in have.items() if was != (c in now)]
    if flip:
        conn.execute(_SET_NOW, flip)


def _load(conn: Connection, q: Select[Any]) -> list[Alert]:
    """The rows of ``q`` as alerts, with their cameras (one more query for all of them)."""
    rows = conn.execute(q).all()
    cams: dict[int, list[str]] = defaultdict(list)
    now: dict[int, list[str]] = defaultdict(list)
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 500):
        q_cams = (
            select(AlertCameraRow.alert_id, AlertCameraRow.camera, AlertCameraRow.now)
            .where(AlertCameraRow.alert_id.in_(ids[i : i + 500]))
            .order_by(AlertCameraRow.alert_id, AlertCameraRow.camera)
        )
        for alert_id, camera, is_now in conn.execute(q_cams):
            cams[alert_id].append(camera)
            if is_now:
                now[alert_id].append(camera)
    return [Alert(cameras=tuple(cams[r.id]), cameras_now=tuple(now[r.id]), **r._mapping) for r in rows]
