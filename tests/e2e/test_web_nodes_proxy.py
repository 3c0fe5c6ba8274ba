"""Two web nodes behind a real nginx (docs/nodes.md): a session made on one works on the other, CSRF-checked
posts too; the client address in the audit log is the one the proxy saw (``web.trusted_proxies``); and when one
web node is killed the other serves every page, session and socket."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from tests.helpers.cluster import Cluster
from tests.helpers.e2e import ADMIN_PASSWORD
from tests.helpers.nginx import PrivateNginx, nginx_missing
from tests.helpers.web import WEB_CONFIG

pytestmark = [pytest.mark.slow]

CLIENT_IP = "203.0.113.9"  # what the client's own proxy says (documentation range)


def opener_via(base: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("X-Forwarded-For", CLIENT_IP)]
    with opener.open(f"{base}/login", timeout=5) as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
    assert token
    data = urllib.parse.urlencode({"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token.group(1)})
    with opener.open(f"{base}/login", data=data.encode(), timeout=5) as r:
        assert not r.url.rstrip("/").endswith("/login"), "login refused"
    opener.jar = jar  # type: ignore[attr-defined]
    return opener


def test_two_web_nodes_share_sessions_and_one_survives_the_other(tmp_path: Path) -> None:
    if why := nginx_missing():
        pytest.skip(why)
    cluster = Cluster(tmp_path / "cluster", WEB_CONFIG | {"web": {"trusted_proxies": ["127.0.0.1/32"]}})
    proxy = None
    try:
        w1, w2 = (cluster.start(cluster.add(n, "serve")) for n in ("web-1", "web-2"))
        proxy = PrivateNginx(tmp_path / "nginx", [w1.port, w2.port]).start()
        base = proxy.base
        opener = opener_via(base)  # the form from one node, the post to the other (round robin)
        for _ in range(6):
            with opener.open(f"{base}/api/cameras", timeout=5) as r:
                assert r.status == 200 and json.load(r)
        served = {line.split()[-1] for line in proxy.served_by() if " /api/cameras " in line}
        assert served == {f"127.0.0.1:{w1.port}", f"127.0.0.1:{w2.port}"}, served
        with cluster.engine.connect() as conn:
            detail = conn.execute(text("SELECT detail FROM audit_log WHERE action = 'login' ORDER BY seq DESC")).scalar()
        assert json.loads(detail)["ip"] == CLIENT_IP  # the proxy is trusted, the client's own header believed

        # web-1 killed: web-2 serves the same session, its posts and its sockets
        cluster.kill(w1)
        for _ in range(4):
            with opener.open(f"{base}/alerts", timeout=5) as r:
                assert r.status == 200
        cookies = {c.name: c.value for c in opener.jar}  # type: ignore[attr-defined]
        import asyncio

        async def socket() -> dict:
            async with aiohttp.ClientSession(cookies=cookies) as s, s.ws_connect(
                    f"{base}/ws?area=", headers={"Origin": base}) as ws:
                return json.loads((await ws.receive(timeout=10)).data)

        first = asyncio.run(socket())
        assert first.get("type"), first
        with opener.open(f"{base}/alerts", timeout=5) as r:
            token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
        assert token
        data = urllib.parse.urlencode({"csrf_token": token.group(1)}).encode()
        with opener.open(f"{base}/logout", data=data, timeout=5) as r:
            assert r.url.rstrip("/").endswith("/login")
        assert cluster.stop(w2) == 0, w2.log_text()[-3000:]
    finally:
        if proxy is not None:
            proxy.stop()
        cluster.close()
