"""The control-room tile wall.

- ``GET /wall`` (the city as the caller sees it: the whole city for a city-wide account, else their scope
  roots) and ``GET /wall/{path}`` (a kecamatan, kelurahan or RT): one page of n×n snapshot tiles,
  attention-first (``cctv.status.attention``), with the operator's grid size, paging, auto-cycling and full screen
  (web/static/wall.js). ``?grid=2..8`` and ``?page=N`` override; otherwise the grid comes from the browser's
  ``wall_grid`` cookie (set by wall.js), default 4.
- ``GET /api/wall?area=PATH&page=N&per_page=K``: one page of tiles as JSON, in the caller's language. wall.js
  reads it when it pages, cycles, or re-sorts after a state change (colour changes need no request: the
  WebSocket message carries them).

wall.html context: ``area``, ``level_label``, ``breadcrumbs``, ``counts``, ``grid`` (n), ``grids``,
``page``, ``pages``, ``total``, ``tiles`` (this page's tile dicts, see common.tile), ``cycle_s``, ``cycles``,
``sizes`` (widths /snapshot serves), ``img_sizes`` (the
<img sizes> hint).
"""

from __future__ import annotations

import math

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.rollup.tally import Counts, count_states
from cctv.sites import Area
from cctv.status.attention import attention_order, is_night
from cctv.status.live_model import CameraLive
from cctv.status.snapshots import SIZES
from web.i18n import lang_of
from web.i18n_labels import LEVELS, label
from web.keys import TIMEZONE
from web.views.access import (
    area_cameras,
    area_or_404,
    int_param,
    render,
    require,
    services,
    tile,
    visible_breadcrumbs,
)

GRIDS = tuple(range(2, 9))  # 2x2 .. 8x8
DEFAULT_GRID = 4
CYCLES = (0, 5, 10, 15, 30, 60)  # seconds per page when auto-cycling; 0 = off
GRID_COOKIE = "wall_grid"
CYCLE_COOKIE = "wall_cycle"
MAX_PAGE = 1_000_000
MAX_PER_PAGE = GRIDS[-1] ** 2

routes = web.RouteTableDef()


def ordered_cameras(request: web.Request, area: Area) -> list[CameraLive]:
    """The area's cameras (cut to the caller's scope), attention-first at the current site time."""
    night = is_night(services(request).clock.now_ms(), request.app[TIMEZONE])
    return attention_order(area_cameras(request, area), night)


def counts_of(cams: list[CameraLive]) -> Counts:
    return count_states((c.state, c.reason, c.motion) for c in cams)


def page_slice(total: int, page: int, per_page: int) -> tuple[int, int, int, int]:
    """(page, pages, start, stop): ``page`` clamped to the pages there are (at least one, even when empty)."""
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return page, pages, start, min(total, start + per_page)


def _cookie_choice(request: web.Request, name: str, allowed: tuple[int, ...], default: int) -> int:
    """A remembered choice from a cookie; anything else there (old, edited) is ignored, not an error."""
    raw = request.cookies.get(name, "")
    return int(raw) if raw.isdigit() and int(raw) in allowed else default


@routes.get("/wall", name="city_wall")
async def city_wall(request: web.Request) -> web.Response:
    return _wall_page(request, "")


@routes.get("/wall/{path:.*}", name="wall")
async def area_wall(request: web.Request) -> web.Response:
    return _wall_page(request, request.match_info["path"])


def _wall_page(request: web.Request, path: str) -> web.Response:
    require(request, Perm.LIVE)
    area = area_or_404(request, path)
    grid = int_param(request, "grid", None, GRIDS[0], GRIDS[-1]) or _cookie_choice(
        request, GRID_COOKIE, GRIDS, DEFAULT_GRID
    )
    wanted = int_param(request, "page", 1, 1, MAX_PAGE) or 1
    cams = ordered_cameras(request, area)
    page, pages, start, stop = page_slice(len(cams), wanted, grid * grid)
    context = {
        "area": area,
        "level_label": label(lang_of(request), LEVELS, area.level),
        "breadcrumbs": [{"path": a.path, "name": a.name} for a in visible_breadcrumbs(request, area.path)],
        "counts": counts_of(cams).as_dict(),
        "grid": grid,
        "grids": GRIDS,
        "page": page,
        "pages": pages,
        "total": len(cams),
        "tiles": [tile(request, c) for c in cams[start:stop]],
        "cycle_s": _cookie_choice(request, CYCLE_COOKIE, CYCLES, 0),
        "cycles": CYCLES,
        "sizes": SIZES,
        "img_sizes": f"calc(100vw / {grid})",
    }
    return render(request, "wall.html", context)


@routes.get("/api/wall")
async def wall_json(request: web.Request) -> web.Response:
    require(request, Perm.LIVE)
    area = area_or_404(request, request.query.get("area", ""))
    per_page = int_param(request, "per_page", DEFAULT_GRID**2, 1, MAX_PER_PAGE) or 1
    wanted = int_param(request, "page", 1, 1, MAX_PAGE) or 1
    cams = ordered_cameras(request, area)
    page, pages, start, stop = page_slice(len(cams), wanted, per_page)
    return web.json_response(
        {
            "area": area.path,
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "total": len(cams),
            "counts": counts_of(cams).as_dict(),
            "tiles": [tile(request, c) for c in cams[start:stop]],
        }
    )
