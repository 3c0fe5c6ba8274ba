"""The one acknowledgement path for every alert kind (camera alerts: web/views/alerts.py; node alerts:
web/views/node_alerts.py).

The alert must be of one of the route's kinds and visible in the caller's scope, else it is 404 exactly like an
id that does not exist (camera and node alerts share one table, hence one id space). Acknowledged already: 409,
nothing changes. Otherwise who and when are recorded once, the audit log gets one entry, and the answer is a
303 back (``next``) or JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.alerts.model import Alert, visible
from web.errors import CctvError
from web.views.access import acknowledged, already_acknowledged, require, scope_of, services, tr

# what the audit log says of an acknowledged alert: (action, object, detail)
Audit = Callable[[Alert], tuple[str, str, dict[str, Any]]]


async def acknowledge(
    request: web.Request,
    perm: Perm,
    kinds: Sequence[str],
    unknown: str,  # the 404's text, an N_-marked message with %(id)s
    audit: Audit,
    as_json: Callable[[Alert], dict[str, Any]],
) -> web.StreamResponse:
    who = require(request, perm)
    svc = services(request)
    alert_id = int(request.match_info["id"])
    alert = await svc.store.aread(svc.alerts.get, alert_id, kinds)
    if alert is None or not visible(alert, scope_of(request).roots):
        raise CctvError(404, tr(request, "Not found"), tr(request, unknown, id=alert_id))
    if alert.acked_by is not None:
        raise already_acknowledged(request, alert.acked_by, alert.acked_ms)
    now = svc.clock.now_ms()
    updated, done = await svc.store.awrite(svc.alerts.ack, alert_id, who.username, now)
    if not done or updated is None:  # someone else acknowledged it in between
        raise already_acknowledged(request)
    action, obj, detail = audit(alert)
    await svc.store.awrite(svc.audit.append, now, who.username, action, obj, detail)
    return await acknowledged(request, {"alert": as_json(updated)})
