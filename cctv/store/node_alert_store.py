"""Node alerts in the store: written from the trackers' events, listed for a scope, acknowledged once.

Writes run on the store's one writer thread (``Store.awrite``); reads anywhere. There are few node alerts (a
handful per machine per incident), so scope filtering happens here in Python over the decoded camera lists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, or_, select, update

from cctv.alerts.node import NodeAlert, NodeAlertEvent, visible_to
from cctv.store.node_alert_models import NodeAlertRow

_COLS = (
    NodeAlertRow.node,
    NodeAlertRow.kind,
    NodeAlertRow.opened_ms,
    NodeAlertRow.last_seen_ms,
    NodeAlertRow.cameras,
    NodeAlertRow.affected_now,
    NodeAlertRow.free_bytes,
    NodeAlertRow.total_bytes,
    NodeAlertRow.closed_ms,
    NodeAlertRow.id,
    NodeAlertRow.acked_by,
    NodeAlertRow.acked_ms,
)


def _alert(row: Any) -> NodeAlert:
    node, kind, opened, seen, cams, now, free, total, closed, id_, by, at = row
    return NodeAlert(node, kind, opened, seen, tuple(json.loads(cams)), now, free, total, closed, id_, by, at)


def _values(a: NodeAlert) -> dict[str, Any]:
    return {
        "last_seen_ms": a.last_seen_ms,
        "cameras": json.dumps(list(a.cameras)),
        "affected_now": a.affected_now,
        "free_bytes": a.free_bytes,
        "total_bytes": a.total_bytes,
        "closed_ms": a.closed_ms,
    }


class NodeAlertStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes (on the writer thread) -----------------------------------------------------------------

    def write(self, event: NodeAlertEvent) -> int | None:
        """Apply one tracker event; returns the row id for "open"."""
        a = event.alert
        with self.engine.begin() as conn:
            if event.kind == "open":
                res = conn.execute(
                    NodeAlertRow.__table__.insert()
                    .values(node=a.node, kind=a.kind, opened_ms=a.opened_ms, **_values(a))
                    .returning(NodeAlertRow.id)
                )
                return int(res.scalar_one())
            conn.execute(
                update(NodeAlertRow)
                .where(NodeAlertRow.node == a.node, NodeAlertRow.kind == a.kind,
                       NodeAlertRow.opened_ms == a.opened_ms)
                .values(**_values(a))
            )
        return None

    def ack(self, alert_id: int, username: str, now_ms: int) -> tuple[NodeAlert | None, bool]:
        """Acknowledge once: (the alert after it, whether this call acknowledged it). (None, False) if absent."""
        with self.engine.begin() as conn:
            n = conn.execute(
                update(NodeAlertRow)
                .where(NodeAlertRow.id == alert_id, NodeAlertRow.acked_by.is_(None))
                .values(acked_by=username[:64], acked_ms=now_ms)
            ).rowcount
            row = conn.execute(select(*_COLS).where(NodeAlertRow.id == alert_id)).first()
        return (_alert(row) if row is not None else None), n == 1

    # -- reads -----------------------------------------------------------------------------------------

    def open_for(self, node: str) -> list[NodeAlert]:
        with self.engine.connect() as conn:
            q = select(*_COLS).where(NodeAlertRow.node == node, NodeAlertRow.closed_ms.is_(None))
            return [_alert(r) for r in conn.execute(q)]

    def get(self, alert_id: int) -> NodeAlert | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_COLS).where(NodeAlertRow.id == alert_id)).first()
        return _alert(row) if row is not None else None

    def touching(self, camera: str, kind: str, start_ms: int, end_ms: int) -> list[NodeAlert]:
        """Alerts of ``kind`` that touched ``camera`` and overlap [start_ms, end_ms), oldest first."""
        q = (
            select(*_COLS)
            .where(
                NodeAlertRow.kind == kind,
                NodeAlertRow.opened_ms < end_ms,
                or_(NodeAlertRow.closed_ms.is_(None), NodeAlertRow.closed_ms > start_ms),
                NodeAlertRow.cameras.like(camera_mention(camera), escape="\\"),
            )
            .order_by(NodeAlertRow.opened_ms)
        )
        with self.engine.connect() as conn:
            return [a for a in (_alert(r) for r in conn.execute(q)) if camera in a.cameras]

    def alerts(self, scope: Sequence[str], *, only_open: bool = False, limit: int = 50) -> list[NodeAlert]:
        """Alerts a user with scope ``scope`` may see (see :func:`visible`), open ones first, then newest first."""
        q = select(*_COLS)
        if only_open:
            q = q.where(NodeAlertRow.closed_ms.is_(None))
        q = q.order_by(NodeAlertRow.closed_ms.is_not(None), NodeAlertRow.opened_ms.desc(), NodeAlertRow.id.desc())
        out: list[NodeAlert] = []
        with self.engine.connect() as conn:
            for row in conn.execute(q):  # few rows: filtered here
                a = _alert(row)
                if visible(a, scope):
                    out.append(a)
                    if len(out) >= limit:
                        break
        return out


def camera_mention(camera: str) -> str:
    """A LIKE pattern that finds ``camera`` in the JSON ``cameras`` column (a superset: checked exactly after)."""
    escaped = json.dumps(camera).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def visible(alert: NodeAlert, scope: Sequence[str]) -> bool:
    return "" in scope or bool(visible_to(alert, scope))
