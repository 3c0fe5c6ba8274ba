"""What the clip pages share: the role check, loading a request the caller may see (refusals audited), the
request's shape for templates and JSON.

A request the caller may not see answers 404 exactly as one that does not exist; a refusal about a request that
does exist (someone else's, out of scope, not approved yet, the requester approving their own...) is appended
to the audit log as ``clip.denied`` with what was attempted and why.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cctv.accounts.policy import Perm, Principal
from cctv.evidence.requests import (
    ClipError,
    ClipRequest,
    State,
    allowed_actions,
    check,
    holder,
    not_found,
    visible,
)
from web.errors import CctvError
from web.i18n import format_duration, format_ms, iso_utc, lang_of
from web.i18n_labels import CLIP_ERRORS, CLIP_STATES, ERROR_TITLES, label
from web.keys import TIMEZONE
from web.security import principal_of
from web.views.access import services, tr

MAX_ID = 2**62


def require_clips(request: web.Request) -> Principal:
    """The caller, if they may file or decide clip requests (police, operators, admins); else 403."""
    p = principal_of(request)
    if p is None:
        raise CctvError(401, tr(request, "Login required"), tr(request, "Please log in first."))
    if not (p.can(Perm.CLIPS_REQUEST) or p.can(Perm.CLIPS_APPROVE)):
        raise CctvError(403, tr(request, "Forbidden"), tr(request, "You may not see this."))
    return p


def request_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or int(raw) > MAX_ID:
        raise CctvError(404, tr(request, "Not found"), tr(request, "Unknown clip request: %(id)s", id=raw[:20]))
    return int(raw)


def http_error(request: web.Request, err: ClipError) -> CctvError:
    params = {
        k: (label(lang_of(request), CLIP_STATES, v) if k == "state" else v)
        for k, v in err.params.items()
    }
    return CctvError(
        err.status,
        label(lang_of(request), ERROR_TITLES, err.status) if err.status != 409 else tr(request, "Already changed"),
        label(lang_of(request), CLIP_ERRORS, err.code, **params),
    )


async def audit(request: web.Request, who: str, action: str, rid: int, detail: dict[str, Any]) -> None:
    svc = services(request)
    await svc.store.awrite(svc.audit.append, svc.clock.now_ms(), who, action, holder(rid), detail)


async def load(request: web.Request, action: str = "view") -> tuple[Principal, ClipRequest, State | None]:
    """The caller, the request of the URL, and the state ``action`` leads to (None for "view"), or the error
    to answer with (refusals about an existing request are audited)."""
    who = require_clips(request)
    rid = request_id(request)
    svc = services(request)
    req = await svc.store.aread(svc.clips.get, rid)
    if req is None:
        raise http_error(request, not_found(rid))
    try:
        if action == "view":
            check_visible(who, req)
            return who, req, None
        return who, req, check(who, req, action)
    except ClipError as err:
        await audit(
            request, who.username, "clip.denied", rid, {"do": action, "status": err.status, "why": err.code}
        )
        raise http_error(request, err) from None


def check_visible(who: Principal, req: ClipRequest) -> None:
    if not visible(who, req):
        raise not_found(req.id)


def camera_label(request: web.Request, path: str) -> dict[str, str]:
    sites = services(request).sites
    if not sites.has_camera(path):
        return {"path": path, "name": path, "place": ""}
    cam = sites.camera(path)
    place = " › ".join(a.name for a in sites.ancestors(path)[1:])
    return {"path": path, "name": cam.name, "place": place}


def file_urls(req: ClipRequest, position: int) -> dict[str, str]:
    return {"clip": f"/clips/{req.id}/clip/{position}", "manifest": f"/clips/{req.id}/manifest/{position}"}


def request_json(request: web.Request, who: Principal, req: ClipRequest) -> dict[str, Any]:
    """The API shape of a request the caller may see (file links only for who may download)."""
    actions = allowed_actions(who, req)
    cameras = []
    for c in req.cameras:
        item: dict[str, Any] = {**camera_label(request, c.camera), "position": c.position}
        if req.state == State.READY:
            item["exported"] = c.clip_file is not None
            if c.clip_file is not None:
                item.update(
                    {
                        "clip_file": c.clip_file,
                        "clip_sha256": c.clip_sha256,
                        "clip_size_bytes": c.clip_size_bytes,
                        "manifest_file": c.manifest_file,
                        "manifest_sha256": c.manifest_sha256,
                        "actual_start": iso_utc(c.actual_start_ms),
                        "actual_end": iso_utc(c.actual_end_ms),
                    }
                )
                if "download" in actions:
                    item["urls"] = file_urls(req, c.position)
        cameras.append(item)
    return {
        "id": req.id,
        "url": f"/clips/{req.id}",
        "state": str(req.state),
        "case_ref": req.case_ref,
        "reason": req.reason,
        "requester": req.requester,
        "cameras": cameras,
        "start": iso_utc(req.start_ms),
        "end": iso_utc(req.end_ms),
        "start_ms": req.start_ms,
        "end_ms": req.end_ms,
        "created": iso_utc(req.created_ms),
        "decided_by": req.decided_by,
        "decided": iso_utc(req.decided_ms),
        "comment": req.comment,
        "progress_pct": req.progress_pct,
        "error": req.error,
        "exported": iso_utc(req.exported_ms),
        "closed_by": req.closed_by,
        "closed": iso_utc(req.closed_ms),
        "actions": sorted(actions),
    }


def request_view(request: web.Request, who: Principal, req: ClipRequest) -> dict[str, Any]:
    """What the templates show of a request: the JSON shape plus texts in the caller's language and time zone."""
    lang = lang_of(request)
    tz = request.app[TIMEZONE]
    d = request_json(request, who, req)

    def when(ms: int | None) -> str:
        return format_ms(ms, tz, lang) if ms is not None else "—"

    d.update(
        {
            "state_label": label(lang, CLIP_STATES, req.state),
            "start_text": when(req.start_ms),
            "end_text": when(req.end_ms),
            "duration_text": format_duration(req.end_ms - req.start_ms),
            "created_text": when(req.created_ms),
            "decided_text": when(req.decided_ms),
            "exported_text": when(req.exported_ms),
            "closed_text": when(req.closed_ms),
            "own": who.user_id == req.requester_id and who.username == req.requester,
        }
    )
    for cam, row in zip(d["cameras"], req.cameras, strict=True):
        cam["actual_text"] = (
            f"{when(row.actual_start_ms)} → {when(row.actual_end_ms)}"
            if row.actual_start_ms is not None
            else ""
        )
    return d
