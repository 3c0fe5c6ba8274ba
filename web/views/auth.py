"""Login and logout. ``GET /login`` shows the form; ``POST /login`` takes ``username``, ``password``,
``next`` (a local path only) and ``csrf_token``; ``POST /logout`` ends the session server-side.

login.html context: ``username`` (as typed, on failure), ``error`` (text or ""), ``next`` (a safe local path),
``csrf_token`` (the pre-session token).

Every login, failed login (with why: unknown, bad_password, disabled, rate_limited) and logout is appended to
the audit log with the client address. Never the password.
"""

from __future__ import annotations

from aiohttp import web

from cctv.accounts.policy import safe_next
from web.client_address import client_address
from web.i18n import gettext, lang_of, ngettext
from web.keys import LIMITER
from web.security import (
    COOKIE,
    SESSION,
    clear_session_cookie,
    pre_session_csrf,
    set_csrf_cookie,
    set_session_cookie,
)
from web.views.access import render, services

routes = web.RouteTableDef()


def _login_page(request: web.Request, *, username: str = "", error: str = "", nxt: str = "/",
                status: int = 200) -> web.Response:
    token, fresh = pre_session_csrf(request)
    response = render(request, "login.html", {"username": username, "error": error, "next": nxt,
                                              "csrf_token": token}, status=status)
    if fresh:
        set_csrf_cookie(request, response, token)
    return response


@routes.get("/login", name="login")
async def login_form(request: web.Request) -> web.Response:
    return _login_page(request, nxt=safe_next(request.query.get("next")))


async def _audit(request: web.Request, actor: str, action: str, detail: dict[str, object]) -> None:
    svc = services(request)
    await svc.store.awrite(svc.audit.append, svc.clock.now_ms(), actor, action, actor, detail)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    cfg = svc.config.auth
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    nxt = safe_next(str(form.get("next", "")))
    ip = client_address(request)
    limiter = request.app[LIMITER]
    lang = lang_of(request)
    user_key, ip_key = f"user:{username}", f"ip:{ip}"

    wait = limiter.retry_after(user_key, ip_key)
    if wait:
        await _audit(request, username or "?", "login.failed", {"ip": ip, "reason": "rate_limited"})
        page = _login_page(request, username=username, error=ngettext(lang, "Too many failed attempts; try again in %(num)s second.",
                                                                   "Too many failed attempts; try again in %(num)s seconds.", wait),
                           nxt=nxt, status=429)
        page.headers["Retry-After"] = str(wait)
        return page

    user, why = await svc.store.aread(svc.accounts.authenticate, username, password)
    if user is None:
        limiter.failure(user_key, cfg.max_failures)
        limiter.failure(ip_key, cfg.max_failures_per_ip)
        await _audit(request, username or "?", "login.failed", {"ip": ip, "reason": why})
        return _login_page(request, username=username, error=gettext(lang, "Wrong username or password."), nxt=nxt,
                           status=401)

    limiter.success(user_key)
    old = request.cookies.get(COOKIE)
    if old:  # never carry a pre-login session over: a new id at every login
        await svc.store.awrite(svc.accounts.delete_session, old)
    token, _csrf = await svc.store.awrite(svc.accounts.create_session, user.id, svc.clock.now_ms(),
                                          cfg.session_lifetime_s)
    await _audit(request, user.username, "login", {"ip": ip, "role": user.role.value})
    response = web.HTTPSeeOther(nxt)
    set_session_cookie(request, response, token)
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    session = request.get(SESSION)
    token = request.cookies.get(COOKIE)
    if token:
        await svc.store.awrite(svc.accounts.delete_session, token)
    if session is not None:
        await _audit(request, session.principal.username, "logout", {"ip": client_address(request)})
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(request, response)
    raise response
