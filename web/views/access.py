"""What every view shares: the services, the caller's scope, lookups that 404, parameters that 400, rendering.

Every lookup of an area or a camera goes through :func:`area_or_404` / :func:`camera_or_404`, and every
listing through :func:`scope_of`: access control plugs in here. A view first calls :func:`require` (role →
403, the same for every path), then looks up (out of scope → 404, as if it did not exist). The city ("") of a
user scoped below it is a view of their scope roots only: its children are the roots, its counts are over
in-scope cameras (see docs/auth.md).
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from cctv.accounts.policy import NO_SCOPE, Perm, Principal, Scope, safe_next
from cctv.app.services import Services
from cctv.rollup.tally import Counts
from cctv.sites import Area, normalize
from cctv.status.live_model import CameraLive
from web.errors import CctvError
from web.i18n import N_, format_duration, format_ms, gettext, iso_utc, lang_of
from web.i18n_labels import reason_text, state_label
from web.keys import SERVICES, TIMEZONE
from web.node_banner import banner_items
from web.security import csrf_token, principal_of


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def scope_of(request: web.Request) -> Scope:
    """The areas the caller may see (nothing without a login)."""
    p = principal_of(request)
    return p.scope if p is not None else NO_SCOPE


def require(request: web.Request, perm: Perm) -> Principal:
    """The caller, if their role has ``perm``; otherwise a 403 (401 without a login)."""
    p = principal_of(request)
    if p is None:
        raise CctvError(401, tr(request, "Login required"), tr(request, "Please log in first."))
    if not p.can(perm):
        raise CctvError(403, tr(request, "Forbidden"), tr(request, "You may not see this."))
    return p


def scoped_city(request: web.Request) -> Area:
    """The city as the caller sees it: itself for a city-wide scope, else a view over the scope roots."""
    sites = services(request).sites
    scope = scope_of(request)
    city = sites.city
    if scope.is_city:
        return city
    roots = tuple(r for r in scope.roots if sites.has_area(r))
    cams = tuple(c for r in roots for c in sites.area(r).cameras)
    return Area(city.path, city.slug, city.name, city.level, None, roots, cams)


def area_cameras(request: web.Request, area: Area) -> list[CameraLive]:
    """The live cameras of ``area`` (as returned by area_or_404, so already cut to the scope)."""
    live = services(request).live
    out = []
    for p in area.cameras:
        try:
            out.append(live.camera(p))
        except KeyError:
            continue
    return out


def area_counts(request: web.Request, area: Area) -> Counts:
    """The area's counts as the caller sees them (a scoped city: the sum of the scope roots), from the per-area
    aggregates: never a walk over the area's cameras."""
    return services(request).aggregates.scoped(area.path, scope_of(request).roots)


def visible_breadcrumbs(request: web.Request, path: str) -> list[Area]:
    """The trail above a page, without the areas above the caller's scope (the city stays)."""
    scope = scope_of(request)
    return [a for a in services(request).sites.breadcrumbs(path) if a.path == "" or scope.covers(a.path)]


def tr(request: web.Request, msgid: str, **fmt: object) -> str:
    """``msgid`` in the request's language (web.i18n.gettext; pybabel extract knows ``tr``: babel.cfg)."""
    return gettext(lang_of(request), msgid, **fmt)


def area_or_404(request: web.Request, path: str) -> Area:
    """The area at ``path`` if it exists and lies within the caller's scope; otherwise a 404."""
    sites = services(request).sites
    path = normalize(path)
    scope = scope_of(request)
    if path == "" and not scope.empty:
        return scoped_city(request)
    if not sites.has_area(path) or not scope.covers(path):
        raise CctvError(404, tr(request, "Not found"), tr(request, "Unknown area: %(path)s", path=path))
    return sites.area(path)


def camera_or_404(request: web.Request, path: str) -> CameraLive:
    """The live camera at ``path`` if it exists, is enabled and lies within the caller's scope."""
    svc = services(request)
    path = normalize(path)
    if not scope_of(request).covers(path):
        raise CctvError(404, tr(request, "Not found"), tr(request, "Unknown camera: %(path)s", path=path))
    try:
        return svc.live.camera(path)
    except KeyError:
        raise CctvError(404, tr(request, "Not found"), tr(request, "Unknown camera: %(path)s", path=path)) from None


def int_param(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    """An integer query parameter within [lo, hi], or ``default`` when absent; a 400 when malformed."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CctvError(400, tr(request, "Bad request"), tr(request, "Parameter %(name)s must be an integer, not %(value)r.", name=name, value=raw)) from None
    if not lo <= value <= hi:
        raise CctvError(400, tr(request, "Bad request"), tr(request, "Parameter %(name)s must be between %(lo)s and %(hi)s.", name=name, lo=lo, hi=hi))
    return value


def camera_json(cam: CameraLive) -> dict[str, Any]:
    """The API shape of one camera. Never the URL (it may carry a password)."""
    d = cam.as_dict()
    d["since"] = iso_utc(cam.since_ms)
    d["snapshot"] = iso_utc(cam.snapshot_ms)
    d["area"] = cam.site.kelurahan
    d["kecamatan"] = cam.site.kecamatan
    d["kelurahan"] = cam.site.kelurahan
    d["rt"] = cam.site.rt
    return d


def area_json(request: web.Request, area: Area) -> dict[str, Any]:
    aggregates = services(request).aggregates
    sites = services(request).sites
    return {
        "path": area.path,
        "name": area.name,
        "level": area.level,
        "parent": area.parent,
        "counts": area_counts(request, area).as_dict(),
        "children": [
            {
                "path": child,
                "name": sites.area(child).name,
                "level": sites.area(child).level,
                "counts": aggregates.counts(child).as_dict(),
            }
            for child in area.children
        ],
    }


def tile(request: web.Request, cam: CameraLive) -> dict[str, Any]:
    """What ``_tile.html`` shows of one camera."""
    lang = lang_of(request)
    tz = request.app[TIMEZONE]
    now = services(request).clock.now_ms()
    return {
        "path": cam.path,
        "name": cam.site.name,
        "state": cam.state,
        "state_label": state_label(lang, cam.state),
        "reason": cam.reason,
        "reason_text": reason_text(cam.state, cam.reason, lang),
        "since_ms": cam.since_ms,
        "since_text": format_ms(cam.since_ms, tz, lang),
        "since_ago": format_duration(now - cam.since_ms),
        "motion": cam.motion,
        "snapshot_ms": cam.snapshot_ms or 0,
    }


def already_acknowledged(request: web.Request, by: str | None = None, at_ms: int | None = None) -> CctvError:
    """409 for an alert acknowledged before (by whom, when), or just now by someone else (``by`` None)."""
    if by is None:
        return CctvError(409, tr(request, "Already acknowledged"), tr(request, "Someone else has just acknowledged this alert."))
    when = format_ms(at_ms, request.app[TIMEZONE], lang_of(request))
    return CctvError(409, tr(request, "Already acknowledged"), tr(request, "This alert was already acknowledged by %(who)s at %(when)s.", who=by, when=when))


async def acknowledged(request: web.Request, payload: dict[str, Any]) -> web.StreamResponse:
    """After an acknowledgement: ``payload`` as JSON when only JSON is accepted, else 303 to the form's
    ``next`` (a local path) or the alert feed."""
    if request.headers.get("Accept", "") == "application/json":
        return web.json_response(payload)
    form = await request.post()
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "")), "/alerts"))


def nav_links(p: Principal | None) -> list[tuple[str, str]]:
    """The top bar's links the caller's role can open: (href, text: a msgid)."""
    if p is None:
        return []
    links = [("/alerts", N_("Alerts"), p.can(Perm.STATUS)), ("/tech", N_("Technician"), p.can(Perm.STATS)),
             ("/clips", N_("Evidence clips"), p.can(Perm.CLIPS_REQUEST) or p.can(Perm.CLIPS_APPROVE)),
             ("/admin/audit", N_("Audit log"), p.can(Perm.AUDIT) and p.scope.is_city),
             ("/admin/nodes", N_("Nodes"), p.can(Perm.SYSTEM) and p.scope.is_city)]
    return [(href, key) for href, key, ok in links if ok]


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """Render a page template with what base.html needs (language, site name, the scope's root)."""
    svc = services(request)
    base = {
        "lang": lang_of(request),
        "site_name": svc.config.site.name,
        "request_path": request.path,
        "current_user": (p := principal_of(request)) and p.username,
        "csrf_token": csrf_token(request),
        "nav": [(href, gettext(lang_of(request), msgid)) for href, msgid in nav_links(p)],
        "node_banner": banner_items(request),
        "can_see_system": p is not None and p.can(Perm.SYSTEM),
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
