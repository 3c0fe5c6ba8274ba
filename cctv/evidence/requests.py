"""Clip requests: the workflow and who may do what. Pure (no I/O): the store is ``cctv/store/clip_store.py``,
the export job ``cctv/evidence/jobs.py``, the pages ``web/views/clips.py``.

A police user files a request (camera(s) in their scope, a time range, a case or letter number, a reason). An
operator or admin whose scope covers EVERY camera of it approves or rejects it with a comment; the requester
never decides their own. Approval locks the covered segments against retention (holder ``clip-request:<id>``)
until the request is closed. States::

    requested ──approve──▶ approved ──export──▶ exporting ──done──▶ ready ──close──▶ closed
        │                     ▲  │                  │
        ├──reject──▶ rejected │  └──close──▶ closed └──fail / crash──▶ approved (re-exportable)
        └──close (withdraw)──▶ closed

Visibility: a request is visible to its requester and to approvers, and to either only while their scope covers
every camera of it; otherwise it does not exist for them (404). Downloads: the requester (with
``clips.request``) and admins (``clips.download_any``), and only when the request is ready.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cctv.accounts.policy import Perm, Principal
from cctv.sites import Sites, normalize

MAX_CAMERAS = 16  # cameras in one request
MAX_SPAN_MS = 24 * 3600 * 1000  # longest range one request may ask for
MAX_CASE_REF = 128
MAX_REASON = 2000
MAX_COMMENT = 1000


class State(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPORTING = "exporting"
    READY = "ready"
    CLOSED = "closed"


# action -> (states it may start from, the state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[State], State]] = {
    "approve": (frozenset({State.REQUESTED}), State.APPROVED),
    "reject": (frozenset({State.REQUESTED}), State.REJECTED),
    "export": (frozenset({State.APPROVED}), State.EXPORTING),
    "done": (frozenset({State.EXPORTING}), State.READY),
    "fail": (frozenset({State.EXPORTING}), State.APPROVED),
    "close": (frozenset({State.REQUESTED, State.APPROVED, State.READY}), State.CLOSED),
}
LOCKED_STATES = frozenset({State.APPROVED, State.EXPORTING, State.READY})  # segments held against retention


def holder(request_id: int) -> str:
    """The ``segment_locks`` holder and the audit object of a request."""
    return f"clip-request:{request_id}"


@dataclass(frozen=True, slots=True)
class ClipCamera:
    position: int  # 1..n, in the order asked
    camera: str
    clip_file: str | None = None  # under <data_dir>/exports/<request id>/
    clip_sha256: str | None = None
    clip_size_bytes: int | None = None
    manifest_file: str | None = None
    manifest_sha256: str | None = None
    actual_start_ms: int | None = None
    actual_end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ClipRequest:
    id: int
    state: State
    requester: str
    requester_id: int
    case_ref: str
    reason: str
    start_ms: int
    end_ms: int
    created_ms: int
    cameras: tuple[ClipCamera, ...]
    decided_by: str | None = None
    decided_ms: int | None = None
    comment: str | None = None
    export_node: str | None = None
    progress_pct: int = 0
    error: str | None = None
    exported_ms: int | None = None
    closed_by: str | None = None
    closed_ms: int | None = None

    @property
    def camera_paths(self) -> tuple[str, ...]:
        return tuple(c.camera for c in self.cameras)


# -- errors ------------------------------------------------------------------------------------------------


class ClipError(Exception):
    """A refusal: HTTP-like ``status`` (400, 403, 404, 409), a stable ``code`` (the web's text key is
    ``clips.err.<code>``), and ``params`` for that text. ``str()`` is a plain English sentence for logs."""

    def __init__(self, status: int, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # the form field: cameras, start, end, case_ref, reason, comment
    code: str  # text key clips.err.<code>
    params: dict[str, object] = field(default_factory=dict)


class Invalid(ClipError):
    """A request (or decision) that cannot be accepted, with every problem found."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(400, "invalid", "; ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = list(errors)


def not_found(request_id: int) -> ClipError:
    return ClipError(404, "not_found", f"no clip request {request_id}", id=request_id)


# -- filing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewRequest:
    cameras: tuple[str, ...]
    start_ms: int
    end_ms: int
    case_ref: str
    reason: str


def clean_text(value: str) -> str:
    """Trimmed, with control characters (newlines aside) removed."""
    return "".join(ch for ch in value.strip() if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


def validate_new(
    who: Principal,
    sites: Sites,
    *,
    cameras: Iterable[str],
    start_ms: int | None,
    end_ms: int | None,
    case_ref: str,
    reason: str,
    now_ms: int,
) -> NewRequest:
    """A checked request, or :class:`Invalid` naming every field that is wrong. A camera that does not exist
    and one outside the requester's scope get the same answer (nothing is revealed)."""
    errors: list[FieldError] = []
    paths: list[str] = []
    for raw in cameras:
        path = normalize(raw)
        if not path or path in paths:
            continue
        if not sites.has_camera(path) or not who.scope.covers(path):
            errors.append(FieldError("cameras", "unknown_camera", {"path": path[:255]}))
        paths.append(path)
    if not paths:
        errors.append(FieldError("cameras", "no_camera"))
    elif len(paths) > MAX_CAMERAS:
        errors.append(FieldError("cameras", "too_many_cameras", {"n": MAX_CAMERAS}))
    if start_ms is None:
        errors.append(FieldError("start", "no_time"))
    if end_ms is None:
        errors.append(FieldError("end", "no_time"))
    if start_ms is not None and end_ms is not None:
        if end_ms <= start_ms:
            errors.append(FieldError("end", "end_before_start"))
        elif end_ms - start_ms > MAX_SPAN_MS:
            errors.append(FieldError("end", "too_long", {"hours": MAX_SPAN_MS // 3_600_000}))
        if end_ms > now_ms:
            errors.append(FieldError("end", "in_future"))
    case = " ".join(clean_text(case_ref).split())
    if not case:
        errors.append(FieldError("case_ref", "required"))
    elif len(case) > MAX_CASE_REF:
        errors.append(FieldError("case_ref", "too_long_text", {"n": MAX_CASE_REF}))
    why = clean_text(reason)
    if not why:
        errors.append(FieldError("reason", "required"))
    elif len(why) > MAX_REASON:
        errors.append(FieldError("reason", "too_long_text", {"n": MAX_REASON}))
    if errors:
        raise Invalid(errors)
    assert start_ms is not None and end_ms is not None
    return NewRequest(tuple(paths), start_ms, end_ms, case, why)


def validate_comment(comment: str) -> str:
    text = clean_text(comment)
    if not text:
        raise Invalid([FieldError("comment", "required")])
    if len(text) > MAX_COMMENT:
        raise Invalid([FieldError("comment", "too_long_text", {"n": MAX_COMMENT})])
    return text


# -- who may do what ---------------------------------------------------------------------------------------


def may_file(who: Principal) -> bool:
    return who.can(Perm.CLIPS_REQUEST)


def may_list(who: Principal) -> bool:
    return who.can(Perm.CLIPS_REQUEST) or who.can(Perm.CLIPS_APPROVE)


def is_own(who: Principal, req: ClipRequest) -> bool:
    return who.user_id == req.requester_id and who.username == req.requester


def covers_all(who: Principal, req: ClipRequest) -> bool:
    return bool(req.cameras) and all(who.scope.covers(c) for c in req.camera_paths)


def visible(who: Principal, req: ClipRequest) -> bool:
    """Whether the request exists for ``who`` (else 404)."""
    if not covers_all(who, req):
        return False
    return (is_own(who, req) and who.can(Perm.CLIPS_REQUEST)) or who.can(Perm.CLIPS_APPROVE)


def next_state(req: ClipRequest, action: str) -> State:
    sources, target = TRANSITIONS[action]
    if req.state not in sources:
        raise ClipError(
            409,
            "wrong_state",
            f"cannot {action} a request that is {req.state}",
            state=str(req.state),
            action=action,
        )
    return target


def check(who: Principal, req: ClipRequest, action: str) -> State:
    """The state ``action`` leads to, if ``who`` may do it now; else the :class:`ClipError` to answer with.

    Actions: approve, reject, export, close, download (download keeps the state)."""
    if not visible(who, req):
        raise not_found(req.id)
    if action in ("approve", "reject", "export"):
        if not who.can(Perm.CLIPS_APPROVE):
            raise ClipError(403, "not_approver", f"{who.username} may not decide clip requests")
        if action != "export" and is_own(who, req):
            raise ClipError(403, "self_approval", f"{who.username} cannot decide their own request")
        return next_state(req, action)
    if action == "close":
        if not (is_own(who, req) or who.can(Perm.CLIPS_APPROVE)):
            raise ClipError(403, "not_requester", f"{who.username} may not close request {req.id}")
        return next_state(req, action)
    if action == "download":
        if not ((is_own(who, req) and who.can(Perm.CLIPS_REQUEST)) or who.can(Perm.CLIPS_DOWNLOAD_ANY)):
            raise ClipError(403, "not_requester", f"only the requester and admins download request {req.id}")
        if req.state != State.READY:
            raise ClipError(
                403, "not_ready", f"request {req.id} is {req.state}, not ready", state=str(req.state)
            )
        return req.state
    raise ValueError(f"unknown action {action!r}")


def allowed_actions(who: Principal, req: ClipRequest) -> frozenset[str]:
    """What the page offers ``who`` on ``req`` now."""
    out = set()
    for action in ("approve", "reject", "export", "close", "download"):
        try:
            check(who, req, action)
        except ClipError:
            continue
        out.add(action)
    return frozenset(out)
