"""An ingest node's own HTTP server (``cctv ingest``): what the web nodes and the operators' monitoring ask it.

Never a page: browsers talk to web nodes only (docs/nodes.md). ``/healthz`` (role, name, ingest figures) is
open, like a web node's; everything under ``/internal/`` needs ``Authorization: Bearer <node.secret>`` —
compared in constant time, refused with a bare 401 that says nothing more — and answers for the cameras whose
data this node has:

- ``GET /internal/snapshot/{camera}.jpg[?w=WIDTH]``: the camera's latest JPEG (scaled as the web's own
  snapshot route does), with ``ETag`` and ``X-Snapshot-Ms``; 304 on a matching ``If-None-Match``; 404 when
  this node has none.
- ``GET /internal/segment/{id}``: a recording segment this node's disk holds (its row names this node), as
  written (the caller checks its SHA-256 against the row); 404 for any other id.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from cctv.app.services import Services
from cctv.config.node import node_name
from cctv.status.snapshots import fit_width
from cctv.store.segment_models import SegmentRow
from web.keys import SERVICES
from web.views.snapshots import stored_snapshot

MAX_WIDTH = 10_000


async def healthz(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    ingest, probe_errors = svc.health()
    return web.json_response({"status": "ok", "role": "ingest", "node": node_name(svc.config.node),
                              "bus_dropped": svc.bus.dropped, "probe_errors": probe_errors, "ingest": ingest})


@web.middleware
async def node_secret(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    if request.path.startswith("/internal/"):
        secret = request.app[SERVICES].config.node.secret
        given = request.headers.get("Authorization", "")
        if not secret or not hmac.compare_digest(given.encode(), f"Bearer {secret}".encode()):
            return web.Response(status=401, text="401: node secret required\n")
    return await handler(request)


async def snapshot(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    path = request.match_info["path"]
    raw = request.query.get("w")
    if not svc.sites.has_camera(path):
        return web.Response(status=404, text="404: no such camera\n")
    try:
        requested = None if raw is None else int(raw)
    except ValueError:
        return web.Response(status=400, text="400: bad width\n")
    if requested is not None and not 1 <= requested <= MAX_WIDTH:
        return web.Response(status=400, text="400: width out of range\n")
    width = fit_width(requested) if requested is not None else None
    answer = await stored_snapshot(request, svc.snapshots, path, width, with_time=True)
    return answer or web.Response(status=404, text="404: no snapshot of this camera here\n")


def _segment_path(svc: Services, segment_id: int) -> Path | None:
    with svc.store.engine.connect() as conn:
        rel = conn.execute(select(SegmentRow.path).where(
            SegmentRow.id == segment_id, SegmentRow.node == node_name(svc.config.node),
            SegmentRow.garbage.is_(False))).scalar()
    if rel is None:
        return None
    path = Path(svc.exports.recordings) / rel
    return path if path.is_file() else None


async def segment(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    path = await svc.store.aread(_segment_path, svc, int(request.match_info["id"]))
    if path is None:
        return web.Response(status=404, text="404: no such segment on this node\n")
    return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"})


def create_internal_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=64 * 1024, middlewares=[node_secret])
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/internal/snapshot/{path:[^/]+/[^/]+/[^/]+/[^/]+}.jpg", snapshot)
    app.router.add_get(r"/internal/segment/{id:\d{1,18}}", segment)
    return app
