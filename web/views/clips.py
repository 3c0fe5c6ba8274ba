"""Clip requests on the web: list, new-request form, detail with approve / reject / export / close, JSON.

- ``GET /clips[?state=open|requested|approved|rejected|exporting|ready|closed][&page=N]``: the requests the
  caller may see, newest first (police: their own; operators and admins: those whose every camera lies in their
  scope). ``GET /api/clips`` answers the same as ``{"requests": [...], "page", "pages", "total"}``.
- ``GET /clips/new`` and ``POST /clips`` (``clips.request``: police, admins): camera(s) (``camera``, repeated),
  ``start`` / ``end`` (``YYYY-MM-DDTHH:MM[:SS]`` in the site's time zone, or with an offset), ``case_ref``,
  ``reason``. A bad field re-renders the form (400) saying which and why, and files nothing.
- ``GET /clips/{id}``, ``GET /api/clips/{id}``: one request; the page polls the JSON while it is exporting.
- ``POST /clips/{id}/approve|reject`` (``comment`` required), ``/export`` (again, after a failure or a
  crash), ``/close``; 303 back to the page. Approving locks the covered segments and starts the export.

Every step is audited (``clip.request``, ``clip.approve``, ``clip.reject``, ``clip.export.*``, ``clip.close``;
refusals ``clip.denied``). Downloads and the node's public key: ``web/views/clip_files.py``.

clips.html context: ``requests`` (list of request views, see clip_common.request_view), ``state`` (filter),
``states``, ``page``, ``pages``, ``prev_url``, ``next_url``, ``may_file``.
clip_new.html: ``cameras`` ({path, name, place}), ``form`` (the values sent), ``errors`` ({field: [texts]}),
``tz_name``.
clip_request.html: ``req`` (request view), ``coverage`` (per camera: {name, recorded_pct, gaps}), ``history``
(audit entries: {when, actor, action, detail}), ``key`` ({fingerprint, url}), ``poll`` (bool).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cctv.accounts.policy import Perm
from cctv.audit.query import AuditFilter, search
from cctv.evidence.requests import (
    ClipError,
    ClipRequest,
    FieldError,
    Invalid,
    State,
    holder,
    validate_comment,
    validate_new,
    visible,
)
from cctv.recording import coverage
from cctv.store.segments import segments
from web.errors import CctvError
from web.i18n import format_duration, format_ms, iso_utc, lang_of
from web.i18n_labels import CLIP_AUDIT_ACTIONS, CLIP_ERRORS, CLIP_STATES, label
from web.keys import TIMEZONE
from web.views.access import int_param, render, require, scope_of, services, tr
from web.views.clip_access import (
    audit,
    camera_label,
    http_error,
    load,
    request_json,
    request_view,
    require_clips,
)

PAGE = 25
OPEN = (State.REQUESTED, State.APPROVED, State.EXPORTING, State.READY)
HISTORY = 50

routes = web.RouteTableDef()


# -- lists ---------------------------------------------------------------------------------------------------


def _state_filter(request: web.Request) -> str:
    raw = request.query.get("state", "")
    allowed = ["", "open", *(str(s) for s in State)]
    if raw not in allowed:
        raise CctvError(
            400,
            tr(request, "Bad request"),
            tr(request, "Parameter %(name)s cannot be %(value)r: choose one of %(allowed)s.", name="state", value=raw[:40], allowed=", ".join(allowed[1:])),
        )
    return raw


async def _visible(request: web.Request) -> tuple[list[ClipRequest], str, int, int, int]:
    """One page of the requests the caller may see: (rows, state filter, page, pages, total)."""
    who = require_clips(request)
    state = _state_filter(request)
    page = int_param(request, "page", 1, 1, 100_000) or 1
    states = OPEN if state == "open" else ((State(state),) if state else None)
    svc = services(request)
    mine_only = not who.can(Perm.CLIPS_APPROVE)
    rows = await svc.store.aread(
        svc.clips.find, requester_id=who.user_id if mine_only else None, states=states
    )
    rows = [r for r in rows if visible(who, r)]
    pages = max(1, -(-len(rows) // PAGE))
    page = min(page, pages)
    return rows[(page - 1) * PAGE : page * PAGE], state, page, pages, len(rows)


@routes.get("/clips")
async def clip_list(request: web.Request) -> web.Response:
    who = require_clips(request)
    rows, state, page, pages, _total = await _visible(request)

    def url(p: int) -> str:
        return "/clips?" + urlencode({k: v for k, v in (("state", state), ("page", p)) if v})

    return render(
        request,
        "clips.html",
        {
            "requests": [request_view(request, who, r) for r in rows],
            "state": state,
            "states": [(s, label(lang_of(request), CLIP_STATES, s)) for s in ("open", *(str(s) for s in State))],
            "page": page,
            "pages": pages,
            "prev_url": url(page - 1) if page > 1 else None,
            "next_url": url(page + 1) if page < pages else None,
            "may_file": who.can(Perm.CLIPS_REQUEST),
        },
    )


@routes.get("/api/clips")
async def clip_list_json(request: web.Request) -> web.Response:
    who = require_clips(request)
    rows, _state, page, pages, total = await _visible(request)
    return web.json_response(
        {
            "requests": [request_json(request, who, r) for r in rows],
            "page": page,
            "pages": pages,
            "total": total,
        }
    )


# -- filing --------------------------------------------------------------------------------------------------


def _choices(request: web.Request) -> list[dict[str, str]]:
    sites = services(request).sites
    seen: list[str] = []
    for root in scope_of(request).roots:
        if sites.has_area(root) or sites.has_camera(root):
            seen.extend(c.path for c in sites.cameras_within(root) if c.path not in seen)
    return [camera_label(request, p) for p in seen]


def _form_page(
    request: web.Request, form: dict[str, Any], errors: list[FieldError], status: int = 200
) -> web.Response:
    lang = lang_of(request)
    texts: dict[str, list[str]] = {}
    for e in errors:
        texts.setdefault(e.field, []).append(label(lang, CLIP_ERRORS, e.code, **e.params))
    return render(
        request,
        "clip_new.html",
        {
            "cameras": _choices(request),
            "form": form,
            "errors": texts,
            "tz_name": request.app[TIMEZONE].key,
        },
        status=status,
    )


@routes.get("/clips/new")
async def new_form(request: web.Request) -> web.Response:
    require(request, Perm.CLIPS_REQUEST)
    form = {
        "cameras": request.query.getall("camera", []),
        "start": "",
        "end": "",
        "case_ref": "",
        "reason": "",
    }
    return _form_page(request, form, [])


def _local_time(request: web.Request, value: str, field: str, errors: list[FieldError]) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(field, "bad_time", {"value": value[:40]}))
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=request.app[TIMEZONE])
    return round(t.timestamp() * 1000)


@routes.post("/clips")
async def create(request: web.Request) -> web.StreamResponse:
    who = require(request, Perm.CLIPS_REQUEST)
    svc = services(request)
    post = await request.post()
    form = {
        "cameras": [v for v in post.getall("camera", []) if isinstance(v, str)],
        **{
            k: v if isinstance(v := post.get(k, ""), str) else ""
            for k in ("start", "end", "case_ref", "reason")
        },
    }
    errors: list[FieldError] = []
    start_ms = _local_time(request, form["start"], "start", errors)
    end_ms = _local_time(request, form["end"], "end", errors)
    now = svc.clock.now_ms()
    try:
        new = validate_new(
            who,
            svc.sites,
            cameras=form["cameras"],
            start_ms=start_ms,
            end_ms=end_ms,
            case_ref=form["case_ref"],
            reason=form["reason"],
            now_ms=now,
        )
    except Invalid as exc:  # a time that did not parse is reported once (bad_time), not also as missing
        errors += [
            e for e in exc.errors if not (e.code == "no_time" and any(x.field == e.field for x in errors))
        ]
    else:
        if not errors:
            rid = await svc.store.awrite(svc.clips.create, new, who.username, who.user_id, now)
            await audit(
                request,
                who.username,
                "clip.request",
                rid,
                {
                    "case": new.case_ref,
                    "cameras": list(new.cameras),
                    "start": iso_utc(new.start_ms),
                    "end": iso_utc(new.end_ms),
                    "reason": new.reason,
                },
            )
            raise web.HTTPSeeOther(f"/clips/{rid}")
    outside = [c for c in form["cameras"] if svc.sites.has_camera(c) and not who.scope.covers(c)]
    if outside:  # a form naming a camera beyond the scope was not made by our page: on record
        await svc.store.awrite(
            svc.audit.append,
            now,
            who.username,
            "clip.denied",
            "clip-request:new",
            {"do": "request", "status": 400, "why": "out_of_scope", "cameras": outside[:16]},
        )
    return _form_page(request, form, errors, status=400)


# -- one request ---------------------------------------------------------------------------------------------


async def _coverage(request: web.Request, req: ClipRequest) -> list[dict[str, Any]]:
    svc = services(request)
    out = []
    span = req.end_ms - req.start_ms
    for c in req.cameras:
        segs = await svc.store.aread(segments, svc.store, c.camera, req.start_ms, req.end_ms)
        spans, gaps = coverage(segs, req.start_ms, req.end_ms)
        recorded = sum(s.end_ms - s.start_ms for s in spans)
        out.append(
            {
                **camera_label(request, c.camera),
                "recorded_pct": recorded * 100 / span,
                "gaps": len(gaps),
                "missing_text": format_duration(span - recorded),
            }
        )
    return out


async def _history(request: web.Request, req: ClipRequest) -> list[dict[str, str]]:
    svc = services(request)
    lang = lang_of(request)
    tz = request.app[TIMEZONE]
    rows, _ = await svc.store.aread(search, svc.store.engine, AuditFilter(object=holder(req.id)), HISTORY)
    return [
        {
            "when": format_ms(e.ts_ms, tz, lang),
            "actor": e.actor,
            "action": e.action,
            "action_label": label(lang, CLIP_AUDIT_ACTIONS, e.action),
        }
        for e in reversed(rows)
    ]


@routes.get(r"/clips/{id:\d+}")
async def detail(request: web.Request) -> web.Response:
    who, req, _ = await load(request)
    svc = services(request)
    key = await asyncio.to_thread(svc.exports.key)
    return render(
        request,
        "clip_request.html",
        {
            "req": request_view(request, who, req),
            "coverage": await _coverage(request, req),
            "history": await _history(request, req),
            "key": {"fingerprint": key.fingerprint, "url": "/keys/node.pub"},
            "poll": req.state == State.EXPORTING,
        },
    )


@routes.get(r"/api/clips/{id:\d+}")
async def detail_json(request: web.Request) -> web.Response:
    who, req, _ = await load(request)
    return web.json_response(request_json(request, who, req))


@routes.post(r"/clips/{id:\d+}/{action:approve|reject|export|close}")
async def act(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    who, req, target = await load(request, action)
    assert target is not None
    svc = services(request)
    post = await request.post()
    now = svc.clock.now_ms()
    try:
        if action in ("approve", "reject"):
            raw = post.get("comment", "")
            comment = validate_comment(raw if isinstance(raw, str) else "")
            locked = await svc.store.awrite(
                svc.clips.decide, req.id, req.state, target, who.username, comment, now
            )
            await audit(
                request,
                who.username,
                f"clip.{action}",
                req.id,
                {
                    "comment": comment,
                    "case": req.case_ref,
                    "cameras": list(req.camera_paths),
                    "segments_locked": locked,
                },
            )
            if target == State.APPROVED:
                approved = await svc.store.aread(svc.clips.get, req.id)
                if approved is not None and approved.state == State.APPROVED:
                    with contextlib.suppress(ClipError):  # someone pressed "export" meanwhile: theirs runs
                        await svc.exports.start(approved, who.username)
        elif action == "export":
            await svc.exports.start(req, who.username)
        else:
            await svc.store.awrite(svc.clips.close, req.id, req.state, who.username, now)
            await audit(request, who.username, "clip.close", req.id, {"was": str(req.state)})
    except Invalid as exc:
        texts = "; ".join(label(lang_of(request), CLIP_ERRORS, e.code, **e.params) for e in exc.errors)
        raise CctvError(400, tr(request, "Bad request"), texts) from None
    except ClipError as err:
        raise http_error(request, err) from None
    raise web.HTTPSeeOther(f"/clips/{req.id}")
