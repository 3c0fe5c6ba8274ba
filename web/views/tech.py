"""The technician dashboard and the roll-up API.

- ``GET /tech`` (the city as the caller sees it) and ``GET /tech/{path}`` (a kecamatan, kelurahan or RT): figures
  of the area per window, its child areas, the worst cameras, availability over time per child area (inline
  SVG), every camera in a sortable, filterable table, and the outages since yesterday (local midnight: the
  roll-up model's recent rows; older ones are in each camera's history).
  Query: ``state`` (offline | degraded | online | down), ``q`` (text in name, path, RT, kelurahan), ``sort``
  (see ``tech_data.SORTS``), ``dir`` (asc | desc), ``page`` (200 cameras a page), ``chart`` (24h | 7d | 30d).
- ``GET /tech.csv``, ``GET /tech/{path}.csv`` (or ``?format=csv``): every camera matching the filters, for the
  maintenance contractor (columns: ``tech_csv.CSV_COLUMNS``).
- ``GET /api/rollup``, ``GET /api/rollup/{path}``: the area's counts now and figures per window, its children's,
  and its worst cameras (JSON).

Needs ``Perm.STATS`` (admin, operator, technician): police and viewers get 403. Out of scope is 404.

tech.html context: ``area``, ``level_label``, ``breadcrumbs``, ``counts``, ``summary`` (list of {window,
label, avail, usable, mttr, mttr_degraded, outages}), ``children`` (list of {path, name, counts, avail (dict
window → text), mttr, outages}), ``worst`` (list of camera rows), ``cameras`` (this page's camera rows),
``total``, ``shown`` ("a–b"), ``page``, ``pages``, ``prev_url``, ``next_url``, ``sort_urls`` (key → url),
``sort``, ``dir``, ``state``, ``q``, ``states``, ``chart`` (tech_data.chart), ``chart_windows``,
``outages``, ``outages_total``, ``csv_url``, ``now_text``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.rollup.tally import Ranked, Tally, sum_tallies
from cctv.sites import Area
from web.errors import CctvError
from web.i18n import format_duration, format_ms, format_pct, lang_of
from web.i18n_labels import LEVELS, TECH_FILTERS, WINDOWS, label, reason_text, state_label
from web.keys import TECH_CSV, TIMEZONE
from web.views import tech_data as td
from web.views.access import (
    area_counts,
    area_or_404,
    int_param,
    render,
    require,
    services,
    tr,
    visible_breadcrumbs,
)

PAGE = 200
WINDOW_KEYS = ("24h", "7d", "30d")

routes = web.RouteTableDef()


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise CctvError(
            400,
            tr(request, "Bad request"),
            tr(
                request,
                "Parameter %(name)s cannot be %(value)r: choose one of %(allowed)s.",
                name=name,
                value=value[:40],
                allowed=", ".join(a for a in allowed if a),
            ),
        )
    return value


async def _area(request: web.Request, path: str) -> Area:
    require(request, Perm.STATS)
    return area_or_404(request, path)


@routes.get("/tech", name="tech_city")
async def tech_city(request: web.Request) -> web.StreamResponse:
    return await _tech(request, "", request.query.get("format", "html"))


@routes.get("/tech.csv")
async def tech_city_csv(request: web.Request) -> web.StreamResponse:
    return await _tech(request, "", "csv")


@routes.get("/tech/{path:.*}", name="tech")
async def tech_area(request: web.Request) -> web.StreamResponse:
    path = request.match_info["path"]
    if path.endswith(".csv"):
        return await _tech(request, path[: -len(".csv")], "csv")
    return await _tech(request, path, request.query.get("format", "html"))


async def _tech(request: web.Request, path: str, fmt: str) -> web.StreamResponse:
    if fmt not in ("html", "csv"):
        raise CctvError(
            400,
            tr(request, "Bad request"),
            tr(request, "Parameter %(name)s cannot be %(value)r: choose one of %(allowed)s.", name="format", value=fmt[:40], allowed="html, csv"),
        )
    area = await _area(request, path)
    svc = services(request)
    tz = request.app[TIMEZONE]
    lang = lang_of(request)
    now = svc.clock.now_ms()
    state = _choice(request, "state", td.STATE_FILTERS, "")
    sort = _choice(request, "sort", td.SORTS, "state")
    direction = _choice(request, "dir", ("asc", "desc"), "asc")
    q = request.query.get("q", "")[:100]
    all_rows = await td.camera_rows(svc, area, now)
    await svc.rollup.acatch_up(now, area.path)  # in slices, before the figures' look-ups below
    rows = await td.sort_rows(td.keep(all_rows, state, q), sort, direction == "desc")
    if fmt == "csv":
        slug = area.path.replace("/", "_") or "kota"
        name = f"cctv-uptime-{slug}-{datetime.fromtimestamp(now / 1000, tz):%Y%m%d-%H%M}.csv"
        return web.Response(
            body=await request.app[TECH_CSV].body(rows, svc.rollup.figures, now),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )
    page = int_param(request, "page", 1, 1, 10**6) or 1
    pages = max(1, -(-len(rows) // PAGE))
    if page > pages:
        raise CctvError(
            400, tr(request, "Bad request"), tr(request, "Parameter %(name)s must be between %(lo)s and %(hi)s.", name="page", lo=1, hi=pages)
        )
    chart_window = _choice(request, "chart", WINDOW_KEYS, "7d")
    per_cam = {r.path: r.tallies for r in all_rows}
    base = f"/tech/{area.path}" if area.path else "/tech"

    def url(**change: object) -> str:
        params = {"state": state, "q": q, "sort": sort, "dir": direction, "chart": chart_window, "page": page}
        params.update(change)
        keep = {k: v for k, v in params.items() if v not in ("", None) and not (k == "page" and v == 1)}
        return base + ("?" + urlencode(keep) if keep else "")

    first = (page - 1) * PAGE
    context = {
        "area": area,
        "level_label": label(lang, LEVELS, area.level),
        "breadcrumbs": [{"path": a.path, "name": a.name} for a in visible_breadcrumbs(request, area.path)],
        "counts": (counts := area_counts(request, area).as_dict()),
        "reason_counts": _reason_counts(counts["reasons"], lang),  # type: ignore[arg-type]
        "summary": _summary(_figures_of(svc, area, area, per_cam, now), lang),
        "children": _children(request, area, per_cam, lang, now),
        "worst": [_camera_view(r, tz, lang, now) for r in await _worst_rows(svc, all_rows, now)],
        "cameras": [_camera_view(r, tz, lang, now) for r in rows[first : first + PAGE]],
        "total": len(rows),
        "all_total": len(all_rows),
        "shown": f"{first + 1 if rows else 0}–{min(first + PAGE, len(rows))}",
        "page": page,
        "pages": pages,
        "prev_url": url(page=page - 1) if page > 1 else "",
        "next_url": url(page=page + 1) if page < pages else "",
        "sort_urls": {
            k: url(sort=k, dir="desc" if k == sort and direction == "asc" else "asc", page=1)
            for k in td.SORTS
        },
        "sort": sort,
        "dir": direction,
        "state": state,
        "q": q,
        "states": [(s, label(lang, TECH_FILTERS, s)) for s in td.STATE_FILTERS],
        "chart": await td.chart(svc, area, now, chart_window, tz, lang),
        "chart_urls": [(w, label(lang, WINDOWS, w), url(chart=w)) for w in WINDOW_KEYS],
        "csv_url": (f"/tech/{area.path}.csv" if area.path else "/tech.csv")
        + (
            "?"
            + urlencode(
                {k: v for k, v in {"state": state, "q": q, "sort": sort, "dir": direction}.items() if v}
            )
        ),
        "now_text": format_ms(now, tz, lang),
        "base_url": base,
    }
    outages, total = td.outage_rows(svc, [r.path for r in all_rows], svc.rollup.recent_since(now), now, tz, lang)
    context["outages"], context["outages_total"] = outages, total
    return render(request, "tech.html", context)


def sum_tallies_per_window(per_cam: Iterable[dict[str, Tally]]) -> dict[str, Tally]:
    """An area's figures: the sum of its cameras' (cctv.rollup.tally: time-weighted, never a mean of percentages)."""
    parts = list(per_cam)
    return {w: sum_tallies(p[w] for p in parts) for w in WINDOW_KEYS}


def _area_figures(area: Area, per_cam: dict[str, dict[str, Tally]]) -> dict[str, Tally]:
    return sum_tallies_per_window(per_cam[c] for c in area.cameras if c in per_cam)


def _figures_of(svc: Any, shown: Area, area: Area, per_cam: dict[str, dict[str, Tally]], now: int
                ) -> dict[str, Tally]:
    """``area``'s figures as the caller sees them: the roll-up model's sums of the whole area (a look-up) when
    the page's area ``shown`` is not cut by the caller's scope, else the sum of the cameras it sees."""
    if len(shown.cameras) == len(svc.sites.area(shown.path).cameras):
        return svc.rollup.area_tallies(area.path, now)  # type: ignore[no-any-return]
    return _area_figures(area, per_cam)


def _reason_counts(reasons: dict[str, int], lang: str) -> list[dict[str, Any]]:
    out = []
    for key, n in reasons.items():
        state, _, reason = key.partition(":")
        out.append(
            {
                "state": state,
                "state_label": state_label(lang, state),
                "reason_text": reason_text(state, reason, lang),
                "n": n,
            }
        )
    return out


def _pct(v: float | None) -> str:
    return "—" if v is None else format_pct(v * 100)


def _dur(ms: float | None) -> str:
    return "—" if ms is None else format_duration(int(ms))


def _summary(by_window: dict[str, Tally], lang: str) -> list[dict[str, str]]:
    return [
        {
            "window": w,
            "label": label(lang, WINDOWS, w),
            "avail": _pct(t.availability),
            "usable": _pct(t.usability),
            "mttr": _dur(t.mttr_ms),
            "mttr_degraded": _dur(t.mttr_degraded_ms),
            "outages": str(t.outages),
            "repaired": str(t.repaired),
        }
        for w, t in by_window.items()
    ]


def _children(
    request: web.Request, area: Area, per_cam: dict[str, dict[str, Tally]], lang: str, now: int
) -> list[dict[str, Any]]:
    svc = services(request)
    sites = svc.sites
    out = []
    for kid in (sites.area(c) for c in area.children):
        f = _figures_of(svc, area, kid, per_cam, now)
        out.append(
            {
                "path": kid.path,
                "name": kid.name,
                "counts": area_counts(request, kid).as_dict(),
                "avail": {w: _pct(f[w].availability) for w in WINDOW_KEYS},
                "usable": _pct(f["24h"].usability),
                "mttr": _dur(f["30d"].mttr_ms),
                "outages": f["7d"].outages,
            }
        )
    return out


async def _worst_rows(svc: Any, rows: list[td.CameraRow], now: int, n: int = 10) -> list[td.CameraRow]:
    by_path = {r.path: r for r in rows}
    ranked = [by_path[c] for c in await svc.rollup.aworst(list(by_path), now, n)]
    return [r for r in ranked if (a := r.tallies["7d"].availability) is not None and a < 1]


def _camera_view(r: td.CameraRow, tz: Any, lang: str, now: int) -> dict[str, Any]:
    return {
        "path": r.path,
        "name": r.name,
        "rt": r.rt,
        "kelurahan": r.kelurahan,
        "rt_path": r.rt_path,
        "state": r.state,
        "state_label": state_label(lang, r.state),
        "reason_text": reason_text(r.state, r.reason, lang) or "—",
        "since": format_ms(r.since_ms, tz, lang),
        "since_ago": format_duration(now - r.since_ms),
        "avail": {w: _pct(r.tallies[w].availability) for w in WINDOW_KEYS},
        "usable": {w: _pct(r.tallies[w].usability) for w in WINDOW_KEYS},
        "outages": r.tallies["30d"].outages,
        "mttr": _dur(r.tallies["30d"].mttr_ms),
        "reconnects": "—" if r.reconnects is None else str(r.reconnects),
    }


# -- JSON ----------------------------------------------------------------------------------------------


def _figures(t: dict[str, Tally]) -> dict[str, Any]:
    return {w: t[w].as_dict() for w in WINDOW_KEYS}


@routes.get("/api/rollup")
async def api_city(request: web.Request) -> web.Response:
    return await _api(request, "")


@routes.get("/api/rollup/{path:.*}")
async def api_area(request: web.Request) -> web.Response:
    return await _api(request, request.match_info["path"])


async def _api(request: web.Request, path: str) -> web.Response:
    area = await _area(request, path)
    svc = services(request)
    now = svc.clock.now_ms()
    rows = await td.camera_rows(svc, area, now)
    await svc.rollup.acatch_up(now, area.path)
    per_cam = {r.path: r.tallies for r in rows}
    worst = await svc.rollup.aworst(list(per_cam), now)
    sites = svc.sites
    kids = [sites.area(c) for c in area.children]
    return web.json_response(
        {
            "path": area.path,
            "name": area.name,
            "level": area.level,
            "now_ms": now,
            "counts": area_counts(request, area).as_dict(),
            "figures": _figures(_figures_of(svc, area, area, per_cam, now)),
            "children": [
                {
                    "path": k.path,
                    "name": k.name,
                    "counts": area_counts(request, k).as_dict(),
                    "figures": _figures(_figures_of(svc, area, k, per_cam, now)),
                }
                for k in kids
            ],
            "worst": [
                {"camera": r.camera, "name": sites.camera(r.camera).name, "figures_7d": r.tally.as_dict()}
                for r in (Ranked(c, per_cam[c]["7d"]) for c in worst)
            ],
        }
    )
