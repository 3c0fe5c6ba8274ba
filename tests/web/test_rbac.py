"""The RBAC matrix: every role × every route (pages, API, WebSocket, snapshots) × in and out of scope.

Each account is scoped to one kelurahan (Paal Lima). A role without the route's permission gets 403 whatever
the path (so a 403 tells nothing about what exists); with it, in scope is 200 and out of scope is 404, as if
the area or camera did not exist. No response body ever names anything outside the scope.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from cctv.app.services import Services
from cctv.status.messages import TOPIC_SNAPSHOT, SnapshotReady, State
from tests.helpers.rbac import ROLES, SCOPE, assert_no_leak
from tests.helpers.scene import CAM1, CAM2, CAM3, CAM4, CAM5, T0, jpeg, set_status
from tests.helpers.sockets import receive, seen
from web.app import create_app

IN = {"kec": None, "kel": SCOPE, "rt": "kota-baru/paal-lima/rt-07", "cam": CAM1}
OUT = {"kec": "telanaipura", "kel": "kota-baru/simpang-tiga-sipin", "rt": "telanaipura/pematang-sulur/rt-03",
       "cam": CAM4}
LIVE_ROLES = {"admin", "operator", "technician", "viewer"}

# (route template, what it needs: "status" or "live", kind of object)
ROUTES = [
    ("/area/{kel}", "status", "kel"),
    ("/area/{rt}", "status", "rt"),
    ("/camera/{cam}", "live", "cam"),
    ("/api/cameras?area={kel}", "status", "kel"),
    ("/api/cameras/{cam}", "status", "cam"),
    ("/api/cameras/{cam}/intervals", "status", "cam"),
    ("/api/areas/{kel}", "status", "kel"),
    ("/api/areas/{rt}", "status", "rt"),
    ("/snapshot/{cam}.jpg", "live", "cam"),
    ("/tech/{kel}", "stats", "kel"),
    ("/tech/{rt}", "stats", "rt"),
    ("/tech/{kel}.csv", "stats", "kel"),
    ("/tech/{kel}?format=csv", "stats", "kel"),
    ("/api/rollup/{kel}", "stats", "kel"),
    ("/api/rollup/{rt}", "stats", "rt"),
    ("/alerts?area={kel}", "status", "kel"),
    ("/api/alerts?area={rt}", "status", "rt"),
    ("/snapshot/{cam}.jpg?w=160", "live", "cam"),
    ("/wall/{kel}", "live", "kel"),
    ("/wall/{rt}", "live", "rt"),
    ("/api/wall?area={kel}", "live", "kel"),
    ("/camera/{cam}/vod.m3u8?start=1767225600000&end=1767229200000", "recordings", "cam"),
    ("/api/cameras/{cam}/recordings", "recordings", "cam"),
]
OUT_ONLY = [  # areas above the scope are out of scope too
    ("/area/kota-baru", "status"),
    ("/api/areas/kota-baru", "status"),
    ("/api/cameras?area=kota-baru", "status"),
    ("/area/telanaipura", "status"),
    ("/tech/kota-baru", "stats"),
    ("/tech/kota-baru.csv", "stats"),
    ("/api/rollup/kota-baru", "stats"),
    ("/alerts?area=kota-baru", "status"),
    ("/wall/kota-baru", "live"),
    ("/api/wall?area=kota-baru", "live"),
    ("/wall/telanaipura", "live"),
]
UNSCOPED = ["/", "/api/areas", "/api/cameras"]  # the city: cut down to the scope
UNSCOPED_STATUS = ["/alerts", "/api/alerts", "/alerts?fragment=1"]  # the alert feed: in-scope alerts only
UNSCOPED_STATS = ["/tech", "/tech.csv", "/api/rollup"]  # the same, for roles with stats (uptime)
STATS_ROLES = {"admin", "operator", "technician"}
UNSCOPED_LIVE = ["/wall", "/api/wall", "/api/wall?page=9&per_page=1"]  # the same, for roles with live pictures


@pytest.fixture
def city(web_services: Services) -> Services:
    svc = web_services
    svc.clock.advance(60)
    for cam in (CAM1, CAM2, CAM4, CAM5):
        set_status(svc, cam, State.ONLINE)
    set_status(svc, CAM3, State.OFFLINE, "timeout")
    for cam in (CAM1, CAM4, CAM5):
        svc.snapshots.put(cam, jpeg(), T0)
    return svc


RECORDINGS_ROLES = {"admin", "operator"}  # playback of recordings; never technicians, police only via clips
CLIP_ROLES = {"admin", "operator", "police"}  # see clip requests (their own, or as approvers in scope)
UNSCOPED_CLIPS = ["/clips", "/api/clips", "/clips?state=open"]


def expected(role: str, need: str, in_scope: bool) -> int:
    if need == "recordings" and role not in RECORDINGS_ROLES:
        return 403
    if need == "live" and role not in LIVE_ROLES:
        return 403
    if need == "stats" and role not in STATS_ROLES:
        return 403
    return 200 if in_scope else 404


@pytest.mark.parametrize("role", ROLES)
async def test_matrix(role: str, city: Services, client_as: Any) -> None:
    client = await client_as(role, SCOPE)
    for template, need, kind in ROUTES:
        for in_scope, paths in ((True, IN), (False, OUT)):
            url = template.format(**{kind: paths[kind]})
            r = await client.get(url, allow_redirects=False)
            want = expected(role, need, in_scope)
            assert r.status == want, f"{role} GET {url}: {r.status}, expected {want}"
            body = await r.text() if r.content_type != "image/jpeg" else ""
            if r.status == 404:  # exactly what a path that does not exist gets (the request is echoed)
                real = paths[kind]
                fake = "/".join(f"zz{i}" for i in range(real.count("/") + 1))
                other = await (await client.get(template.format(**{kind: fake}))).text()
                assert body.replace(real, "P") == other.replace(fake, "P"), f"{role} GET {url}"
            else:
                assert_no_leak(body, f"{role} GET {url}")
    for url, need in OUT_ONLY:
        r = await client.get(url)
        assert r.status == expected(role, need, False), f"{role} GET {url}"
        body = await r.text()
        assert "Kota Baru" not in body and "Telanaipura" not in body and "Paal Lima" not in body
    for url in UNSCOPED:
        r = await client.get(url)
        assert r.status == 200, f"{role} GET {url}"
        assert_no_leak(await r.text(), f"{role} GET {url}")
    for url in UNSCOPED_LIVE:
        r = await client.get(url)
        assert r.status == (200 if role in LIVE_ROLES else 403), f"{role} GET {url}"
        assert_no_leak(await r.text(), f"{role} GET {url}")

    for url in UNSCOPED_CLIPS:
        r = await client.get(url)
        assert r.status == (200 if role in CLIP_ROLES else 403), f"{role} GET {url}"
        assert_no_leak(await r.text(), f"{role} GET {url}")
    r = await client.get("/clips/new")
    assert r.status == (200 if role in ("admin", "police") else 403), f"{role} GET /clips/new"
    assert_no_leak(await r.text(), f"{role} GET /clips/new")
    assert (await client.get("/admin/audit")).status == 403  # admins too: this one is scoped below the city
    assert (await client.get("/admin/nodes")).status == 403  # the nodes carry cameras all over the city

    for url in UNSCOPED_STATUS + UNSCOPED_STATS:
        r = await client.get(url)
        want = 200 if url in UNSCOPED_STATUS or role in STATS_ROLES else 403
        assert r.status == want, f"{role} GET {url}"
        assert_no_leak(await r.text(), f"{role} GET {url}")

@pytest.mark.parametrize("role", ROLES)
async def test_city_is_cut_to_the_scope(role: str, city: Services, client_as: Any) -> None:
    client = await client_as(role, SCOPE)
    body = await (await client.get("/api/areas")).json()
    assert body["path"] == "" and [c["path"] for c in body["children"]] == [SCOPE]
    assert body["counts"]["total"] == 3 and body["counts"]["offline"] == 1  # CAM1-3 only
    cams = [c["path"] for c in await (await client.get("/api/cameras")).json()]
    assert cams == [CAM1, CAM2, CAM3]
    html = await (await client.get("/")).text()
    assert "Paal Lima" in html and "Kota Baru" not in html
    assert 'data-k="total">3<' in html
    assert ("/snapshot/" in html) == (role in LIVE_ROLES)  # police: no wall


@pytest.mark.parametrize("role", ROLES)
async def test_websocket(role: str, city: Services, client_as: Any) -> None:
    client = await client_as(role, SCOPE)
    if role not in LIVE_ROLES:
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await client.ws_connect("/ws")
        assert exc.value.status == 403
        return
    for area in ("telanaipura", "kota-baru", "kota-baru/simpang-tiga-sipin"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await client.ws_connect(f"/ws?area={area}")
        assert exc.value.status == 404
    for area in ("", SCOPE):
        async with client.ws_connect(f"/ws?area={area}") as ws:
            hello = await receive(ws)
            assert hello["counts"]["total"] == 3
            set_status(city, CAM5, State.OFFLINE, "timeout")  # outside: never sent
            set_status(city, CAM4, State.OFFLINE, "timeout")
            city.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM4, T0))
            set_status(city, CAM2, State.DEGRADED, "black")
            msg = await receive(ws)
            assert msg["camera"] == CAM2
            counts = await receive(ws, "counts")  # the scope's own numbers, never the city's
            assert counts["counts"]["total"] == 3 and counts["counts"]["degraded"] == 1
            assert counts["counts"]["offline"] == hello["counts"]["offline"]
            set_status(city, CAM5, State.ONLINE)
            set_status(city, CAM4, State.ONLINE)
            set_status(city, CAM2, State.ONLINE)
            msg = await receive(ws)
            assert msg["camera"] == CAM2
            for m in seen(ws):
                assert_no_leak(json.dumps(m), f"ws {area!r}")


async def test_city_wide_admin_sees_everything(city: Services, web_client: Any) -> None:
    for url in ("/area/telanaipura", f"/camera/{CAM5}", f"/snapshot/{CAM5}.jpg", "/api/areas/kota-baru",
                "/admin/audit", f"/api/cameras/{CAM5}/recordings"):
        assert (await web_client.get(url)).status == 200, url
    body = await (await web_client.get("/api/areas")).json()
    assert [c["path"] for c in body["children"]] == ["kota-baru", "telanaipura"]


async def test_several_scopes(city: Services, client_as: Any) -> None:
    client = await client_as("operator", "kota-baru/simpang-tiga-sipin", "telanaipura/pematang-sulur/rt-03")
    body = await (await client.get("/api/areas")).json()
    assert [c["path"] for c in body["children"]] == ["kota-baru/simpang-tiga-sipin",
                                                    "telanaipura/pematang-sulur/rt-03"]
    assert [c["path"] for c in await (await client.get("/api/cameras")).json()] == [CAM4, CAM5]
    assert (await client.get(f"/camera/{CAM1}")).status == 404
    assert (await client.get(f"/camera/{CAM5}")).status == 200


async def test_unauthenticated_matrix(city: Services, anon_client: Any) -> None:
    for template, _need, kind in ROUTES:
        for paths in (IN, OUT):
            url = template.format(**{kind: paths[kind]})
            r = await anon_client.get(url, allow_redirects=False)
            if url.startswith(("/api/", "/snapshot/")):
                assert r.status == 401, url
            else:
                assert r.status == 302 and r.headers["Location"].startswith("/login"), url
            assert_no_leak(await r.text(), url)
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await anon_client.ws_connect(f"/ws?area={SCOPE}")
    assert exc.value.status == 401


def test_every_route_is_in_the_matrix(web_services: Services) -> None:
    """A new route must be added to ROUTES (or to the public list) before this passes."""
    app = create_app(web_services)
    seen = {r.canonical for r in app.router.resources()}
    covered = {"/", "/area/{path}", "/camera/{path}", "/api/cameras", "/api/cameras/{path}",
               "/api/cameras/{path}/intervals", "/api/areas", "/api/areas/{path}", "/snapshot/{path}.jpg",
               "/ws", "/healthz", "/login", "/logout", "/static", "/wall", "/wall/{path}", "/api/wall"}
    covered |= {"/tech", "/tech.csv", "/tech/{path}", "/api/rollup", "/api/rollup/{path}", "/alerts",
                "/api/alerts", "/alerts/{id}/ack"}  # roll-ups, technician dashboard, alert feed
    covered |= {"/clips", "/clips/new", "/clips/{id}", "/clips/{id}/{action}", "/clips/{id}/{kind}/{n}",
                "/api/clips", "/api/clips/{id}", "/keys/node.pub", "/admin/audit", "/camera/{path}/vod.m3u8",
                "/camera/{path}/segments/{id}.ts", "/api/cameras/{path}/recordings"}  # clips, playback, audit
    covered |= {"/api/node-alerts", "/node-alerts/banner", "/node-alerts/{id}/ack"}  # tests/cctv/alerts/test_node_alerts.py
    covered |= {"/admin/nodes", "/api/nodes"}  # tests/web/test_nodes_page.py
    assert seen == covered, f"routes not in the RBAC matrix: {seen - covered}"


@pytest.mark.parametrize("role", ROLES)
async def test_alert_feed(role: str, city: Services, client_as: Any) -> None:
    """Alerts in and out of the scope: the feed lists only the ones in it; acknowledging needs alerts.ack and
    answers 404 outside the scope, exactly as for an alert that does not exist."""
    from cctv.alerts.model import AlertEvent, camera_alert

    ids = {}
    for cam in (CAM3, CAM4, CAM5):
        ids[cam] = city.alerts.write(AlertEvent("open", camera_alert(cam, T0, "offline", "timeout")))
    client = await client_as(role, SCOPE)
    for url in ("/alerts", "/api/alerts", "/alerts?fragment=1", f"/alerts?area={SCOPE}"):
        r = await client.get(url)
        assert r.status == 200, f"{role} GET {url}"
        body = await r.text()
        assert_no_leak(body, f"{role} GET {url}")
        assert CAM3 in body and CAM4 not in body and CAM5 not in body
    html = await (await client.get("/")).text()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)  # type: ignore[union-attr]
    can_ack = role in ("admin", "operator")
    r = await client.post(f"/alerts/{ids[CAM4]}/ack", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == (404 if can_ack else 403), f"{role} ack out of scope"
    out = await r.text()
    nothing = await (await client.post("/alerts/987654/ack", data={"csrf_token": token})).text()
    assert out.replace(str(ids[CAM4]), "N") == nothing.replace("987654", "N")
    assert city.alerts.get(ids[CAM4]).acked_by is None  # type: ignore[union-attr]
    r = await client.post(f"/alerts/{ids[CAM3]}/ack", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == (303 if can_ack else 403), f"{role} ack in scope"
    assert (city.alerts.get(ids[CAM3]).acked_by is not None) == can_ack  # type: ignore[union-attr]


@pytest.mark.parametrize("role", ROLES)
async def test_clip_requests(role: str, city: Services, client_as: Any) -> None:
    """Requests over a camera in the scope and one outside it, filed by a city-wide police user: approvers in
    scope see and decide the first; the second does not exist for anyone here; another police user's request
    does not exist for a police user; roles without clips get 403 whatever the request."""
    from cctv.evidence.requests import NewRequest

    def file(camera: str) -> int:
        new = NewRequest((camera,), T0 - 600_000, T0 - 60_000, "LP/1", "why")
        return city.clips.create(new, "polisi-kota", 999_999, T0)

    inside, outside = file(CAM1), file(CAM4)
    client = await client_as(role, SCOPE)
    sees_inside = role in ("admin", "operator")
    for url in (f"/clips/{inside}", f"/api/clips/{inside}"):
        r = await client.get(url)
        assert r.status == (200 if sees_inside else 404 if role in CLIP_ROLES else 403), f"{role} GET {url}"
        assert_no_leak(await r.text(), f"{role} GET {url}")
    for rid in (outside, 987_654):  # out of scope: exactly as a request that does not exist
        r = await client.get(f"/clips/{rid}")
        assert r.status == (404 if role in CLIP_ROLES else 403), f"{role} GET /clips/{rid}"
    body = await (await client.get(f"/clips/{outside}")).text()
    nothing = await (await client.get("/clips/987654")).text()
    assert body.replace(f": {outside}<", ": N<") == nothing.replace(": 987654<", ": N<")
    listed = await (await client.get("/api/clips")).text()
    assert_no_leak(listed, f"{role} GET /api/clips")
    if role in CLIP_ROLES:
        ids = [r["id"] for r in json.loads(listed)["requests"]]
        assert ids == ([inside] if sees_inside else []), role

    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', await (await client.get("/")).text())
    assert token
    for rid, want in ((outside, 404 if role in CLIP_ROLES else 403),
                      (inside, 303 if sees_inside else 404 if role in CLIP_ROLES else 403)):
        r = await client.post(f"/clips/{rid}/reject", data={"csrf_token": token.group(1), "comment": "no"},
                              allow_redirects=False)
        assert r.status == want, f"{role} reject {rid}"
    assert city.clips.get(outside).state == "requested"  # type: ignore[union-attr]
    assert city.clips.get(inside).state == ("rejected" if sees_inside else "requested")  # type: ignore[union-attr]


async def test_the_public_key_is_public(city: Services, anon_client: Any) -> None:
    r = await anon_client.get("/keys/node.pub")
    assert r.status == 200 and (await r.text()).startswith("-----BEGIN PUBLIC KEY-----")
    assert r.headers["X-Key-Fingerprint"].startswith("ed25519:")
    assert (await anon_client.get("/clips", allow_redirects=False)).status == 302
    assert (await anon_client.get("/api/clips")).status == 401
    assert (await anon_client.get("/admin/audit", allow_redirects=False)).status == 302
