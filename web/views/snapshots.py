"""The latest JPEG of a camera: ``GET /snapshot/{path}.jpg`` with an ETag, 304 on a match, 404 when none."""

from __future__ import annotations

import asyncio

from aiohttp import web

from cctv.auth import Perm
from web.errors import CctvError
from web.views.common import camera_or_404, require, services, tr

routes = web.RouteTableDef()


@routes.get("/snapshot/{path:[^/]+/[^/]+/[^/]+/[^/]+}.jpg")
async def snapshot(request: web.Request) -> web.Response:
    require(request, Perm.LIVE)
    cam = camera_or_404(request, request.match_info["path"])
    # The store reads its disk mirror the first time after a restart: keep that off the event loop.
    snap = await asyncio.to_thread(services(request).snapshots.get, cam.path)
    if snap is None:
        raise CctvError(404, tr(request, "error.404"), tr(request, "error.no_snapshot"))
    etag = snap.etag
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    if any(e.value in (etag, "*") for e in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    return web.Response(body=snap.jpeg, content_type="image/jpeg", headers=headers)
