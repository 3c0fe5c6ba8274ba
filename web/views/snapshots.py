"""``GET /snapshot/{path}.jpg[?w=WIDTH][&t=VERSION]``: a camera's latest JPEG.

``w`` asks for a picture about that wide: it is rounded up to one of ``cctv.status.snapshots.SIZES`` and never
scales up (a wider request gets the snapshot as stored). Scaled copies are cached per (camera, width,
snapshot version). ``t`` is ignored by the server: pages put the snapshot's time there so that a new
snapshot is a new URL. Every answer carries an ``ETag`` (per version and width) and ``Cache-Control:
no-cache``: the browser asks again when the WebSocket says the snapshot changed and gets a 304 when it did
not. 404 when the camera has no picture yet. On a web node among many, the picture comes from the ingest node
that watches the camera (web/node_client.py).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.status.snapshots import fit_width, sized_etag
from web.errors import CctvError
from web.keys import NODE_CLIENT
from web.node_client import NodeClient, NodeUnreachable
from web.views.access import camera_or_404, int_param, require, services, tr

routes = web.RouteTableDef()

MAX_REQUESTED_WIDTH = 10_000


@routes.get("/snapshot/{path:[^/]+/[^/]+/[^/]+/[^/]+}.jpg")
async def snapshot(request: web.Request) -> web.Response:
    require(request, Perm.LIVE)
    cam = camera_or_404(request, request.match_info["path"])
    requested = int_param(request, "w", None, 1, MAX_REQUESTED_WIDTH)  # malformed: 400, before any work
    width = fit_width(requested) if requested is not None else None
    client = request.app.get(NODE_CLIENT)
    if client is not None:  # a web node among many: the picture is on the ingest node that watches the camera
        return await _remote(request, client, cam.path, width)
    store = services(request).snapshots
    # The store reads its disk mirror the first time after a restart: keep that off the event loop.
    src = await asyncio.to_thread(store.get, cam.path)
    if src is None:
        raise CctvError(404, tr(request, "Not found"), tr(request, "No snapshot of this camera yet."))
    etag = src.etag if width is None else sized_etag(src, width)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    if any(e.value in (etag, "*") for e in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    snap = (
        src
        if width is None or etag == src.etag
        else await asyncio.to_thread(store.sized, cam.path, src, width)
    )
    return web.Response(body=snap.jpeg, content_type="image/jpeg", headers=headers)


async def _remote(request: web.Request, client: NodeClient, camera: str, width: int | None) -> web.Response:
    newest = services(request).live.camera(camera).snapshot_ms  # the latest the bus announced
    try:
        snap = await client.snapshot(camera, width, newest)
    except NodeUnreachable:
        raise CctvError(404, tr(request, "Not found"), tr(
            request, "No snapshot of this camera now: the node that watches it cannot be reached.")) from None
    if snap is None:
        raise CctvError(404, tr(request, "Not found"), tr(request, "No snapshot of this camera yet."))
    headers = {"ETag": f'"{snap.etag}"', "Cache-Control": "no-cache"}
    if any(e.value in (snap.etag, "*") for e in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    return web.Response(body=snap.jpeg, content_type="image/jpeg", headers=headers)
