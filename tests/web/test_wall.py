"""The tile wall: attention order (pure), paging, the wall page and its JSON, sized snapshots with their cache and
ETags, the WebSocket's watch list and batched snapshot news, and the camera page's bounded timeline.

Web parts run over a real socket with the real live model, bus, store (SQLite under tmp_path) and snapshots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from cctv.app.services import Services
from cctv.status.attention import Rank, attention_order, is_night, rank
from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    MotionChange,
    SnapshotNews,
    SnapshotReady,
    State,
)
from cctv.status.snapshots import SnapshotStore, StoredSnapshot, fit_width, jpeg_size, sized_etag
from cctv.store import Interval
from tests.helpers.eventually import aeventually
from tests.helpers.scene import CAM1, CAM2, CAM3, CAM4, CAM5, T0, set_status
from tests.helpers.sockets import receive
from web.keys import SOCKET_HUB
from web.views import pages, ws
from web.views.wall import page_slice

WIB = ZoneInfo("Asia/Jakarta")
HOUR_MS = 3600 * 1000


def picture(width: int = 640, height: int = 360) -> bytes:
    """A real JPEG with texture (a gradient and a block), so a scaled copy is a real, smaller picture."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)
    img[height // 4 : height // 2, width // 4 : width // 2] = (30, 200, 90)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


# -- attention order (pure) -------------------------------------------------------------------------------


@dataclass
class Cam:
    name: str
    state: str
    reason: str = ""
    motion: bool = False


def test_rank_of_each_kind_of_camera() -> None:
    assert rank("offline", "timeout", False, night=False) is Rank.OFFLINE
    assert rank("offline", "starting", True, night=True) is Rank.OFFLINE
    for reason in ("covered", "black", "moved"):
        assert rank("degraded", reason, False, night=False) is Rank.TAMPERED
    for reason in ("frozen", "blurred", "low_fps", "dark"):
        assert rank("degraded", reason, True, night=True) is Rank.DEGRADED
    assert rank("online", "", True, night=True) is Rank.NIGHT_MOTION
    assert rank("online", "", True, night=False) is Rank.REST
    assert rank("online", "", False, night=True) is Rank.REST


def test_attention_order_is_stable_within_a_rank() -> None:
    cams = [
        Cam("a", "online"),
        Cam("b", "online", motion=True),
        Cam("c", "degraded", "frozen"),
        Cam("d", "offline", "auth"),
        Cam("e", "degraded", "covered"),
        Cam("f", "offline", "timeout"),
        Cam("g", "degraded", "blurred"),
        Cam("h", "degraded", "moved"),
        Cam("i", "online", motion=True),
    ]
    night = [c.name for c in attention_order(cams, night=True)]
    assert night == ["d", "f", "e", "h", "c", "g", "b", "i", "a"]
    day = [c.name for c in attention_order(cams, night=False)]
    assert day == ["d", "f", "e", "h", "c", "g", "a", "b", "i"]  # by day motion is no reason to jump ahead
    assert [c.name for c in cams][0] == "a"  # the input is left as it was


@pytest.mark.parametrize(
    ("hour_wib", "night"),
    [(5, True), (6, False), (12, False), (17, False), (18, True), (23, True), (0, True)],
)
def test_night_is_local_time(hour_wib: int, night: bool) -> None:
    t0 = T0 - 7 * HOUR_MS  # 00:00 WIB on 1 Jan 2026
    assert is_night(t0 + hour_wib * HOUR_MS, WIB) is night
    assert is_night(t0 + hour_wib * HOUR_MS, WIB, start_hour=1, end_hour=5) is (1 <= hour_wib < 5)


@pytest.mark.parametrize(
    ("total", "page", "per_page", "expected"),
    [
        (0, 1, 16, (1, 1, 0, 0)),
        (5, 1, 4, (1, 2, 0, 4)),
        (5, 2, 4, (2, 2, 4, 5)),
        (5, 9, 4, (2, 2, 4, 5)),  # past the end: the last page
        (64, 1, 64, (1, 1, 0, 64)),
        (65, 2, 64, (2, 2, 64, 65)),
    ],
)
def test_page_slice(total: int, page: int, per_page: int, expected: tuple[int, int, int, int]) -> None:
    assert page_slice(total, page, per_page) == expected


# -- sized snapshots (cctv/status/snapshots.py) ---------------------------------------------------------------------


def test_fit_width_and_jpeg_size() -> None:
    assert [fit_width(w) for w in (1, 160, 161, 300, 640, 641, 5000)] == [160, 160, 320, 320, 640, 960, 1280]
    assert jpeg_size(picture(640, 360)) == (640, 360)
    assert jpeg_size(picture(320, 180)) == (320, 180)
    assert jpeg_size(b"not a jpeg") is None
    assert jpeg_size(b"\xff\xd8\xff") is None
    assert StoredSnapshot(b"junk", 1).width is None


def test_sized_copies_are_cached_per_version_and_never_scaled_up(tmp_path) -> None:
    store = SnapshotStore(tmp_path / "snaps")
    store.put(CAM1, picture(640, 360), T0)
    src = store.get(CAM1)
    assert src is not None and src.width == 640
    small = store.sized(CAM1, src, 320)
    assert jpeg_size(small.jpeg) == (320, 180) and small.etag == sized_etag(src, 320) != src.etag
    assert store.sized(CAM1, src, 320) is small and store.resizes == 1  # from the cache
    assert store.sized(CAM1, src, 640) is src and store.sized(CAM1, src, 1280) is src  # never wider
    store.put(CAM1, cv2.imencode(".jpg", np.full((360, 640, 3), 99, np.uint8))[1].tobytes(), T0 + 4000)
    newer = store.get(CAM1)
    assert newer is not None and newer.etag != src.etag
    again = store.sized(CAM1, newer, 320)
    assert again.etag == sized_etag(newer, 320) and store.resizes == 2  # a new version: scaled again
    broken = StoredSnapshot(b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x04\x00" + b"\x00" * 40, T0)
    assert broken.width == 1024
    out = store.sized(CAM2, broken, 160)  # undecodable: served as it is, counted, tried once
    assert out.jpeg == broken.jpeg and store.resize_errors == 1
    assert store.sized(CAM2, broken, 160) is out and store.resize_errors == 1


async def test_snapshot_width_parameter(web_client: Any, web_services: Services) -> None:
    full = picture(640, 360)
    web_services.snapshots.put(CAM1, full, T0)
    r = await web_client.get(f"/snapshot/{CAM1}.jpg?w=200&t={T0}")  # rounded up to 320
    assert r.status == 200 and r.content_type == "image/jpeg"
    body = await r.read()
    assert jpeg_size(body) == (320, 180) and len(body) < len(full)
    assert r.headers["Cache-Control"] == "no-cache"
    etag = r.headers["ETag"]
    r = await web_client.get(f"/snapshot/{CAM1}.jpg?w=200", headers={"If-None-Match": etag})
    assert r.status == 304
    r = await web_client.get(f"/snapshot/{CAM1}.jpg?w=160", headers={"If-None-Match": etag})
    assert r.status == 200 and jpeg_size(await r.read()) == (160, 90)  # another size: another ETag
    r = await web_client.get(f"/snapshot/{CAM1}.jpg?w=5000")
    assert await r.read() == full  # never scaled up
    r = await web_client.get(f"/snapshot/{CAM1}.jpg")
    assert await r.read() == full and r.headers["ETag"] != etag
    web_services.snapshots.put(CAM1, picture(640, 352), T0 + 2000)
    r = await web_client.get(f"/snapshot/{CAM1}.jpg?w=200", headers={"If-None-Match": etag})
    assert r.status == 200 and r.headers["ETag"] != etag  # the snapshot changed: a new picture
    for bad in ("x", "0", "-5", "1.5", "100000"):
        r = await web_client.get(f"/snapshot/{CAM1}.jpg?w={bad}")
        assert r.status == 400, bad
        assert "Parameter w " in await r.text()


# -- the wall page and its JSON ----------------------------------------------------------------------------


@pytest.fixture
def scene(web_services: Services) -> Services:
    """CAM1 offline (auth), CAM2 online, CAM3 degraded (covered), CAM4 starting (offline), CAM5 online with motion."""
    svc = web_services
    svc.clock.advance(60)
    set_status(svc, CAM1, State.OFFLINE, "auth")
    set_status(svc, CAM2, State.ONLINE)
    set_status(svc, CAM3, State.DEGRADED, "covered")
    set_status(svc, CAM5, State.ONLINE)
    svc.live.apply_motion(MotionChange(CAM5, True, 5.0, svc.clock.now_ms()))
    for cam in (CAM1, CAM2, CAM5):
        svc.snapshots.put(cam, picture(), svc.clock.now_ms())
        svc.live.apply_snapshot(cam, svc.clock.now_ms())
    return svc


def tiles_in(html: str) -> list[str]:
    return re.findall(r'class="tile state-\w+[^"]*" href="/camera/([^"]+)"', html)


async def test_wall_page(web_client: Any, scene: Services, client_as: Any) -> None:
    r = await web_client.get("/wall")
    assert r.status == 200
    html = await r.text()
    assert tiles_in(html) == [CAM1, CAM4, CAM3, CAM2, CAM5]  # 07:01 WIB: by day motion does not jump ahead
    assert 'data-per-page="16"' in html and "--n: 4" in html  # the default grid, 4x4
    assert f"/snapshot/{CAM2}.jpg?w=320&amp;t={T0 + 60_000} 320w" in html  # srcset: the browser picks a size
    assert 'data-ws-area=""' in html and "/static/wall.js" in html
    scene.clock.advance(11 * 3600)  # 18:01 WIB: night, and CAM5 sees motion
    admin = await client_as("admin", "/")  # a new login: the first session has timed out by now
    html = await (await admin.get("/wall")).text()
    assert tiles_in(html) == [CAM1, CAM4, CAM3, CAM5, CAM2]


async def test_wall_grid_and_pages(web_client: Any, scene: Services) -> None:
    html = await (await web_client.get("/wall?grid=2&page=2")).text()
    assert tiles_in(html) == [CAM5]  # 2x2: page 2 of 2 holds the fifth
    assert 'data-page="2"' in html and 'data-pages="2"' in html
    assert '<option value="2" selected>2×2</option>' in html
    web_client.session.cookie_jar.update_cookies({"wall_grid": "2", "wall_cycle": "10"})
    html = await (await web_client.get("/wall/kota-baru")).text()
    assert tiles_in(html) == [CAM1, CAM4, CAM3, CAM2] and 'data-cycle="10"' in html
    web_client.session.cookie_jar.update_cookies(
        {"wall_grid": "99", "wall_cycle": "7"}
    )  # not a choice: ignored
    html = await (await web_client.get("/wall/kota-baru?page=50")).text()
    assert 'data-per-page="16"' in html and 'data-cycle="0"' in html and 'data-page="1"' in html
    for bad in ("grid=1", "grid=9", "grid=x", "page=0", "page=y"):
        r = await web_client.get(f"/wall?{bad}")
        assert r.status == 400, bad
    assert (await web_client.get("/wall/nope")).status == 404
    html = await (await web_client.get(f"/wall/{CAM1.rsplit('/', 1)[0]}")).text()  # an RT has a wall too
    assert tiles_in(html) == [CAM1, CAM2]


async def test_wall_json(web_client: Any, scene: Services) -> None:
    body = await (await web_client.get("/api/wall?area=kota-baru&per_page=2&page=2")).json()
    assert body["page"] == 2 and body["pages"] == 2 and body["total"] == 4 and body["per_page"] == 2
    assert [t["path"] for t in body["tiles"]] == [CAM3, CAM2]
    assert body["counts"]["offline"] == 2 and body["counts"]["degraded"] == 1
    covered = body["tiles"][0]
    assert covered["state"] == "degraded" and covered["reason_text"] == "Lensa tertutup"
    assert body["tiles"][1]["snapshot_ms"] == T0 + 60_000
    body = await (await web_client.get("/api/wall")).json()
    assert body["area"] == "" and body["per_page"] == 16 and len(body["tiles"]) == 5
    assert body["tiles"][4]["path"] == CAM5 and body["tiles"][4]["motion"] is True
    for bad in ("per_page=65", "per_page=0", "page=-1", "area=nope"):
        r = await web_client.get(f"/api/wall?{bad}")
        assert r.status == (404 if "nope" in bad else 400), bad
        assert (await r.json())["error"]["detail"]


async def test_wall_is_cut_to_the_scope(client_as: Any, scene: Services) -> None:
    viewer = await client_as("viewer", "telanaipura")
    html = await (await viewer.get("/wall")).text()
    assert tiles_in(html) == [CAM5] and "Kota Baru" not in html and "Simpang Masjid" not in html
    assert (await viewer.get("/wall/kota-baru")).status == 404
    police = await client_as("police", "/")
    assert (await police.get("/wall")).status == 403
    assert (await police.get("/api/wall")).status == 403


async def test_area_page_caps_and_links_the_wall(
    web_client: Any, scene: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "GRID_CAP", 2)
    html = await (await web_client.get("/area/kota-baru")).text()
    assert tiles_in(html) == [CAM1, CAM4] and 'href="/wall/kota-baru"' in html
    assert "2 dari 4 kamera" in html and 'data-per-page="2"' in html
    assert 'data-live-gone="' in html


# -- WebSocket: watch list and batched snapshot news ---------------------------------------------------------


async def test_watch_batches_snapshots_of_watched_cameras_only(
    web_client: Any, scene: Services, client_as: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws, "SNAPSHOT_EVERY_S", 0.05)
    async with web_client.ws_connect("/ws?area=kota-baru") as sock:
        assert (await receive(sock))["type"] == "hello"
        await sock.send_json({"type": "watch", "cameras": [CAM1, CAM3, CAM5]})  # CAM5: another kecamatan
        await sock.send_json({"type": "watch", "cameras": "all"})
        err = await receive(sock)
        assert err["type"] == "error" and "watch.cameras" in err["detail"]
        await sock.send_str("{not json")
        assert (await receive(sock))["type"] == "error"
        for i, cam in enumerate((CAM1, CAM2, CAM5, CAM3, CAM1)):
            scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(cam, T0 + i))
        msg = await receive(sock)
        assert msg == {
            "type": "snapshots",
            "cameras": {CAM1: T0 + 4, CAM3: T0 + 3},
        }  # latest of each, one message
        scene.bus.publish(
            TOPIC_MOTION, MotionChange(CAM2, True, 3.0, T0 + 9)
        )  # not watched: still sent at once
        assert (await receive(sock))["type"] == "motion"
        set_status(scene, CAM4, State.ONLINE)
        assert (await receive(sock))["camera"] == CAM4  # status of every camera of the area
    scoped = await client_as("operator", "kota-baru/paal-lima")
    async with scoped.ws_connect("/ws") as sock:
        await receive(sock)
        await sock.send_json({"type": "watch", "cameras": [CAM4, CAM1]})  # CAM4 is outside the scope
        await sock.send_json(
            {"type": "hello?"}
        )  # answered in order: once this error is back, the watch is set
        assert (await receive(sock))["type"] == "error"
        scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM4, T0 + 20))
        scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM1, T0 + 21))
        assert await receive(sock) == {"type": "snapshots", "cameras": {CAM1: T0 + 21}}


async def test_a_new_watch_list_replaces_the_old_and_a_closed_socket_watches_nothing(
    web_client: Any, scene: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snapshot news goes to the sockets watching the camera (an index by camera, not a walk of every socket)."""
    monkeypatch.setattr(ws, "SNAPSHOT_EVERY_S", 0.05)
    hub = web_client.app[SOCKET_HUB]
    async with web_client.ws_connect("/ws?area=kota-baru") as sock:
        await receive(sock)
        await sock.send_json({"type": "watch", "cameras": [CAM1, CAM2]})
        await sock.send_json({"type": "watch", "cameras": [CAM3]})  # the page turned
        await sock.send_json({"type": "hello?"})
        assert (await receive(sock))["type"] == "error"  # in order: both watch lists are set
        assert set(hub._watching) == {CAM3}
        scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM1, T0 + 1))
        scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM3, T0 + 2))
        assert await receive(sock) == {"type": "snapshots", "cameras": {CAM3: T0 + 2}}
        # another node's envelope of news reaches the views as one message
        scene.bus.deliver_remote(TOPIC_SNAPSHOT, SnapshotNews((SnapshotReady(CAM1, T0 + 3),
                                                               SnapshotReady(CAM3, T0 + 4))))
        assert await receive(sock) == {"type": "snapshots", "cameras": {CAM3: T0 + 4}}
        scene.live.sync()
        assert scene.live.get(CAM1).snapshot_ms == T0 + 3
    await aeventually(lambda: not hub._watching and not hub._unsaid, 10, "the closed socket to leave the index")


async def test_without_a_watch_list_snapshots_come_one_by_one(web_client: Any, scene: Services) -> None:
    async with web_client.ws_connect("/ws?area=kota-baru/paal-lima") as sock:
        await receive(sock)
        scene.bus.publish(TOPIC_SNAPSHOT, SnapshotReady(CAM2, T0 + 1))
        assert await receive(sock) == {"type": "snapshot", "camera": CAM2, "t_ms": T0 + 1}


# -- camera page: bounded timeline ---------------------------------------------------------------------------


def iv(state: str, start_s: float, end_s: float | None, reason: str = "") -> Interval:
    return Interval(
        CAM1, state, reason, T0 + int(start_s * 1000), None if end_s is None else T0 + int(end_s * 1000)
    )


def test_timeline_keeps_wide_intervals_and_merges_runs_of_tiny_ones() -> None:
    day = 86_400
    intervals = [iv("online", 0, 40_000)]
    t = 40_000.0
    for i in range(3000):  # 3000 flaps of 5 s: each far below one bar's width
        intervals.append(iv("offline" if i % 2 else "degraded", t, t + 5, "timeout" if i % 2 else "frozen"))
        t += 5
    intervals.append(iv("online", t, t + 30_000))
    intervals.append(iv("offline", t + 30_000, t + 30_060, "timeout"))  # a lone one-minute outage
    intervals.append(iv("online", t + 30_060, None))
    bars = pages.timeline_bars(intervals, T0, T0 + day * 1000, WIB, "en")
    assert [(b["state"], b["mixed"]) for b in bars] == [
        ("online", False),
        ("offline", True),
        ("online", False),
        ("offline", False),
        ("online", False),
    ]
    assert bars[1]["title"].startswith("3000 state changes, worst: Offline")
    assert bars[3]["title"].startswith("Offline — No answer (timeout)") and bars[3]["width"] > 0
    assert sum(b["width"] for b in bars) == pytest.approx(100, abs=0.01)


def test_timeline_is_bounded_whatever_the_intervals() -> None:
    day_ms = 86_400_000
    # alternating wide and tiny intervals: the worst case for the number of bars
    intervals, t = [], 0.0
    for i in range(5000):
        width = 250.0 if i % 2 == 0 else 1.0
        intervals.append(iv("online" if i % 2 == 0 else "offline", t, t + width, "" if i % 2 == 0 else "eof"))
        t += width
    bars = pages.timeline_bars(intervals, T0, T0 + day_ms, WIB, "id")
    assert len(bars) <= 2 * 100 / pages.TIMELINE_MIN_PCT + 1


async def test_camera_page_shows_the_full_snapshot_and_a_bounded_timeline(
    web_client: Any, scene: Services
) -> None:
    for i in range(400):  # a flapping camera: 400 changes of 1 s
        scene.clock.advance(1)
        set_status(scene, CAM2, State.OFFLINE if i % 2 == 0 else State.ONLINE, "eof" if i % 2 == 0 else "")
    scene.clock.advance(600)
    html = await (await web_client.get(f"/camera/{CAM2}")).text()
    assert (
        f'src="/snapshot/{CAM2}.jpg?t={T0 + 60_000}" data-snap="{T0 + 60_000}"' in html
    )  # full size, no ?w=
    assert html.count('class="seg state-') <= 4 and 'class="seg state-offline mixed"' in html
    assert "400 perubahan status, terburuk: Mati" in html
