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
from cctv.status.snapshots import SnapshotStore, fit_width, sized_etag
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
    answer = await stored_snapshot(request, services(request).snapshots, cam.path, width)
    if answer is None:
        raise CctvError(404, tr(request, "Not found"), tr(request, "No snapshot of this camera yet."))
    return answer


async def stored_snapshot(request: web.Request, store: SnapshotStore, camera: str, width: int | None, *,
                          with_time: bool = False) -> web.Response | None:
    """The camera's snapshot in this node's store at ``width`` (a 304 when the caller has it); None when there
    is none. Also the ingest node's internal answer (web/internal.py), ``with_time``: its ``X-Snapshot-Ms``."""
    # The store reads its disk mirror the first time after a restart: keep that off the event loop.
    src = await asyncio.to_thread(store.get, camera)
    if src is None:
        return None
    etag = src.etag if width is None else sized_etag(src, width)
    if width is not None and etag != src.etag and not _has(request, etag):  # scaled only when it is sent
        src = await asyncio.to_thread(store.sized, camera, src, width)
    return jpeg(request, src.jpeg, etag, {"X-Snapshot-Ms": str(src.t_ms)} if with_time else None)


def _has(request: web.Request, etag: str) -> bool:
    return any(e.value in (etag, "*") for e in request.if_none_match or ())


def jpeg(request: web.Request, body: bytes, etag: str, headers: dict[str, str] | None = None) -> web.Response:
    """A JPEG answer with its ``ETag`` and ``Cache-Control: no-cache``, or a 304 when the caller has it."""
    h = {"ETag": f'"{etag}"', "Cache-Control": "no-cache", **(headers or {})}
    if _has(request, etag):
        return web.Response(status=304, headers=h)
    return web.Response(body=body, content_type="image/jpeg", headers=h)


async def _remote(request: web.Request, client: NodeClient, camera: str, width: int | None) -> web.Response:
    newest = services(request).live.camera(camera).snapshot_ms  # the latest the bus announced
    try:
        snap = await client.snapshot(camera, width, newest)
    except NodeUnreachable:
        raise CctvError(404, tr(request, "Not found"), tr(
            request, "No snapshot of this camera now: the node that watches it cannot be reached.")) from None
    if snap is None:
        raise CctvError(404, tr(request, "Not found"), tr(request, "No snapshot of this camera yet."))
    return jpeg(request, snap.jpeg, snap.etag)
