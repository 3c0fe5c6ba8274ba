"""The banner every page shows while a node alert (disk full, nearly full) touches cameras in the caller's
scope: kept in memory (web/node_alert_cache.py), refreshed from the store at most every ``ttl_s`` by a
middleware on the way in (so the synchronous page rendering never waits on the database), and re-fetched by
web/static/refresh.js on long-lived pages such as the tile wall. Counts are cut to the caller's scope.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cctv.accounts.policy import Perm
from cctv.alerts.model import DISK_FULL, human_bytes, visible, visible_now
from web.i18n import format_ms, lang_of
from web.i18n_labels import NODE_ALERT_BANNERS, label
from web.keys import OPEN_NODE_ALERTS, SERVICES, TIMEZONE
from web.security import principal_of


@web.middleware
async def node_alert_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Before a page for someone who may see node alerts: make sure the banner's data is recent."""
    p = principal_of(request)
    if request.method == "GET" and p is not None and p.can(Perm.SYSTEM) and not request.path.startswith("/static/"):
        await request.app[OPEN_NODE_ALERTS].refresh(request.app[SERVICES])
    return await handler(request)


def banner_items(request: web.Request) -> list[dict[str, Any]]:
    """What the banner says to the caller: one line per open node alert touching their scope."""
    p = principal_of(request)
    if p is None or not p.can(Perm.SYSTEM):
        return []
    lang, tz, roots = lang_of(request), request.app[TIMEZONE], list(p.scope.roots)
    out = []
    for a in request.app[OPEN_NODE_ALERTS].alerts:
        if not visible(a, roots):
            continue
        fmt = {
            "node": a.node,
            "since": format_ms(a.opened_ms, tz, lang),
            "n": len(visible_now(a, roots)),  # paused now, in the caller's scope
            "free": human_bytes(a.free_bytes),
            "total": human_bytes(a.total_bytes),
        }
        out.append({
            "kind": a.kind,
            "severity": "error" if a.kind == DISK_FULL else "warning",
            "text": label(lang, NODE_ALERT_BANNERS, a.kind, **fmt),
        })
    return out
