"""Texts looked up at run time by a code (a state, a reason, a status, a refusal...): tables of marked messages.

``pybabel extract`` cannot see ``gettext(f"state.{state}")``, so each code's message is written out here,
marked with ``N_`` (or ``NC_`` with a context, ``NN_`` for a plural) so that extraction finds it, and looked up
with :func:`label` in the request's language. An unknown code shows as itself, so a gap is visible, not fatal.
"""

from __future__ import annotations

from typing import Any

from web.i18n import N_, NC_, NN_, Message, text

# Levels of the hierarchy (cctv.sites).
LEVELS: dict[str, str | Message] = {
    "city": N_("City"),
    "kecamatan": N_("District (kecamatan)"),
    "kelurahan": N_("Sub-district (kelurahan)"),
    "rt": N_("Neighbourhood (RT)"),
    "camera": N_("Camera"),
}


# Camera states (cctv.status.messages.State).
STATES: dict[str, str | Message] = {
    "online": N_("Online"),
    "degraded": N_("Degraded"),
    "offline": N_("Offline"),
    "unknown": N_("Unknown"),
}


# Reason codes of a camera's state: ingest failures and picture checks.
REASONS: dict[str, str | Message] = {
    "starting": N_("Waiting for first data"),
    "refused": N_("Connection refused"),
    "not_found": N_("Stream path not found"),
    "auth": N_("Camera login failed"),
    "timeout": N_("No answer (timeout)"),
    "stalled": N_("Stream stalled, no data"),
    "eof": N_("Stream ended by the server"),
    "decode_error": N_("Picture cannot be decoded"),
    "unreachable": N_("Network unreachable"),
    "error": N_("Other error"),
    "black": N_("Black picture"),
    "frozen": N_("Frozen picture"),
    "dark": N_("Dark picture"),
    "covered": N_("Lens covered"),
    "blurred": N_("Blurred picture"),
    "moved": N_("Camera moved"),
    "low_fps": N_("Low frame rate"),
}


# Error page titles by HTTP status.
ERROR_TITLES: dict[int, str | Message] = {
    400: N_("Bad request"),
    401: N_("Login required"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    429: N_("Too many attempts"),
    500: N_("Server error"),
}


# Error page details by HTTP status.
ERROR_DETAILS: dict[int, str | Message] = {
    400: N_("The request's parameters are invalid."),
    401: N_("Please log in first."),
    403: N_("You may not see this."),
    404: N_("There is no such page."),
    405: N_("This HTTP method is not supported here."),
    500: N_("Something went wrong on the server. It has been logged; try again shortly."),
}


# The technician table's state filter.
TECH_FILTERS: dict[str, str | Message] = {
    "": N_("All"),
    "offline": N_("Offline"),
    "degraded": N_("Degraded"),
    "online": N_("Online"),
    "down": N_("Offline or degraded"),
}


# The technician figures' windows.
WINDOWS: dict[str, str | Message] = {
    "24h": N_("24 h"),
    "7d": N_("7 d"),
    "30d": N_("30 d"),
}


# Status of a camera or node alert.
ALERT_STATUSES: dict[str, str | Message] = {
    "open": N_("Open"),
    "recovering": N_("Back, waiting to be stable"),
    "closed": N_("Closed"),
}


# Kinds of node alert (cctv.alerts.node).
NODE_ALERT_KINDS: dict[str, str | Message] = {
    "disk_full": N_("Disk full: recording paused"),
    "disk_low": N_("Recording disk nearly full"),
    "node_lost": N_("Ingest node lost: its cameras moved to other nodes"),
    "overloaded": N_("Node overloaded: analysis reduced, recording goes on"),
}


# The banner line of an open node alert, by kind; placeholders node, since, n (cameras), free, total.
NODE_ALERT_BANNERS: dict[str, str | Message] = {
    "disk_full": NN_("Recording paused: disk full on node %(node)s since %(since)s; %(num)s camera in your area affected (monitoring goes on).", "Recording paused: disk full on node %(node)s since %(since)s; %(num)s cameras in your area affected (monitoring goes on).", "n"),
    "disk_low": N_("Recording disk nearly full on node %(node)s: %(free)s free of %(total)s."),
    "node_lost": NN_("Ingest node %(node)s lost since %(since)s: %(num)s camera in your area moved to other nodes; its recordings wait until it is back.", "Ingest node %(node)s lost since %(since)s: %(num)s cameras in your area moved to other nodes; their recordings on it wait until it is back.", "n"),
    "overloaded": NN_("Node %(node)s overloaded since %(since)s: analysis reduced for %(num)s camera in your area; recording goes on.", "Node %(node)s overloaded since %(since)s: analysis reduced for %(num)s cameras in your area; recording goes on.", "n"),
}


# States of a clip request (cctv.evidence.requests.State), and the filter "open".
CLIP_STATES: dict[str, str | Message] = {
    "open": NC_("clip state", "Open"),
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "exporting": N_("Exporting"),
    "ready": N_("Ready"),
    "closed": NC_("clip state", "Closed"),
}


# Refusal codes of cctv.evidence.requests (ClipError, FieldError); placeholders from the error's params.
CLIP_ERRORS: dict[str, str | Message] = {
    "unknown_camera": N_("Unknown camera: %(path)s"),
    "no_camera": N_("Choose at least one camera."),
    "too_many_cameras": NN_("At most %(num)s camera per request.", "At most %(num)s cameras per request.", "n"),
    "no_time": N_("Enter the time."),
    "bad_time": N_("%(value)r is not a valid time (e.g. 2026-01-01T14:00)."),
    "end_before_start": N_("The end must be after the start."),
    "too_long": NN_("The range may be at most %(num)s hour.", "The range may be at most %(num)s hours.", "hours"),
    "in_future": N_("The end is in the future."),
    "required": N_("Required."),
    "too_long_text": NN_("At most %(num)s character.", "At most %(num)s characters.", "n"),
    "not_found": N_("Unknown clip request: %(id)s"),
    "wrong_state": N_("Not possible: this request is %(state)s."),
    "changed": N_("This request has just changed (now %(state)s); reload the page."),
    "not_approver": N_("Only operators and admins decide clip requests."),
    "self_approval": N_("A requester cannot decide their own request."),
    "not_requester": N_("Only the requester and admins may do this."),
    "not_ready": N_("Not downloadable yet: this request is %(state)s."),
    "no_file": N_("There is no such file."),
}


# Audit actions in a clip request's history.
CLIP_AUDIT_ACTIONS: dict[str, str | Message] = {
    "clip.request": N_("filed the request"),
    "clip.approve": N_("approved"),
    "clip.reject": N_("rejected"),
    "clip.export.start": N_("started the export"),
    "clip.export": N_("export finished"),
    "clip.export.failed": N_("export failed"),
    "clip.export.interrupted": N_("export interrupted"),
    "clip.download": N_("downloaded"),
    "clip.close": N_("closed"),
    "clip.denied": N_("was refused"),
}


def label(lang: str, table: dict[Any, str | Message], code: Any, **fmt: Any) -> str:
    """The text of ``code`` in ``table``, in ``lang``; the code itself when the table has none."""
    msg = table.get(code)
    return str(code) if msg is None else text(lang, msg, **fmt)


def state_label(lang: str, state: str) -> str:
    return label(lang, STATES, state)


def reason_text(state: str, reason: str, lang: str) -> str:
    """Why a camera is in ``state``: "" for a healthy camera, "—" for no reason given, the code if unknown."""
    if state == "online" and not reason:
        return ""
    if not reason:
        return "—"
    return label(lang, REASONS, reason)
