"""Sessions, CSRF and the login rate limit: the middleware every request passes through.

- Session: cookie ``cctv_session`` (a random 256-bit token; the store keeps its SHA-256), HttpOnly,
  SameSite=Lax, Secure when the request came over https (or ``auth.cookie_secure``). A new token at every
  login (no fixation); a token the store does not know is ignored.
- Unauthenticated: pages redirect to ``/login?next=PATH``; ``/api/*``, ``/ws`` and ``/snapshot/*`` answer 401.
  Public: ``/login``, ``/healthz``, ``/static/*``, ``/keys/node.pub`` (the evidence signing key's public half).
- CSRF: every POST/PUT/PATCH/DELETE carries the session's token as form field ``csrf_token`` or header
  ``X-CSRF-Token``; the login form (no session yet) carries the pre-session token of cookie ``cctv_csrf``
  (double submit). Missing or wrong → 403.
- Rate limit (:class:`~cctv.accounts.login_limit.LoginLimiter`): failures per username and per client address; after ``max_failures``
  (per IP ``max_failures_per_ip``) within ``failure_window_s`` the key is locked for ``lockout_initial_s``,
  doubling (up to ``lockout_max_s``) with each further failure → 429 with Retry-After.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from cctv.accounts.policy import Principal
from cctv.accounts.users import TOUCH_EVERY_MS, SessionInfo
from web.errors import CctvError
from web.i18n import gettext, lang_of
from web.keys import SERVICES

COOKIE = "cctv_session"
CSRF_COOKIE = "cctv_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/favicon.ico", "/keys/node.pub"})  # node.pub: evidence key
PUBLIC_PREFIXES = ("/static/",)
API_PREFIXES = ("/api/", "/snapshot/")

PRINCIPAL = web.RequestKey("principal", Principal)
SESSION = web.RequestKey("session", SessionInfo)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path == "/ws"


def cookie_secure(request: web.Request) -> bool:
    cfg = request.app[SERVICES].config.auth
    return cfg.cookie_secure or request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    cfg = request.app[SERVICES].config.auth
    response.set_cookie(COOKIE, token, max_age=cfg.session_lifetime_s, path="/", httponly=True,
                        samesite="Lax", secure=cookie_secure(request))


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", samesite="Lax", secure=cookie_secure(request), httponly=True)


def pre_session_csrf(request: web.Request) -> tuple[str, bool]:
    """The login form's CSRF token (cookie ``cctv_csrf``) and whether it is new (then set it)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if 32 <= len(token) <= 128:
        return token, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, path="/", httponly=True, samesite="Strict",
                        secure=cookie_secure(request))


def csrf_token(request: web.Request) -> str:
    """The token state-changing requests of this session must carry ("" without a session)."""
    s = request.get(SESSION)
    return s.csrf_token if s is not None else ""


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def unauthenticated(request: web.Request) -> web.StreamResponse:
    lang = lang_of(request)
    if is_api(request.path):
        raise CctvError(401, gettext(lang, "Login required"), gettext(lang, "Please log in first."))
    target = request.path_qs
    raise web.HTTPFound(f"/login?next={quote(target, safe='/')}" if target != "/" else "/login")


async def _csrf_ok(request: web.Request) -> bool:
    session = request.get(SESSION)
    if request.path == "/login" or session is None:  # the login form carries the pre-session token
        expected = request.cookies.get(CSRF_COOKIE, "")
    else:
        expected = session.csrf_token
    if len(expected) < 32:
        return False
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached: the handler reads it again for free
        value = form.get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    svc = request.app[SERVICES]
    cfg = svc.config.auth
    token = request.cookies.get(COOKIE)
    if token and len(token) <= 128:
        now = svc.clock.now_ms()
        info = await svc.store.aread(svc.accounts.session, token, now, cfg.idle_timeout_s)
        if info is not None:
            request[SESSION] = info
            request[PRINCIPAL] = info.principal
            if now - info.last_seen_ms >= TOUCH_EVERY_MS:
                await svc.store.awrite(svc.accounts.touch_session, info.id_hash, now)
    if request.method in UNSAFE and not await _csrf_ok(request):
        lang = lang_of(request)
        raise CctvError(403, gettext(lang, "Forbidden"), gettext(lang, "The form's token is missing or wrong; reload the page."))
    if PRINCIPAL not in request and not is_public(request.path):
        return unauthenticated(request)
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
