"""JSON API under /api/, and /healthz. Errors answer ``{"error": {"status", "title", "detail"}}``."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from cctv.accounts.policy import Perm
from web.errors import CctvError
from web.keys import SOCKET_HUB
from web.views.access import (
    area_cameras,
    area_json,
    area_or_404,
    camera_json,
    camera_or_404,
    int_param,
    require,
    services,
    tr,
)

CAMERA_PATH = "{path:[^/]+/[^/]+/[^/]+/[^/]+}"  # kecamatan/kelurahan/rt/camera
MAX_MS = 10**14  # year 5138: anything larger is a mistake
MAX_INTERVALS = 10_000

routes = web.RouteTableDef()


@routes.get("/api/cameras")
async def cameras(request: web.Request) -> web.Response:
    require(request, Perm.STATUS)
    area = area_or_404(request, request.query.get("area", ""))
    return web.json_response([camera_json(c) for c in area_cameras(request, area)])


@routes.get(f"/api/cameras/{CAMERA_PATH}/intervals")
async def camera_intervals(request: web.Request) -> web.Response:
    require(request, Perm.STATUS)
    cam = camera_or_404(request, request.match_info["path"])
    since_ms = int_param(request, "since_ms", None, 0, MAX_MS)
    until_ms = int_param(request, "until_ms", None, 0, MAX_MS)
    limit = int_param(request, "limit", 1000, 1, MAX_INTERVALS)
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise CctvError(400, tr(request, "Bad request"), tr(request, "until_ms must be greater than since_ms."))
    store = services(request).store
    rows = await store.aread(store.intervals, camera=cam.path, since_ms=since_ms, until_ms=until_ms, limit=limit)
    return web.json_response({"camera": cam.path, "intervals": [asdict(r) for r in rows]})


@routes.get(f"/api/cameras/{CAMERA_PATH}")
async def camera(request: web.Request) -> web.Response:
    who = require(request, Perm.STATUS)
    cam = camera_or_404(request, request.match_info["path"])
    body = camera_json(cam)
    if who.can(Perm.STATS):  # the host of a camera is for those who fix it
        body["url_redacted"] = cam.site.url_redacted
    return web.json_response(body)


@routes.get("/api/areas")
async def city(request: web.Request) -> web.Response:
    require(request, Perm.STATUS)
    return web.json_response(area_json(request, area_or_404(request, "")))


@routes.get("/api/areas/{path:.*}")
async def area(request: web.Request) -> web.Response:
    require(request, Perm.STATUS)
    return web.json_response(area_json(request, area_or_404(request, request.match_info["path"])))


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    svc = services(request)
    hub = request.app[SOCKET_HUB]
    ingest, probe_errors = svc.health()
    body = {
        "status": "ok",
        "cameras": len(svc.live.cameras("")),
        "bus_dropped": svc.bus.dropped,
        "ws_dropped": hub.dropped,
        "ws_resyncs": hub.resyncs,
        "snapshot_write_errors": svc.snapshots.write_errors,
        "probe_errors": probe_errors,
        # the daily tallies: done, pending (docs/status.md); cameras whose figures wait to be brought up to date
        "rollup": {**svc.rollup.tallier.health(), "figures_waiting": svc.rollup.figures.waiting},
        # status changes older than what the models hold (re-sent after a reconnect), ignored
        "stale_ignored": {"live": svc.live.stale, "rollup": svc.rollup.stale},
        "ingest": ingest,
    }
    return web.json_response(body)
