"""Node alerts (kinds disk_full and disk_low of cctv/alerts/model.py) on the web: listed in the alert feed's
"system" part and in the banner of every page, acknowledged once (web/views/acknowledge.py).

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
from cctv.alerts.model import NODE_KINDS, Alert, human_bytes, visible_now, visible_to
from web.errors import CctvError
from web.i18n import N_, format_duration, format_ms, gettext, iso_utc, lang_of
from web.i18n_labels import ALERT_STATUSES, NODE_ALERT_KINDS, label
from web.keys import TIMEZONE
from web.node_banner import banner_items
from web.views.access import render, require, scope_of, services, tr
from web.views.acknowledge import acknowledge

routes = web.RouteTableDef()
RECENT = 20


async def listed(request: web.Request, only_open: bool = False, limit: int = RECENT) -> list[Alert]:
    """Node alerts touching the caller's scope, open ones first, then newest first."""
    svc = services(request)
    return await svc.store.aread(svc.alerts.alerts, list(scope_of(request).roots), kinds=NODE_KINDS,
                                 only_open=only_open, open_first=True, limit=limit)


def view(request: web.Request, a: Alert, now: int) -> dict[str, Any]:
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
        "affected_now": len(visible_now(a, roots)) if a.closed_ms is None else 0,
        "disk": gettext(lang, "%(free)s of %(total)s", free=human_bytes(a.free_bytes), total=human_bytes(a.total_bytes)),
        "acked_by": a.acked_by or "",
        "acked": format_ms(a.acked_ms, tz, lang) if a.acked_ms is not None else "",
    }


def as_json(a: Alert, roots: list[str]) -> dict[str, Any]:
    return {
        "id": a.id,
        "node": a.node,
        "kind": a.kind,
        "opened_ms": a.opened_ms,
        "opened": iso_utc(a.opened_ms),
        "last_seen_ms": a.last_seen_ms,
        "closed_ms": a.closed_ms,
        "cameras": list(visible_to(a, roots)),
        "affected_now": len(visible_now(a, roots)),
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
    return await acknowledge(
        request, Perm.SYSTEM, NODE_KINDS, N_("Unknown system alert: %(id)s"),
        lambda a: ("node_alert.ack", f"node:{a.node}", {"node_alert": a.id, "kind": a.kind, "opened_ms": a.opened_ms}),
        lambda a: as_json(a, list(scope_of(request).roots)),
    )
