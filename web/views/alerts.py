"""The alert feed: debounced state-change alerts in the caller's scope, newest first, with acknowledgement.

- ``GET /alerts``: the page. Query: ``area`` (within the scope, else 404), ``open=1`` (only open alerts),
  ``unacked=1``, ``before=ID`` (the next page: alerts older than that one), ``fragment=1`` (only the rows: what
  web/static/refresh.js fetches every 15 s to keep the page live without a reload).
- ``GET /api/alerts``: the same filters, JSON ``{"alerts": [...], "next_before": ID | null}``.
- ``POST /alerts/{id}/ack`` (form field ``csrf_token``, or header ``X-CSRF-Token``): records who and when, once,
  and appends ``alert.ack`` to the audit log; 303 back to the feed (``next``, a local path), or JSON when the
  request accepts only JSON. An alert outside the scope is 404; one already acknowledged is 409 and changes
  nothing.

Seeing the feed needs ``Perm.STATUS`` (it says no more than the status intervals do); acknowledging needs
``Perm.ALERTS_ACK`` (admin, operator).

alerts.html context: ``area`` (Area or None), ``filters`` ({area, open, unacked}), ``alerts`` (list of alert
views, see :func:`_view`), ``next_url``, ``can_ack``, ``refresh_url``, ``area_choices`` (list of {path, name}),
``node_alerts`` (node alert views, web/views/node_alerts.py, for callers with ``Perm.SYSTEM``; else None),
``stable_minutes`` (:func:`stable_minutes`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.alerts.model import CAMERA, Alert
from cctv.sites import normalize
from web.errors import CctvError
from web.i18n import N_, format_duration, format_ms, gettext, iso_utc, lang_of
from web.i18n_labels import ALERT_STATUSES, label, reason_text, state_label
from web.keys import TIMEZONE
from web.views.access import (
    area_or_404,
    int_param,
    render,
    require,
    scope_of,
    services,
    tr,
)
from web.views.acknowledge import acknowledge
from web.views.node_alerts import listed as node_listed
from web.views.node_alerts import view as node_view

PAGE = 100
MAX_ID = 2**62

routes = web.RouteTableDef()


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "")
    if raw not in ("", "0", "1"):
        raise CctvError(
            400,
            tr(request, "Bad request"),
            tr(request, "Parameter %(name)s cannot be %(value)r: choose one of %(allowed)s.", name=name, value=raw[:40], allowed="0, 1"),
        )
    return raw == "1"


async def _list(request: web.Request) -> tuple[list[Alert], dict[str, Any], int | None]:
    require(request, Perm.STATUS)
    svc = services(request)
    area_path = normalize(request.query.get("area", ""))
    if area_path:
        area_or_404(request, area_path)  # unknown or out of scope: 404
    filters = {"area": area_path, "open": _flag(request, "open"), "unacked": _flag(request, "unacked")}
    before = int_param(request, "before", None, 1, MAX_ID)
    roots = list(scope_of(request).roots)
    rows = await svc.store.aread(
        svc.alerts.alerts,
        roots,
        kinds=(CAMERA,),
        area=area_path or None,
        only_open=filters["open"],
        unacked=filters["unacked"],
        before_id=before,
        limit=PAGE + 1,
    )
    more = rows[PAGE].id if len(rows) > PAGE else None
    rows = rows[:PAGE]
    return rows, filters, (rows[-1].id if more is not None and rows else None)


def stable_minutes(request: web.Request) -> int:
    """How long a camera must stay online before its alert closes, in minutes (the page says so)."""
    return round(services(request).config.alerts.stable_after_s / 60)


def _view(request: web.Request, a: Alert, now: int) -> dict[str, Any]:
    svc = services(request)
    lang = lang_of(request)
    tz = request.app[TIMEZONE]
    sites = svc.sites
    name, place = a.camera, ""
    if sites.has_camera(a.camera):
        cam = sites.camera(a.camera)
        name, place = cam.name, f"{sites.area(cam.rt).name}, {sites.area(cam.kelurahan).name}"
    if a.closed_ms is not None:
        status = "closed"
    elif a.recovered_ms is not None:
        status = "recovering"
    else:
        status = "open"
    # how long it was (or has been) down: up to the recovery once the camera is back
    end = a.recovered_ms if a.recovered_ms is not None else now
    if a.closed_ms is not None:
        end = a.closed_ms
    return {
        "id": a.id,
        "camera": a.camera,
        "name": name,
        "place": place,
        "state": a.state,
        "state_label": state_label(lang, a.state),
        "worst_state": a.worst_state,
        "worst_state_label": state_label(lang, a.worst_state),
        "reason_text": reason_text(a.state, a.reason, lang) or "—",
        "status": status,
        "status_label": label(lang, ALERT_STATUSES, status),
        "opened": format_ms(a.opened_ms, tz, lang),
        "duration": format_duration(end - a.opened_ms),
        "closed": format_ms(a.closed_ms, tz, lang) if a.closed_ms is not None else "",
        "changes": a.changes,
        "acked_by": a.acked_by or "",
        "acked": format_ms(a.acked_ms, tz, lang) if a.acked_ms is not None else "",
    }


def _json(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "camera": a.camera,
        "state": a.state,
        "reason": a.reason,
        "worst_state": a.worst_state,
        "changes": a.changes,
        "opened_ms": a.opened_ms,
        "opened": iso_utc(a.opened_ms),
        "last_change_ms": a.last_change_ms,
        "recovered_ms": a.recovered_ms,
        "closed_ms": a.closed_ms,
        "acked_by": a.acked_by,
        "acked_ms": a.acked_ms,
    }


@routes.get("/alerts", name="alerts")
async def alerts_page(request: web.Request) -> web.Response:
    rows, filters, next_before = await _list(request)
    who = require(request, Perm.STATUS)
    svc = services(request)
    now = svc.clock.now_ms()
    query = {k: ("1" if v is True else v) for k, v in filters.items() if v}
    context = {
        "filters": filters,
        "alerts": [_view(request, a, now) for a in rows],
        "can_ack": who.can(Perm.ALERTS_ACK),
        "next_url": "/alerts?" + urlencode({**query, "before": next_before}) if next_before else "",
        "refresh_url": "/alerts?" + urlencode({**query, "fragment": "1"}),
        "self_url": "/alerts" + ("?" + urlencode(query) if query else ""),
        "area_choices": _area_choices(request),
        "stable_minutes": stable_minutes(request),
    }
    if request.query.get("fragment") == "1":
        return render(request, "_alerts_rows.html", context)
    system = who.can(Perm.SYSTEM)
    context["node_alerts"] = [node_view(request, a, now) for a in await node_listed(request)] if system else None
    return render(request, "alerts.html", context)


def _area_choices(request: web.Request) -> list[dict[str, str]]:
    """The scope roots and the areas one level below them, for the area filter."""
    sites = services(request).sites
    out = []
    for root in scope_of(request).roots:
        if not sites.has_area(root):
            continue
        area = sites.area(root)
        out.append(
            {"path": area.path, "name": area.name if area.path else gettext(lang_of(request), "City")}
        )
        out.extend({"path": c, "name": "— " + sites.area(c).name} for c in area.children)
    return out


@routes.get("/api/alerts")
async def alerts_api(request: web.Request) -> web.Response:
    rows, _filters, next_before = await _list(request)
    return web.json_response({"alerts": [_json(a) for a in rows], "next_before": next_before})


@routes.post(r"/alerts/{id:\d{1,18}}/ack")
async def ack(request: web.Request) -> web.StreamResponse:
    return await acknowledge(
        request, Perm.ALERTS_ACK, (CAMERA,), N_("Unknown alert: %(id)s"),
        lambda a: ("alert.ack", a.camera, {"alert": a.id, "state": a.state, "reason": a.reason}),
        _json,
    )
