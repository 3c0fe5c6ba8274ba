"""HTML pages: one per level of the hierarchy (city, kecamatan, kelurahan, RT) and one per camera.

area.html context: ``area`` (Area), ``level_label``, ``breadcrumbs`` (list of {path, name}), ``counts``
(Counts.as_dict()), ``children`` (list of {path, name, level, counts}), ``tiles`` (list of tile dicts, see
common.tile), ``total_cameras``, ``capped`` (bool: the grid shows only the first ``GRID_CAP``).

camera.html context: ``cam`` (tile dict), ``breadcrumbs``, ``stats`` (list of (label, value)) or None,
``url_redacted``, ``timeline`` (list of {state, left, width, title}), ``intervals`` (list of {state,
state_label, reason_text, start, end, duration}), ``availability`` (list of {state, label, pct}).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from cctv.auth import Perm
from cctv.messages import StreamStats
from cctv.store import Interval
from web.i18n import format_duration, format_ms, lang_of, reason_text, translate
from web.keys import TIMEZONE
from web.views.common import (
    area_cameras,
    area_counts,
    area_or_404,
    attention_order,
    camera_or_404,
    render,
    require,
    services,
    tile,
    visible_breadcrumbs,
)

GRID_CAP = 64  # tiles on the city page; the child areas' pages show the rest
DAY_MS = 24 * 3600 * 1000
TABLE_ROWS = 20

routes = web.RouteTableDef()


def _crumbs(trail: list[Any]) -> list[dict[str, str]]:
    return [{"path": a.path, "name": a.name} for a in trail]


@routes.get("/", name="city")
async def city_page(request: web.Request) -> web.Response:
    return _area_page(request, "")


@routes.get("/area/{path:.*}", name="area")
async def area_page(request: web.Request) -> web.Response:
    return _area_page(request, request.match_info["path"])


def _area_page(request: web.Request, path: str) -> web.Response:
    who = require(request, Perm.STATUS)
    area = area_or_404(request, path)
    svc = services(request)
    cams = area_cameras(request, area)
    ordered = attention_order(cams)
    capped = area.level == "city" and len(ordered) > GRID_CAP
    if capped:
        ordered = ordered[:GRID_CAP]
    children = [
        {
            "path": child,
            "name": svc.sites.area(child).name,
            "level": svc.sites.area(child).level,
            "counts": svc.live.counts(child).as_dict(),
        }
        for child in area.children
    ]
    context = {
        "area": area,
        "level_label": translate(f"level.{area.level}", lang_of(request)),
        "breadcrumbs": _crumbs(visible_breadcrumbs(request, area.path)),
        "counts": area_counts(request, area).as_dict(),
        "children": children,
        "tiles": [tile(request, c) for c in ordered] if who.can(Perm.LIVE) else [],
        "show_wall": who.can(Perm.LIVE),
        "total_cameras": len(cams),
        "capped": capped,
        "grid_cap": GRID_CAP,
    }
    return render(request, "area.html", context)


@routes.get("/camera/{path:.*}", name="camera")
async def camera_page(request: web.Request) -> web.Response:
    require(request, Perm.LIVE)
    cam = camera_or_404(request, request.match_info["path"])
    svc = services(request)
    lang = lang_of(request)
    tz = request.app[TIMEZONE]
    now = svc.clock.now_ms()
    since = now - DAY_MS
    intervals = await svc.store.aread(svc.store.intervals, camera=cam.path, since_ms=since, until_ms=now + 1)
    availability = await svc.store.aread(svc.store.availability, cam.path, since, now)
    context = {
        "cam": tile(request, cam),
        "breadcrumbs": _crumbs(visible_breadcrumbs(request, cam.path)),
        "stats": _stats(cam.stats, tz, lang),
        "motion_score": cam.motion_score,
        "url_redacted": cam.site.url_redacted,
        "timeline": _timeline(intervals, since, now, tz, lang),
        "intervals": _interval_rows(intervals, now, tz, lang),
        "availability": _availability(availability, lang),
    }
    return render(request, "camera.html", context)


def _stats(s: StreamStats | None, tz: ZoneInfo, lang: str) -> list[tuple[str, str]] | None:
    if s is None:
        return None
    resolution = f"{s.width}×{s.height}" if s.width and s.height else "—"
    keyframe = f"{s.keyframe_interval_s:.1f} s" if s.keyframe_interval_s is not None else "—"
    def t(key: str) -> str:
        return translate(key, lang)

    return [
        (t("camera.fps"), f"{s.fps:.1f}"),
        (t("camera.bitrate"), f"{s.bitrate_bps / 1000:.0f} kbit/s"),
        (t("camera.keyframe"), keyframe),
        (t("camera.resolution"), resolution),
        (t("camera.codec"), s.codec or "—"),
        (t("camera.decode"), s.decode_mode),
        (t("camera.reconnects"), str(s.reconnects)),
        (t("camera.last_packet"), format_ms(s.last_packet_ms, tz, lang)),
    ]


def _timeline(intervals: list[Interval], since: int, now: int, tz: ZoneInfo, lang: str) -> list[dict[str, Any]]:
    window = now - since
    bars = []
    for iv in intervals:
        lo, hi = max(iv.start_ms, since), min(iv.end_ms if iv.end_ms is not None else now, now)
        if hi <= lo:
            continue
        label = translate(f"state.{iv.state}", lang)
        words = reason_text(iv.state, iv.reason, lang)
        title = f"{label}{' — ' + words if words else ''}: {format_ms(lo, tz, lang)} → {format_ms(hi, tz, lang)}"
        bars.append({
            "state": iv.state,
            "left": round((lo - since) * 100 / window, 3),
            "width": round((hi - lo) * 100 / window, 3),
            "title": title,
        })
    return bars


def _interval_rows(intervals: list[Interval], now: int, tz: ZoneInfo, lang: str) -> list[dict[str, str]]:
    rows = []
    for iv in reversed(intervals[-TABLE_ROWS:]):
        end = iv.end_ms if iv.end_ms is not None else now
        rows.append({
            "state": iv.state,
            "state_label": translate(f"state.{iv.state}", lang),
            "reason_text": reason_text(iv.state, iv.reason, lang),
            "start": format_ms(iv.start_ms, tz, lang),
            "end": format_ms(iv.end_ms, tz, lang) if iv.end_ms is not None else translate("camera.ongoing", lang),
            "duration": format_duration(end - iv.start_ms),
        })
    return rows


def _availability(ms_by_state: dict[str, int], lang: str) -> list[dict[str, Any]]:
    rows = []
    covered = 0
    for state in ("online", "degraded", "offline"):
        ms = ms_by_state.get(state, 0)
        covered += ms
        rows.append({"state": state, "label": translate(f"state.{state}", lang), "pct": ms * 100 / DAY_MS})
    rows.append({
        "state": "unknown",
        "label": translate("camera.no_data", lang),
        "pct": max(0, DAY_MS - covered) * 100 / DAY_MS,
    })
    return rows
