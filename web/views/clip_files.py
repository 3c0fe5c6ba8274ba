"""Downloads of exported clips and manifests, and the node's public key.

- ``GET /clips/{id}/clip/{n}``, ``GET /clips/{id}/manifest/{n}``: camera ``n`` (1-based) of a ready request,
  for its requester and for admins only (``cctv.evidence.requests.check(..., "download")``). Every download is audited
  (``clip.download``: who, which file, its SHA-256) before the first byte leaves; every refusal too
  (``clip.denied``). Range requests are served (a large clip resumes).
- ``GET /keys/node.pub``: the node's Ed25519 public key (PEM), public: anyone checking a clip needs it. Its
  fingerprint is on every clip page and in every manifest.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from web.errors import CctvError
from web.views.access import services, tr
from web.views.clip_access import audit, load

routes = web.RouteTableDef()

KINDS = {
    "clip": ("clip_file", "clip_sha256", "video/mp4"),
    "manifest": ("manifest_file", "manifest_sha256", "application/json"),
}


@routes.get(r"/clips/{id:\d+}/{kind:clip|manifest}/{n:\d{1,3}}")
async def download(request: web.Request) -> web.StreamResponse:
    who, req, _ = await load(request, "download")
    kind = request.match_info["kind"]
    n = int(request.match_info["n"])
    svc = services(request)
    cam = next((c for c in req.cameras if c.position == n), None)
    name_attr, sha_attr, content_type = KINDS[kind]
    name = getattr(cam, name_attr) if cam is not None else None
    path = await asyncio.to_thread(svc.exports.file, req.id, name) if name else None
    if cam is None or path is None:
        raise CctvError(404, tr(request, "Not found"), tr(request, "There is no such file."))
    detail = {
        "file": name,
        "kind": kind,
        "camera": cam.camera,
        "sha256": getattr(cam, sha_attr),
        "case": req.case_ref,
    }
    if "Range" in request.headers:  # a part (a resumed download): which one, as sent
        detail["range"] = request.headers["Range"][:64]
    await audit(request, who.username, "clip.download", req.id, detail)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',  # names are [A-Za-z0-9._-] (clip_stem)
            "Cache-Control": "private, no-store",
        },
    )


@routes.get("/keys/node.pub")
async def public_key(request: web.Request) -> web.Response:
    svc = services(request)
    key = await asyncio.to_thread(svc.exports.key)
    return web.Response(
        text=key.public_pem,
        content_type="application/x-pem-file",
        headers={
            "Content-Disposition": 'inline; filename="node.pub"',
            "X-Key-Fingerprint": key.fingerprint,
            "Cache-Control": "no-cache",
        },
    )
