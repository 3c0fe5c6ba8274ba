"""``GET /admin/audit``: the audit log for admins, newest first, with filters and paging, and whether the hash
chain verifies (``cctv.audit.log.AuditLog.verify``) with the head hash.

Query: ``actor`` (exact), ``action`` (exact, or a prefix ending in ``.`` or ``*``: ``clip.*``), ``object``
(exact, e.g. ``clip-request:12`` or a camera path), ``from`` / ``to`` (``YYYY-MM-DD`` — whole days — or
``YYYY-MM-DDTHH:MM``, in the site's time zone), ``before`` (a seq: the next, older page), ``limit`` (1..200).

Needs ``Perm.AUDIT`` and a city-wide scope: the log names objects anywhere in the city, so an account scoped
below it is refused (403) rather than shown a log cut to pieces.

audit.html context: ``entries`` ({seq, when, actor, action, object, detail, hash}), ``filters`` (the query as
sent), ``chain`` ({intact, broken_at, head_seq, head_hash, checked}), ``next_url``, ``first_url``, ``limit``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.audit.query import MAX_PAGE, AuditFilter, search
from web.errors import CctvError
from web.i18n import format_ms, lang_of
from web.keys import AUDIT_CHAIN, TIMEZONE
from web.views.access import int_param, render, require, services, tr

FIELDS = ("actor", "action", "object", "from", "to")
MAX_SEQ = 2**62

routes = web.RouteTableDef()


def _when(request: web.Request, name: str, *, end: bool) -> int | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    tz = request.app[TIMEZONE]
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            t = datetime(d.year, d.month, d.day, tzinfo=tz) + (timedelta(days=1) if end else timedelta())
        else:
            t = datetime.fromisoformat(raw)
            t = t if t.tzinfo is not None else t.replace(tzinfo=tz)
    except ValueError:
        raise CctvError(
            400, tr(request, "Bad request"), tr(request, "Parameter %(name)s is not a date: %(value)r (YYYY-MM-DD).", name=name, value=raw[:40])
        ) from None
    return round(t.timestamp() * 1000)


def _detail(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)
    except ValueError:
        return text


@routes.get("/admin/audit")
async def audit_page(request: web.Request) -> web.Response:
    who = require(request, Perm.AUDIT)
    if not who.scope.is_city:
        raise CctvError(403, tr(request, "Forbidden"), tr(request, "The audit log covers the whole city: it needs a city-wide admin account."))
    svc = services(request)
    filters = {k: request.query.get(k, "").strip()[:512] for k in FIELDS}
    since, until = _when(request, "from", end=False), _when(request, "to", end=True)
    if since is not None and until is not None and until <= since:
        raise CctvError(400, tr(request, "Bad request"), tr(request, "'To' must be after 'from'."))
    before = int_param(request, "before", None, 1, MAX_SEQ)
    limit = int_param(request, "limit", 50, 1, MAX_PAGE) or 50
    f = AuditFilter(
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        object=filters["object"] or None,
        since_ms=since,
        until_ms=until,
        before_seq=before,
    )
    rows, next_before = await svc.store.aread(search, svc.store.engine, f, limit)
    chain = await asyncio.to_thread(request.app[AUDIT_CHAIN].status, svc.clock.monotonic())
    tz, lang = request.app[TIMEZONE], lang_of(request)
    base = {k: v for k, v in filters.items() if v} | ({"limit": str(limit)} if limit != 50 else {})
    context: dict[str, Any] = {
        "entries": [
            {
                "seq": e.seq,
                "when": format_ms(e.ts_ms, tz, lang),
                "actor": e.actor,
                "action": e.action,
                "object": e.object,
                "detail": _detail(e.detail),
                "hash": e.hash,
            }
            for e in rows
        ],
        "filters": filters,
        "chain": {
            "intact": chain.intact,
            "broken_at": chain.broken_at,
            "head_seq": chain.head[0] if chain.head else 0,
            "head_hash": chain.head[1] if chain.head else "",
            "checked": format_ms(svc.clock.now_ms(), tz, lang),
        },
        "next_url": "/admin/audit?" + urlencode(base | {"before": next_before}) if next_before else None,
        "first_url": "/admin/audit?" + urlencode(base) if before else None,
        "limit": limit,
    }
    return render(request, "audit.html", context)
