"""Node alerts (cctv/alerts/node.py) on the web: listed in the alert feed's "system" part and in the banner of
every page, acknowledged once.

- ``GET /api/node-alerts``: ``open=1`` for open ones only; JSON ``{"alerts": [...]}``, each with the cameras
  of the alert that lie in the caller's scope (never the others).
- ``GET /node-alerts/banner``: the banner's HTML alone (web/static/refresh.js swaps it in every 30 s).
- ``POST /node-alerts/{id}/ack`` (CSRF as everywhere): records who and when, once, and appends
  ``node_alert.ack`` to the audit log; 303 back (``next``) or JSON. Not visible in the scope: 404; acknowledged
  already: 409, nothing changes.

All need ``Perm.SYSTEM`` (admin, operator, technician).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.alerts.node import NodeAlert, human_bytes, visible_to
from cctv.store.node_alert_store import visible
from web.errors import CctvError
from web.i18n import format_duration, format_ms, gettext, iso_utc, lang_of
from web.i18n_labels import ALERT_STATUSES, NODE_ALERT_KINDS, label
from web.keys import TIMEZONE
from web.node_banner import banner_items
from web.views.access import acknowledged, already_acknowledged, render, require, scope_of, services, tr

routes = web.RouteTableDef()
RECENT = 20


async def listed(request: web.Request, only_open: bool = False, limit: int = RECENT) -> list[NodeAlert]:
    svc = services(request)
    return await svc.store.aread(svc.node_alerts.alerts, list(scope_of(request).roots), only_open=only_open,
                                 limit=limit)


def view(request: web.Request, a: NodeAlert, now: int) -> dict[str, Any]:
    lang, tz, roots = lang_of(request), request.app[TIMEZONE], list(scope_of(request).roots)
    end = a.closed_ms if a.closed_ms is not None else now
    return {
        "id": a.id,
        "kind": a.kind,
        "kind_label": label(lang, NODE_ALERT_KINDS, a.kind),
        "node": a.node,
        "opened": format_ms(a.opened_ms, tz, lang),
        "duration": format_duration(end - a.opened_ms),
        "closed": format_ms(a.closed_ms, tz, lang) if a.closed_ms is not None else "",
        "status_label": label(lang, ALERT_STATUSES, "closed" if a.closed_ms is not None else "open"),
        "cameras": len(visible_to(a, roots)),
        "affected_now": a.affected_now if a.closed_ms is None else 0,
        "disk": gettext(lang, "%(free)s of %(total)s", free=human_bytes(a.free_bytes), total=human_bytes(a.total_bytes)),
        "acked_by": a.acked_by or "",
        "acked": format_ms(a.acked_ms, tz, lang) if a.acked_ms is not None else "",
    }


def as_json(a: NodeAlert, roots: list[str]) -> dict[str, Any]:
    return {
        "id": a.id,
        "node": a.node,
        "kind": a.kind,
        "opened_ms": a.opened_ms,
        "opened": iso_utc(a.opened_ms),
        "last_seen_ms": a.last_seen_ms,
        "closed_ms": a.closed_ms,
        "cameras": list(visible_to(a, roots)),
        "affected_now": a.affected_now,
        "free_bytes": a.free_bytes,
        "total_bytes": a.total_bytes,
        "acked_by": a.acked_by,
        "acked_ms": a.acked_ms,
    }


@routes.get("/api/node-alerts")
async def node_alerts_api(request: web.Request) -> web.Response:
    require(request, Perm.SYSTEM)
    raw = request.query.get("open", "")
    if raw not in ("", "0", "1"):
        raise CctvError(400, tr(request, "Bad request"),
                        tr(request, "Parameter %(name)s cannot be %(value)r: choose one of %(allowed)s.", name="open", value=raw[:40], allowed="0, 1"))
    rows = await listed(request, only_open=raw == "1", limit=100)
    roots = list(scope_of(request).roots)
    return web.json_response({"alerts": [as_json(a, roots) for a in rows]})


@routes.get("/node-alerts/banner")
async def banner(request: web.Request) -> web.Response:
    require(request, Perm.SYSTEM)  # node_alert_middleware has brought the open alerts up to date
    return render(request, "_node_banner.html", {"node_banner": banner_items(request)})


@routes.post(r"/node-alerts/{id:\d{1,18}}/ack")
async def ack(request: web.Request) -> web.StreamResponse:
    who = require(request, Perm.SYSTEM)
    svc = services(request)
    alert_id = int(request.match_info["id"])
    alert = await svc.store.aread(svc.node_alerts.get, alert_id)
    if alert is None or not visible(alert, list(scope_of(request).roots)):
        raise CctvError(404, tr(request, "Not found"), tr(request, "Unknown system alert: %(id)s", id=alert_id))
    if alert.acked_by is not None:
        raise already_acknowledged(request, alert.acked_by, alert.acked_ms)
    now = svc.clock.now_ms()
    updated, done = await svc.store.awrite(svc.node_alerts.ack, alert_id, who.username, now)
    if not done or updated is None:  # someone else acknowledged it in between
        raise already_acknowledged(request)
    await svc.store.awrite(
        svc.audit.append, now, who.username, "node_alert.ack", f"node:{alert.node}",
        {"node_alert": alert_id, "kind": alert.kind, "opened_ms": alert.opened_ms},
    )
    return await acknowledged(request, {"alert": as_json(updated, list(scope_of(request).roots))})
