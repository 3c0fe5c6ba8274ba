"""The web application over a real socket, driven through the real live model, bus, store and snapshots."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from cctv.app.services import Services
from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATUS,
    MotionChange,
    SnapshotReady,
    State,
    StatusChange,
)
from tests.helpers.eventually import aeventually
from tests.helpers.scene import CAM1, CAM2, CAM3, CAM4, CAM5, T0, jpeg, set_status
from tests.helpers.sockets import receive, seen
from tests.helpers.web import WEB_SECRET
from web import socket_hub
from web.keys import SOCKET_HUB
from web.views import pages


def counts_in(html: str, path: str) -> dict[str, int]:
    """The numbers of the counts block (or child row) of ``path`` on a page."""
    m = re.search(rf'data-counts="{re.escape(path)}">(.*?)</(?:dl|tr)>', html, re.S)
    assert m, f"no counts for {path!r}"
    return {k: int(v) for k, v in re.findall(r'data-k="(\w+)">(\d+)<', m.group(1))}


@pytest.fixture
def scene(web_services: Services) -> Services:
    """Two online, one degraded (frozen), one offline (auth), one still starting (offline)."""
    svc = web_services
    svc.clock.advance(60)
    set_status(svc, CAM1, State.OFFLINE, "auth")
    set_status(svc, CAM2, State.ONLINE)
    set_status(svc, CAM3, State.DEGRADED, "frozen")
    set_status(svc, CAM5, State.ONLINE)
    svc.clock.advance(600)
    return svc


# -- pages --------------------------------------------------------------------------------------------


async def test_city_page(web_client: Any, scene: Services) -> None:
    r = await web_client.get("/")
    assert r.status == 200
    html = await r.text()
    assert "Kota Jambi" in html and "Kota Baru" in html and "Telanaipura" in html
    assert counts_in(html, "") == {"total": 5, "online": 2, "degraded": 1, "offline": 2, "motion": 0}
    assert counts_in(html, "kota-baru") == {"total": 4, "online": 1, "degraded": 1, "offline": 2, "motion": 0}
    assert counts_in(html, "telanaipura")["online"] == 1
    assert 'href="/area/kota-baru"' in html
    # attention first: offline (config order), then degraded, then online
    order = re.findall(r'class="tile state-(\w+)[^"]*" href="/camera/([^"]+)"', html)
    assert [p for _, p in order] == [CAM1, CAM4, CAM3, CAM2, CAM5]
    assert "Login kamera gagal" in html and "Gambar beku" in html  # reasons in words
    assert f'src="/snapshot/{CAM1}.jpg?t=0"' in html and 'loading="lazy"' in html


async def test_city_grid_is_capped(web_client: Any, scene: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "GRID_CAP", 2)
    html = await (await web_client.get("/")).text()
    assert len(re.findall(r'class="tile state-', html)) == 2
    assert "2 dari 5 kamera" in html


@pytest.mark.parametrize(
    ("url", "name", "children", "counts"),
    [
        ("/area/kota-baru", "Kota Baru", ["kota-baru/paal-lima", "kota-baru/simpang-tiga-sipin"],
         {"total": 4, "online": 1, "degraded": 1, "offline": 2, "motion": 0}),
        ("/area/kota-baru/paal-lima", "Paal Lima", ["kota-baru/paal-lima/rt-07", "kota-baru/paal-lima/rt-08"],
         {"total": 3, "online": 1, "degraded": 1, "offline": 1, "motion": 0}),
        ("/area/kota-baru/paal-lima/rt-07", "RT 07", [],
         {"total": 2, "online": 1, "degraded": 0, "offline": 1, "motion": 0}),
    ],
)
async def test_area_pages(
    web_client: Any, scene: Services, url: str, name: str, children: list[str], counts: dict[str, int]
) -> None:
    r = await web_client.get(url)
    assert r.status == 200
    html = await r.text()
    path = url.removeprefix("/area/")
    assert f"</span> {name}</h1>" in html
    assert counts_in(html, path) == counts
    for child in children:
        assert f'href="/area/{child}"' in html
        assert counts_in(html, child)["total"] >= 1
    assert f'data-ws-area="{path}"' in html
    assert '<a href="/">Kota Jambi</a>' in html  # breadcrumbs start at the city
    tiles = re.findall(r'href="/camera/([^"]+)"', html)
    assert tiles and all(t.startswith(path + "/") for t in tiles)


async def test_camera_page(web_client: Any, scene: Services) -> None:
    svc = scene
    set_status(svc, CAM2, State.DEGRADED, "black")  # 600 s online, then degraded
    svc.clock.advance(300)
    r = await web_client.get(f"/camera/{CAM2}")
    assert r.status == 200
    html = await r.text()
    assert "Pos Ronda" in html and "Gambar hitam" in html and "Terganggu" in html
    assert "1 Jan 2026 07:11:00 WIB" in html  # since, in WIB
    assert html.count('class="seg state-') == 2  # timeline: online, then degraded
    assert 'class="seg state-online"' in html and "title=" in html
    assert "masih berlangsung" in html  # the open interval in the table
    pct = dict(re.findall(r'avail state-(\w+)"><span class="badge">[^<]+</span> <strong>([\d.]+)%', html))
    assert pct["online"] == "0.7" and pct["degraded"] == "0.3"  # 600 s and 300 s of 24 h
    assert "rtsp://10.0.0.8:554/sub" in html


async def test_camera_page_stats(web_client: Any, web_services: Services) -> None:
    from cctv.status.messages import StreamStats

    web_services.live.apply_stats(StreamStats(
        CAM2, T0, fps=12.5, bitrate_bps=512_000, keyframe_interval_s=2.0, last_packet_ms=T0, reconnects=3,
        packets=100, keyframes=4, decoded=4, drops=0, width=640, height=360, codec="h264", decode_mode="keyframes",
    ))
    html = await (await web_client.get(f"/camera/{CAM2}")).text()
    for text in ("12.5", "512 kbit/s", "2.0 s", "640×360", "h264", "keyframes", ">3<"):
        assert text in html


async def test_unknown_area_and_camera_are_404(web_client: Any) -> None:
    for url in ("/area/nope", "/area/kota-baru/nope", f"/camera/{CAM1}x", "/camera/kota-baru", "/no/such/page"):
        r = await web_client.get(url)
        assert r.status == 404, url
        assert r.content_type == "text/html"
        assert "404" in await r.text()
    for url in ("/api/areas/nope", f"/api/cameras/{CAM1}x", f"/api/cameras/{CAM1}x/intervals",
                "/api/cameras?area=nope", "/api/nothing"):
        r = await web_client.get(url)
        assert r.status == 404, url
        body = await r.json()
        assert body["error"]["status"] == 404 and body["error"]["title"]


# -- API ----------------------------------------------------------------------------------------------


async def test_api_cameras(web_client: Any, scene: Services) -> None:
    r = await web_client.get("/api/cameras")
    assert r.status == 200
    cams = {c["path"]: c for c in await r.json()}
    assert list(cams) == [CAM1, CAM2, CAM3, CAM4, CAM5]
    c1 = cams[CAM1]
    assert c1["name"] == "Simpang Masjid" and c1["state"] == "offline" and c1["reason"] == "auth"
    assert c1["since"] == "2026-01-01T00:01:00.000Z" and c1["since_ms"] == T0 + 60_000
    assert c1["area"] == "kota-baru/paal-lima" and c1["motion"] is False
    assert "url" not in c1
    assert cams[CAM4]["reason"] == "starting" and cams[CAM4]["since"] == "2026-01-01T00:00:00.000Z"
    assert cams[CAM3]["state"] == "degraded"

    r = await web_client.get("/api/cameras", params={"area": "kota-baru/paal-lima"})
    assert [c["path"] for c in await r.json()] == [CAM1, CAM2, CAM3]

    one = await (await web_client.get(f"/api/cameras/{CAM3}")).json()
    assert one["reason"] == "frozen" and "stats" in one and one["url_redacted"] == "rtsp://10.0.0.9/sub"


async def test_api_areas(web_client: Any, scene: Services) -> None:
    city = await (await web_client.get("/api/areas")).json()
    assert city["level"] == "city" and city["counts"]["total"] == 5
    assert [c["path"] for c in city["children"]] == ["kota-baru", "telanaipura"]
    kel = await (await web_client.get("/api/areas/kota-baru/paal-lima")).json()
    assert kel["counts"]["offline"] == 1
    assert {c["path"]: c["counts"]["degraded"] for c in kel["children"]} == {
        "kota-baru/paal-lima/rt-07": 0, "kota-baru/paal-lima/rt-08": 1,
    }


async def test_api_intervals(web_client: Any, scene: Services) -> None:
    set_status(scene, CAM1, State.ONLINE)
    r = await web_client.get(f"/api/cameras/{CAM1}/intervals")
    assert r.status == 200
    body = await r.json()
    assert body["camera"] == CAM1
    assert [(i["state"], i["reason"], i["start_ms"], i["end_ms"]) for i in body["intervals"]] == [
        ("offline", "auth", T0 + 60_000, T0 + 660_000),
        ("online", "", T0 + 660_000, None),
    ]
    body = await (await web_client.get(f"/api/cameras/{CAM1}/intervals?since_ms={T0 + 660_000}")).json()
    assert [i["state"] for i in body["intervals"]] == ["online"]
    body = await (await web_client.get(f"/api/cameras/{CAM1}/intervals?until_ms={T0 + 100_000}")).json()
    assert [i["state"] for i in body["intervals"]] == ["offline"]


@pytest.mark.parametrize(
    "query",
    ["since_ms=abc", "until_ms=1.5", "since_ms=-1", "limit=0", "limit=x", "since_ms=10&until_ms=5"],
)
async def test_malformed_parameters_are_400(web_client: Any, query: str) -> None:
    r = await web_client.get(f"/api/cameras/{CAM1}/intervals?{query}")
    assert r.status == 400
    err = (await r.json())["error"]
    assert err["status"] == 400 and err["detail"]


async def test_healthz(web_client: Any, web_services: Services) -> None:
    web_services.health_probes.append(lambda: {"workers": 5, "queue_dropped": 0})
    r = await web_client.get("/healthz")
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "ok" and body["cameras"] == 5 and body["bus_dropped"] == 0
    assert body["ws_dropped"] == 0 and body["ws_resyncs"] == 0
    assert body["ingest"] == {"workers": 5, "queue_dropped": 0}
    assert body["stale_ignored"] == {"live": 0, "rollup": 0} and body["rollup"]["rollup_days_error"] is None


async def test_server_error_is_a_clean_500(web_client: Any, scene: Services) -> None:
    scene.store.close()  # the store is gone: reading intervals fails for real
    r = await web_client.get(f"/camera/{CAM1}")
    assert r.status == 500
    html = await r.text()
    assert "Traceback" not in html and "RuntimeError" not in html and "Kesalahan server" in html
    r = await web_client.get(f"/api/cameras/{CAM1}/intervals")
    assert r.status == 500 and (await r.json())["error"]["status"] == 500


# -- snapshots ----------------------------------------------------------------------------------------


async def test_snapshot(web_client: Any, web_services: Services) -> None:
    r = await web_client.get(f"/snapshot/{CAM1}.jpg")
    assert r.status == 404  # no picture yet
    assert (await web_client.get("/snapshot/kota-baru/x/y/z.jpg")).status == 404

    data = jpeg()
    web_services.snapshots.put(CAM1, data, T0)
    r = await web_client.get(f"/snapshot/{CAM1}.jpg?t={T0}")
    assert r.status == 200 and r.content_type == "image/jpeg"
    assert await r.read() == data
    assert r.headers["Cache-Control"] == "no-cache"
    etag = r.headers["ETag"]
    r = await web_client.get(f"/snapshot/{CAM1}.jpg", headers={"If-None-Match": etag})
    assert r.status == 304
    web_services.snapshots.put(CAM1, jpeg(200), T0 + 2000)
    r = await web_client.get(f"/snapshot/{CAM1}.jpg", headers={"If-None-Match": etag})
    assert r.status == 200 and r.headers["ETag"] != etag


# -- WebSocket ----------------------------------------------------------------------------------------


async def test_websocket_forwards_changes_within_its_area(web_client: Any, scene: Services) -> None:
    async with web_client.ws_connect("/ws?area=kota-baru/paal-lima") as ws:
        hello = await receive(ws)
        assert hello["type"] == "hello" and hello["area"] == "kota-baru/paal-lima"
        assert hello["counts"]["online"] == 1 and hello["counts"]["offline"] == 1
        assert set(hello["child_counts"]) == {"kota-baru/paal-lima/rt-07", "kota-baru/paal-lima/rt-08"}

        set_status(scene, CAM5, State.OFFLINE, "timeout")  # another kecamatan: must not arrive
        set_status(scene, CAM4, State.OFFLINE, "timeout")  # another kelurahan: must not arrive
        set_status(scene, CAM1, State.ONLINE)
        msg = await receive(ws)
        assert msg["type"] == "status" and msg["camera"] == CAM1
        assert msg["state"] == "online" and msg["reason"] == ""
        assert msg["since"] == "2026-01-01T00:11:00.000Z" and msg["since_ms"] == T0 + 660_000
        # counts follow within a second, for the area and the children that changed (never CAM4's kelurahan)
        counts = await receive(ws, "counts")
        assert counts["counts"]["online"] == 2 and counts["counts"]["offline"] == 0
        assert set(counts["child_counts"]) <= set(hello["child_counts"])
        rt07 = counts["child_counts"]["kota-baru/paal-lima/rt-07"]
        assert rt07 == scene.live.counts("kota-baru/paal-lima/rt-07").as_dict() and rt07["online"] == 2

        scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM5, T0))  # outside
        scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM3, T0 + 1))
        assert await receive(ws) == {"type": "snapshot", "camera": CAM3, "t_ms": T0 + 1}
        scene.bus.publish(TOPIC_MOTION, MotionChange(CAM2, True, 4.5, T0 + 2))
        msg = await receive(ws)
        assert msg["type"] == "motion" and msg["camera"] == CAM2 and msg["motion"] is True and msg["score"] == 4.5
        outside = [m for m in seen(ws) if m.get("camera") in (CAM4, CAM5)]
        assert outside == []  # filtered before the socket's queue, not after


async def test_websocket_city_and_cleanup(web_client: Any, scene: Services) -> None:
    hub = web_client.app[SOCKET_HUB]
    async with web_client.ws_connect("/ws") as ws:
        assert (await receive(ws))["counts"]["total"] == 5
        assert len(list(hub.feeds())) == 1
        if scene.aggregates.publish() is not None:  # the scene's own changes, already in the hello
            await receive(ws, "counts")
        set_status(scene, CAM5, State.DEGRADED, "black")
        msg = await receive(ws)
        assert msg["camera"] == CAM5 and msg["type"] == "status"
        counts = await receive(ws, "counts")
        assert counts["counts"]["degraded"] == 2
        assert list(counts["child_counts"]) == ["telanaipura"]
    # the socket leaves the hub when the client goes away; the hub's one subscription stays
    await aeventually(lambda: list(hub.feeds()) == [], 1, "the socket to leave the hub", every=0.01)


async def test_a_socket_that_falls_behind_is_resynchronised(web_client: Any, scene: Services) -> None:
    """More news than a socket's queue holds, at once: the queue is cleared, the drop counted, and the socket
    gets a fresh snapshot of its area (counts and states) instead — its tiles end up right."""
    hub = web_client.app[SOCKET_HUB]
    async with web_client.ws_connect("/ws?area=kota-baru/paal-lima") as ws:
        await receive(ws)
        await ws.send_json({"type": "watch", "cameras": [CAM1, CAM2, CAM3]})
        await ws.send_json({"type": "nope"})  # answered after the watch is set
        assert (await receive(ws))["type"] == "error"
        [feed] = hub.feeds()
        for i in range(socket_hub.QUEUE + 10):  # no await in between: the socket cannot keep up
            state = State.DEGRADED if i % 2 else State.ONLINE
            hub.route(TOPIC_STATUS, StatusChange(CAM2, state, "black" if i % 2 else "", T0 + i, None))
        later = scene.live.camera(CAM2).since_ms + 1  # newer than the scene's state: the live model takes it
        scene.live.apply_status(StatusChange(CAM2, State.DEGRADED, "black", later, None))
        assert feed.dropped > 0
        msg = await receive(ws, "resync")
        assert msg["cameras"][CAM2]["state"] == "degraded" and msg["cameras"][CAM2]["reason"] == "black"
        assert set(msg["cameras"]) == {CAM1, CAM2, CAM3}
        assert msg["counts"]["total"] == 3
        # the page may ask for one itself (live.js does when it sees a gap in seq)
        await ws.send_json({"type": "resync"})
        assert (await receive(ws, "resync"))["cameras"][CAM2]["state"] == "degraded"
    assert hub.resyncs >= 2 and hub.dropped >= feed.dropped
    health = await (await web_client.get("/healthz")).json()  # every drop is visible
    assert health["ws_dropped"] == hub.dropped > 0 and health["ws_resyncs"] == hub.resyncs


async def test_websocket_unknown_area_is_refused(web_client: Any) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await web_client.ws_connect("/ws?area=nope")
    assert exc.value.status == 404


# -- secrets and language -----------------------------------------------------------------------------


async def test_password_never_in_a_response(web_client: Any, scene: Services) -> None:
    scene.snapshots.put(CAM1, jpeg(), T0)
    urls = [
        "/", "/area/kota-baru", "/area/kota-baru/paal-lima", "/area/kota-baru/paal-lima/rt-07",
        f"/camera/{CAM1}", f"/camera/{CAM1}?lang=en", "/api/cameras", f"/api/cameras/{CAM1}",
        f"/api/cameras/{CAM1}/intervals", "/api/areas", "/api/areas/kota-baru", "/healthz", "/area/nope",
        f"/api/cameras/{CAM1}/intervals?since_ms=x", f"/snapshot/{CAM1}.jpg",
    ]
    for url in urls:
        r = await web_client.get(url)
        body = await r.read()
        assert WEB_SECRET.encode() not in body, url
        assert b"admin:" not in body, url
    async with web_client.ws_connect("/ws") as ws:
        await receive(ws)
        set_status(scene, CAM1, State.OFFLINE, "auth")
        msg = await ws.receive_str()
        assert WEB_SECRET not in msg


async def test_language(web_client: Any, scene: Services) -> None:
    html = await (await web_client.get("/")).text()
    assert 'lang="id"' in html and "Aktif" in html and "Gerakan kini" in html
    r = await web_client.get("/?lang=en")
    html = await r.text()
    assert 'lang="en"' in html and "Online" in html and "Motion now" in html and "Camera login failed" in html
    assert r.cookies["lang"].value == "en"
    html = await (await web_client.get("/area/kota-baru")).text()  # the cookie keeps the choice
    assert "Motion now" in html
    body = await (await web_client.get("/api/areas/nope")).json()
    assert body["error"]["detail"] == "Unknown area: nope"
    html = await (await web_client.get("/?lang=id")).text()
    assert "Gerakan kini" in html
