"""One error type and the one middleware that renders every error, as a page or as JSON under /api/.

A handler raises ``CctvError(status, title, detail)`` (or lets aiohttp raise ``HTTPNotFound`` and friends);
``error_middleware`` turns it into ``error.html`` or ``{"error": {"status", "title", "detail"}}``. An
unexpected exception is logged with its traceback and answered with a plain 500 that shows neither the
traceback nor anything from the exception's text (which could carry a camera URL).
"""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from web.i18n import gettext, lang_of
from web.i18n_labels import ERROR_DETAILS, ERROR_TITLES, label
from web.keys import SERVICES

log = logging.getLogger(__name__)

# Status codes with a title and an explanation in the catalogue (others fall back to aiohttp's reason).
_KNOWN = {400, 403, 404, 405, 500}


class CctvError(Exception):
    """An error to show the user: HTTP status, a short title, one sentence of detail (no secrets)."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/ws", "/healthz")


def _from_http(request: web.Request, exc: web.HTTPException) -> CctvError:
    lang = lang_of(request)
    if exc.status in _KNOWN:
        return CctvError(
            exc.status, label(lang, ERROR_TITLES, exc.status), label(lang, ERROR_DETAILS, exc.status)
        )
    return CctvError(exc.status, exc.reason, "")


def render_error(request: web.Request, err: CctvError) -> web.Response:
    if wants_json(request):
        body = {"error": {"status": err.status, "title": err.title, "detail": err.detail}}
        return web.json_response(body, status=err.status)
    lang = lang_of(request)
    svc = request.app.get(SERVICES)
    site_name = svc.config.site.name if svc is not None else None
    context = {"lang": lang, "status": err.status, "title": err.title, "detail": err.detail,
               "site_name": site_name}
    try:
        return aiohttp_jinja2.render_template("error.html", request, context, status=err.status)
    except Exception:  # the error page itself failed: answer in plain text rather than not at all
        log.exception("could not render the error page for %s", request.path)
        return web.Response(text=f"{err.status} {err.title}", status=err.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CctvError as err:
        return render_error(request, err)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and 304 pass through
            raise
        return render_error(request, _from_http(request, exc))
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        lang = lang_of(request)
        err = CctvError(500, gettext(lang, "Server error"), gettext(lang, "Something went wrong on the server. It has been logged; try again shortly."))
        return render_error(request, err)
