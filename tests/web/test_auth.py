"""Logins, sessions and the security rules: CSRF, fixation, open redirect, brute force, logout, disabled users.

Also the pure parts: password hashing, scopes, safe_next, the first-start admin.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import pytest
from yarl import URL

from cctv.accounts.passwords import Params, hash_password, needs_rehash, verify_password
from cctv.accounts.policy import Perm, Role, Scope, can, safe_next
from cctv.accounts.users import Accounts, ensure_admin
from cctv.app.services import Services
from cctv.config.models import Config
from tests.helpers.web import PASSWORD, WEB_CONFIG, add_user, csrf_of, login

SECRET_MARKERS = ("scrypt$", PASSWORD)


def cookie(client: Any, name: str = "cctv_session") -> str | None:
    jar = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    return jar[name].value if name in jar else None


# -- pure parts -----------------------------------------------------------------------------------------


def test_password_hashing() -> None:
    fast = Params(log2_n=10)
    h = hash_password("geheim-123", fast)
    assert h.startswith("scrypt$10$8$1$") and "geheim" not in h
    assert verify_password("geheim-123", h)
    assert not verify_password("geheim-124", h)
    assert hash_password("geheim-123", fast) != h  # a fresh salt every time
    for bad in ("", "scrypt$x", "md5$1$2$3$4$5", h.replace("scrypt$10", "scrypt$40"), h[:-4]):
        assert not verify_password("geheim-123", bad)
    assert needs_rehash(h) and not needs_rehash(h, fast)
    assert hash_password("x" * 8).startswith("scrypt$15$8$1$")  # the default: N=2^15, r=8 (32 MiB)


def test_scope() -> None:
    s = Scope.of(["kota-baru/paal-lima", "kota-baru/paal-lima/rt-07", "telanaipura/"])
    assert s.roots == ("kota-baru/paal-lima", "telanaipura")
    assert s.covers("kota-baru/paal-lima/rt-08/cam-1") and s.covers("telanaipura")
    assert not s.covers("kota-baru") and not s.covers("kota-baru/paal-limax") and not s.covers("")
    assert Scope.of(["/", "kota-baru"]).is_city and Scope.of(["/"]).covers("anything/at/all")
    assert not Scope.of([]).covers("")


def test_role_permissions() -> None:
    assert all(can(Role.ADMIN, p) for p in Perm)
    assert can("operator", Perm.LIVE) and not can("operator", Perm.USERS)
    assert can("technician", Perm.STATS) and not can("technician", Perm.RECORDINGS)
    assert not can("police", Perm.LIVE) and can("police", Perm.CLIPS_REQUEST)
    assert can("viewer", Perm.LIVE) and not can("viewer", Perm.STATS) and not can("viewer", Perm.ALERTS_ACK)
    assert not can("nobody", Perm.STATUS)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/area/kota-baru", "/area/kota-baru"),
        ("/camera/a/b/c/d?x=1", "/camera/a/b/c/d?x=1"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("http:/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=y", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_first_start_admin(web_services: Services) -> None:
    acc = web_services.accounts
    printed: list[str] = []
    audited: list[tuple[Any, ...]] = []
    assert ensure_admin(acc, 1, env={}, out=printed.append, audit=lambda *a: audited.append(a))
    assert len(printed) == 1 and "admin" in printed[0]
    password = printed[0].split("password ")[1].split()[0]
    user, why = acc.authenticate("admin", password)
    assert why == "ok" and user is not None and user.role == Role.ADMIN and user.scopes == ("",)
    assert audited and audited[0][2] == "user.add" and password not in str(audited)
    assert not ensure_admin(acc, 2, env={}, out=printed.append)  # only on an empty users table
    assert len(printed) == 1


def test_first_start_admin_from_env(tmp_path: Any, web_services: Services) -> None:
    acc = Accounts(web_services.store.engine, Params(log2_n=10))
    printed: list[str] = []
    assert ensure_admin(acc, 1, env={"CCTV_ADMIN_PASSWORD": "dari-env-123"}, out=printed.append)
    assert "dari-env-123" not in printed[0]
    assert acc.authenticate("admin", "dari-env-123")[1] == "ok"


# -- over HTTP ------------------------------------------------------------------------------------------


async def test_unauthenticated(anon_client: Any) -> None:
    r = await anon_client.get("/area/kota-baru?lang=en", allow_redirects=False)
    loc = URL(r.headers["Location"])
    assert r.status == 302 and loc.path == "/login" and loc.query["next"] == "/area/kota-baru?lang=en"
    r = await anon_client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login"
    r = await anon_client.get("/api/cameras")
    assert r.status == 401 and (await r.json())["error"]["status"] == 401
    assert (await anon_client.get("/snapshot/kota-baru/paal-lima/rt-07/cam-1.jpg")).status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await anon_client.ws_connect("/ws")
    assert exc.value.status == 401
    assert (await anon_client.get("/healthz")).status == 200
    assert (await anon_client.get("/static/app.css")).status == 200
    r = await anon_client.get("/login")
    assert r.status == 200 and 'name="username"' in await r.text() and 'name="password"' in await r.text()


async def test_login_logout_and_cookie_flags(anon_client: Any, web_services: Services) -> None:
    add_user(web_services, "budi", "operator", ["kota-baru"])
    r = await login(anon_client, "budi", next_="/area/kota-baru")
    assert r.status == 303 and r.headers["Location"] == "/area/kota-baru"
    set_cookie = next(v for v in r.headers.getall("Set-Cookie") if v.startswith("cctv_session="))
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie
    assert (await anon_client.get("/area/kota-baru")).status == 200
    token = cookie(anon_client)
    assert token and len(token) >= 40
    csrf = await csrf_of(anon_client)
    r = await anon_client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"
    # the session is gone server-side: replaying the old cookie does not work
    async with aiohttp.ClientSession(cookies={"cctv_session": token}) as s:
        r2 = await s.get(anon_client.make_url("/api/areas"))
        assert r2.status == 401
    actions = [(e.actor, e.action) for e in web_services.audit.entries()]
    assert ("budi", "login") in actions and ("budi", "logout") in actions
    assert web_services.audit.verify() is None


async def test_secure_cookie_behind_https_proxy(anon_client: Any, web_services: Services) -> None:
    add_user(web_services, "budi", "viewer", ["/"])
    html = await (await anon_client.get("/login")).text()
    csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
    r = await anon_client.post("/login", data={"username": "budi", "password": PASSWORD, "csrf_token": csrf},
                               headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)
    assert r.status == 303
    set_cookie = next(v for v in r.headers.getall("Set-Cookie") if v.startswith("cctv_session="))
    assert "Secure" in set_cookie


async def test_csrf(anon_client: Any, client_as: Any, web_services: Services) -> None:
    add_user(web_services, "budi", "viewer", ["/"])
    # the login form itself: no token, or a token that is not this browser's → 403
    r = await anon_client.post("/login", data={"username": "budi", "password": PASSWORD})
    assert r.status == 403
    r = await anon_client.post("/login", data={"username": "budi", "password": PASSWORD, "csrf_token": "x" * 43})
    assert r.status == 403
    assert [e.action for e in web_services.audit.entries()] == []
    client = await client_as("operator", "/")
    for data, headers in (({}, {}), ({"csrf_token": "wrong" * 9}, {}), ({}, {"X-CSRF-Token": "nope"})):
        r = await client.post("/logout", data=data, headers=headers, allow_redirects=False)
        assert r.status == 403
    for method in ("PUT", "PATCH", "DELETE"):
        assert (await client.request(method, "/api/cameras")).status == 403
    assert (await client.get("/api/areas")).status == 200  # still logged in
    csrf = await csrf_of(client)
    r = await client.post("/logout", headers={"X-CSRF-Token": csrf}, allow_redirects=False)
    assert r.status == 303
    assert (await client.get("/api/areas")).status == 401


async def test_session_fixation(anon_client: Any, web_services: Services) -> None:
    add_user(web_services, "budi", "viewer", ["/"])
    planted = "A" * 43
    anon_client.session.cookie_jar.update_cookies({"cctv_session": planted}, anon_client.make_url("/"))
    assert (await anon_client.get("/api/areas")).status == 401  # an unknown token is no session
    r = await login(anon_client, "budi")
    assert r.status == 303
    first = cookie(anon_client)
    assert first and first != planted
    async with aiohttp.ClientSession(cookies={"cctv_session": planted}) as s:
        assert (await s.get(anon_client.make_url("/api/areas"))).status == 401
    # logging in again (same browser) gives a new id and ends the old session
    r = await login(anon_client, "budi")
    assert r.status == 303
    second = cookie(anon_client)
    assert second and second != first
    async with aiohttp.ClientSession(cookies={"cctv_session": first}) as s:
        assert (await s.get(anon_client.make_url("/api/areas"))).status == 401


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)"])
async def test_open_redirect(anon_client: Any, web_services: Services, target: str) -> None:
    add_user(web_services, "budi", "viewer", ["/"])
    html = await (await anon_client.get("/login", params={"next": target})).text()
    assert "evil.example" not in html
    r = await login(anon_client, "budi", next_=target)
    assert r.status == 303 and r.headers["Location"] == "/"


async def test_brute_force_is_rate_limited(anon_client: Any, web_services: Services) -> None:
    add_user(web_services, "budi", "viewer", ["/"])
    cfg = web_services.config.auth
    for _ in range(cfg.max_failures):
        r = await login(anon_client, "budi", "wrong-password")
        assert r.status == 401
        assert "Nama pengguna atau kata sandi salah" in await r.text()
    r = await login(anon_client, "budi")  # even the right password, while locked out
    assert r.status == 429
    assert int(r.headers["Retry-After"]) == int(cfg.lockout_initial_s)
    web_services.clock.advance(cfg.lockout_initial_s + 1)
    r = await login(anon_client, "budi", "wrong-again")  # locked again, for twice as long
    assert r.status == 401
    r = await login(anon_client, "budi")
    assert r.status == 429 and int(r.headers["Retry-After"]) == int(2 * cfg.lockout_initial_s)
    web_services.clock.advance(2 * cfg.lockout_initial_s + 1)
    assert (await login(anon_client, "budi")).status == 303
    reasons = [e.detail for e in web_services.audit.entries(action="login.failed")]
    assert sum('"bad_password"' in d for d in reasons) == cfg.max_failures + 1
    assert sum('"rate_limited"' in d for d in reasons) == 2


async def test_brute_force_per_address(anon_client: Any, web_services: Services) -> None:
    cfg = web_services.config.auth
    for i in range(cfg.max_failures_per_ip):
        assert (await login(anon_client, f"user{i}", "wrong-password")).status == 401
    r = await login(anon_client, "someone-else", "wrong-password")
    assert r.status == 429


async def test_disabled_user(client_as: Any, anon_client: Any, web_services: Services) -> None:
    client = await client_as("operator", "kota-baru")  # account "operator1"
    assert (await client.get("/api/areas")).status == 200
    web_services.accounts.disable_user("operator1", web_services.clock.now_ms())
    assert (await client.get("/api/areas")).status == 401  # their session died
    r = await login(anon_client, "operator1")
    assert r.status == 401
    assert '"disabled"' in web_services.audit.entries(action="login.failed")[-1].detail


async def test_session_idle_and_lifetime(client_as: Any, web_services: Services) -> None:
    cfg = web_services.config.auth
    client = await client_as("viewer", "/")
    web_services.clock.advance(cfg.idle_timeout_s - 10)
    assert (await client.get("/api/areas")).status == 200  # activity keeps it alive
    web_services.clock.advance(cfg.idle_timeout_s - 10)
    assert (await client.get("/api/areas")).status == 200
    web_services.clock.advance(cfg.idle_timeout_s + 1)
    assert (await client.get("/api/areas")).status == 401
    client = await client_as("viewer", "/")
    for _ in range(cfg.session_lifetime_s // (cfg.idle_timeout_s // 2) + 1):
        web_services.clock.advance(cfg.idle_timeout_s // 2)
        status = (await client.get("/api/areas")).status
    assert status == 401  # the absolute lifetime ended it


async def test_password_and_hash_never_leak(anon_client: Any, client_as: Any, web_services: Services,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    add_user(web_services, "budi", "admin", ["/"])
    bodies = [await (await login(anon_client, "budi", "wrong-" + PASSWORD)).text()]
    r = await login(anon_client, "budi")
    bodies.append(await r.text())
    for url in ("/", "/area/kota-baru", "/api/areas", "/api/cameras", "/login", "/healthz",
                "/camera/kota-baru/paal-lima/rt-07/cam-2", "/api/cameras/kota-baru/paal-lima/rt-07/cam-2"):
        resp = await anon_client.get(url)
        bodies.append(await resp.text())
        bodies.append(str(resp.headers))
    text = "\n".join(bodies) + caplog.text + str(web_services.audit.entries())
    for marker in SECRET_MARKERS:
        assert marker not in text


async def test_the_client_address_comes_from_a_trusted_proxy_only(anon_client: Any, web_services: Services) -> None:
    """Behind a reverse proxy the login limits and the audit see the client, not the proxy — and a client that
    writes X-Forwarded-For itself, not through a trusted proxy, is still seen as itself."""
    xff = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}
    await login(anon_client, "nobody", "wrong", headers=xff)  # the test client is 127.0.0.1: not trusted yet
    web_services.config = web_services.config.model_copy(
        update={"web": web_services.config.web.model_copy(update={"trusted_proxies": ["127.0.0.0/8", "203.0.113.7"]})})
    await login(anon_client, "nobody", "wrong", headers=xff)  # now: 127.0.0.1 → proxy 203.0.113.7 → client
    await login(anon_client, "nobody", "wrong", headers={"X-Forwarded-For": "not-an-address"})
    ips = [json.loads(e.detail)["ip"] for e in web_services.audit.entries(action="login.failed")]
    assert ips == ["127.0.0.1", "198.51.100.9", "127.0.0.1"]


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        Config.model_validate({**WEB_CONFIG, "web": {"trusted_proxies": ["proxy.example"]}})
