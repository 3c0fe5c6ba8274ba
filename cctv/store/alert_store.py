"""Alerts in the store: written from the debouncer's events, listed by scope, acknowledged once.

Writes run on the store's one writer thread (``Store.awrite``); reads anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, false, or_, select, true, update

from cctv.alerts.camera import Alert, AlertEvent
from cctv.store.alert_models import AlertRow

_COLS = (
    AlertRow.camera,
    AlertRow.opened_ms,
    AlertRow.state,
    AlertRow.reason,
    AlertRow.worst_state,
    AlertRow.changes,
    AlertRow.last_change_ms,
    AlertRow.recovered_ms,
    AlertRow.closed_ms,
    AlertRow.id,
    AlertRow.acked_by,
    AlertRow.acked_ms,
)


def _alert(row: Any) -> Alert:
    return Alert(*row)


def _like_escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def within(paths: Sequence[str]) -> Any:
    """SQL condition: the alert's camera lies within one of ``paths`` ("" is the city)."""
    if "" in paths:
        return true()
    if not paths:
        return false()
    return or_(
        *(or_(AlertRow.camera == p, AlertRow.camera.like(_like_escape(p) + "/%", escape="\\")) for p in paths)
    )


class AlertStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes (on the writer thread) -----------------------------------------------------------------

    def write(self, event: AlertEvent) -> int | None:
        """Apply one debouncer event; returns the row id for "open"."""
        a = event.alert
        with self.engine.begin() as conn:
            if event.kind == "open":
                res = conn.execute(
                    AlertRow.__table__.insert()
                    .values(
                        camera=a.camera,
                        opened_ms=a.opened_ms,
                        state=a.state,
                        reason=a.reason,
                        worst_state=a.worst_state,
                        changes=a.changes,
                        last_change_ms=a.last_change_ms,
                        recovered_ms=a.recovered_ms,
                        closed_ms=a.closed_ms,
                    )
                    .returning(AlertRow.id)
                )
                return int(res.scalar_one())
            conn.execute(
                update(AlertRow)
                .where(AlertRow.camera == a.camera, AlertRow.opened_ms == a.opened_ms)
                .values(
                    state=a.state,
                    reason=a.reason,
                    worst_state=a.worst_state,
                    changes=a.changes,
                    last_change_ms=a.last_change_ms,
                    recovered_ms=a.recovered_ms,
                    closed_ms=a.closed_ms,
                )
            )
        return None

    def ack(self, alert_id: int, username: str, now_ms: int) -> tuple[Alert | None, bool]:
        """Acknowledge once: (the alert after it, whether this call acknowledged it). (None, False) if absent."""
        with self.engine.begin() as conn:
            n = conn.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.acked_by.is_(None))
                .values(acked_by=username[:64], acked_ms=now_ms)
            ).rowcount
            row = conn.execute(select(*_COLS).where(AlertRow.id == alert_id)).first()
        return (_alert(row) if row is not None else None), n == 1

    # -- reads -----------------------------------------------------------------------------------------

    def open_alerts(self) -> list[Alert]:
        with self.engine.connect() as conn:
            return [_alert(r) for r in conn.execute(select(*_COLS).where(AlertRow.closed_ms.is_(None)))]

    def get(self, alert_id: int) -> Alert | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_COLS).where(AlertRow.id == alert_id)).first()
        return _alert(row) if row is not None else None

    def alerts(
        self,
        scope: Sequence[str],
        *,
        area: str | None = None,
        only_open: bool = False,
        unacked: bool = False,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts within ``scope`` (and ``area``), newest first (by opened_ms, then id)."""
        q = select(*_COLS).where(within(scope))
        if area:
            q = q.where(within([area]))
        if only_open:
            q = q.where(AlertRow.closed_ms.is_(None))
        if unacked:
            q = q.where(AlertRow.acked_by.is_(None))
        if before_id is not None:
            cut = select(AlertRow.opened_ms).where(AlertRow.id == before_id).scalar_subquery()
            q = q.where(
                or_(AlertRow.opened_ms < cut, and_(AlertRow.opened_ms == cut, AlertRow.id < before_id))
            )
        q = q.order_by(AlertRow.opened_ms.desc(), AlertRow.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_alert(r) for r in conn.execute(q)]
