"""HTML pages: one per level of the hierarchy (city, kecamatan, kelurahan, RT) and one per camera.

area.html context: ``area`` (Area), ``level_label``, ``breadcrumbs`` (list of {path, name}), ``counts``
(Counts.as_dict()), ``children`` (list of {path, name, level, counts}), ``tiles`` (list of tile dicts, see
common.tile, attention-first: cctv.status.attention), ``show_wall`` (the caller may see pictures), ``total_cameras``,
``capped`` (bool: the grid shows only the first ``GRID_CAP``; the tile wall pages through all), ``grid_cap``,
``wall_url``, ``sizes``, ``img_sizes`` (see web/views/wall.py).

camera.html context: ``cam`` (tile dict), ``breadcrumbs``, ``stats`` (list of (label, value)) or None,
``url_redacted``, ``timeline`` (list of {state, left, width, title, mixed}: at most ~2/``TIMELINE_MIN_PCT``
bars, see :func:`timeline_bars`), ``intervals`` (list of {state, state_label, reason_text, start, end,
duration}), ``availability`` (list of {state, label, pct}).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.status.messages import StreamStats
from cctv.status.snapshots import SIZES
from cctv.store import Interval
from web.i18n import format_duration, format_ms, format_number, gettext, lang_of, ngettext
from web.i18n_labels import LEVELS, label, reason_text, state_label
from web.keys import TIMEZONE
from web.views.access import (
    area_counts,
    area_or_404,
    camera_or_404,
    render,
    require,
    services,
    tile,
    visible_breadcrumbs,
)
from web.views.camera_history import day_windows, motion_rows, uptime_columns
from web.views.wall import ordered_cameras

GRID_CAP = 64  # tiles on an area page; the tile wall (/wall/PATH) pages through the rest
TIMELINE_MIN_PCT = (
    0.25  # an interval narrower than this (3.6 min of 24 h) is "tiny": merged with tiny neighbours
)
WORST = {"offline": 0, "degraded": 1, "online": 2}
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
    ordered = ordered_cameras(request, area)
    total = len(ordered)
    capped = total > GRID_CAP
    if capped:
        ordered = ordered[:GRID_CAP]
    children = [
        {
            "path": child,
            "name": svc.sites.area(child).name,
            "level": svc.sites.area(child).level,
            "counts": svc.aggregates.counts(child).as_dict(),
        }
        for child in area.children
    ]
    context = {
        "area": area,
        "level_label": label(lang_of(request), LEVELS, area.level),
        "breadcrumbs": _crumbs(visible_breadcrumbs(request, area.path)),
        "counts": area_counts(request, area).as_dict(),
        "children": children,
        "tiles": [tile(request, c) for c in ordered] if who.can(Perm.LIVE) else [],
        "show_wall": who.can(Perm.LIVE),
        "total_cameras": total,
        "capped": capped,
        "grid_cap": GRID_CAP,
        "wall_url": f"/wall/{area.path}" if area.path else "/wall",
        "sizes": SIZES,
        "img_sizes": "(max-width: 800px) 50vw, 320px",
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
        "timeline": timeline_bars(intervals, since, now, tz, lang),
        "intervals": _interval_rows(intervals, now, tz, lang),
        "availability": _availability(availability, lang),
        **await _history(svc, cam.path, now, tz, lang),
    }
    return render(request, "camera.html", context)


async def _history(svc: Any, camera: str, now: int, tz: ZoneInfo, lang: str) -> dict[str, Any]:
    """Daily uptime for the chart and the last 24 h of motion events (docs/web.md, camera page)."""
    windows = day_windows(now, tz)

    def read() -> tuple[list[dict[str, int]], list[dict[str, Any]]]:
        days = [svc.store.availability(camera, lo, hi) for lo, hi in windows]
        return days, svc.store.motion_events(camera, since_ms=now - DAY_MS, limit=50)

    days, events = await svc.store.aread(read)
    return {"uptime": uptime_columns(windows, days, tz, lang), "motion_events": motion_rows(events, now, tz, lang)}


def _stats(s: StreamStats | None, tz: ZoneInfo, lang: str) -> list[tuple[str, str]] | None:
    if s is None:
        return None
    resolution = f"{s.width}×{s.height}" if s.width and s.height else "—"
    keyframe = f"{format_number(s.keyframe_interval_s, lang)} s" if s.keyframe_interval_s is not None else "—"
    return [
        (gettext(lang, "FPS"), format_number(s.fps, lang)),
        (gettext(lang, "Bitrate"), f"{format_number(s.bitrate_bps / 1000, lang, 0)} kbit/s"),
        (gettext(lang, "Keyframe interval"), keyframe),
        (gettext(lang, "Resolution"), resolution),
        (gettext(lang, "Codec"), s.codec or "—"),
        (gettext(lang, "Decode mode"), s.decode_mode),
        (gettext(lang, "Reconnects"), str(s.reconnects)),
        (gettext(lang, "Last packet"), format_ms(s.last_packet_ms, tz, lang)),
    ]


def timeline_bars(
    intervals: list[Interval],
    since: int,
    now: int,
    tz: ZoneInfo,
    lang: str,
    min_pct: float = TIMELINE_MIN_PCT,
) -> list[dict[str, Any]]:
    """Bars of the state timeline over [since, now], bounded however much a camera flapped.

    An interval at least ``min_pct`` of the window wide is drawn as it is (there are at most 100/min_pct of
    those). A run of narrower ones between two wide ones is drawn as one bar: exact when the run is a single
    interval, else a "mixed" bar in the worst state of the run (offline, then degraded), titled with how many
    changes it holds. So there are at most 2 * 100/min_pct + 1 bars, and a short outage never disappears.
    """
    window = now - since
    min_ms = window * min_pct / 100
    clipped = []
    for iv in intervals:
        lo, hi = max(iv.start_ms, since), min(iv.end_ms if iv.end_ms is not None else now, now)
        if hi > lo:
            clipped.append((iv, lo, hi))

    def bar(state: str, lo: int, hi: int, title: str, mixed: bool = False) -> dict[str, Any]:
        return {
            "state": state,
            "left": round((lo - since) * 100 / window, 3),
            "width": round((hi - lo) * 100 / window, 3),
            "title": title,
            "mixed": mixed,
        }

    def exact(iv: Interval, lo: int, hi: int) -> dict[str, Any]:
        label = state_label(lang, iv.state)
        words = reason_text(iv.state, iv.reason, lang)
        span = f"{format_ms(lo, tz, lang)} → {format_ms(hi, tz, lang)}"
        return bar(iv.state, lo, hi, f"{label}{' — ' + words if words else ''}: {span}")

    bars: list[dict[str, Any]] = []
    run: list[tuple[Interval, int, int]] = []

    def flush() -> None:
        if len(run) == 1:
            bars.append(exact(*run[0]))
        elif run:
            worst = min((iv.state for iv, _, _ in run), key=lambda s: WORST.get(s, 0))
            lo, hi = run[0][1], run[-1][2]
            span = f"{format_ms(lo, tz, lang)} → {format_ms(hi, tz, lang)}"
            title = ngettext(
                lang,
                "%(num)s state change, worst: %(worst)s: %(span)s",
                "%(num)s state changes, worst: %(worst)s: %(span)s",
                len(run),
                worst=state_label(lang, worst),
                span=span,
            )
            bars.append(bar(worst, lo, hi, title, mixed=True))
        run.clear()

    for iv, lo, hi in clipped:
        if hi - lo < min_ms:
            run.append((iv, lo, hi))
        else:
            flush()
            bars.append(exact(iv, lo, hi))
    flush()
    return bars


def _interval_rows(intervals: list[Interval], now: int, tz: ZoneInfo, lang: str) -> list[dict[str, str]]:
    rows = []
    for iv in reversed(intervals[-TABLE_ROWS:]):
        end = iv.end_ms if iv.end_ms is not None else now
        rows.append(
            {
                "state": iv.state,
                "state_label": state_label(lang, iv.state),
                "reason_text": reason_text(iv.state, iv.reason, lang),
                "start": format_ms(iv.start_ms, tz, lang),
                "end": format_ms(iv.end_ms, tz, lang)
                if iv.end_ms is not None
                else gettext(lang, "ongoing"),
                "duration": format_duration(end - iv.start_ms),
            }
        )
    return rows


def _availability(ms_by_state: dict[str, int], lang: str) -> list[dict[str, Any]]:
    rows = []
    covered = 0
    for state in ("online", "degraded", "offline"):
        ms = ms_by_state.get(state, 0)
        covered += ms
        rows.append({"state": state, "label": state_label(lang, state), "pct": ms * 100 / DAY_MS})
    rows.append(
        {
            "state": "unknown",
            "label": gettext(lang, "No data"),
            "pct": max(0, DAY_MS - covered) * 100 / DAY_MS,
        }
    )
    return rows
