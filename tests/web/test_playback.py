"""Playback over real recorded segments (real H.264 through the real recorder) with a real gap: the day's
coverage, the HLS VOD playlist (wall-clock times, a discontinuity exactly at the gap), the segment files served
byte for byte with Range support, and who may do it."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import av
import pytest

from cctv.app.services import Services
from cctv.recording import Segment
from cctv.store.segments import NewSegment, add_segment, segments
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, browser_missing
from tests.helpers.evidence import record, source_clip
from tests.helpers.scene import CAM1, CAM2, T0
from tests.helpers.web import add_user, login
from web.i18n import iso_utc
from web.views.playback import hls_playlist

KEL = "kota-baru/paal-lima"
MIN = 60_000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return source_clip(tmp_path_factory.mktemp("src") / "src.mp4")


@pytest.fixture
def recorded(web_services: Services, source: Path) -> Services:
    """Six minutes of CAM1 from T0, offline from 2:30 to 3:30; the clock at T0 + 10 min."""
    record(
        web_services.store,
        web_services.data_dir / "recordings",
        source,
        6 * 60,
        camera=CAM1,
        t0_ms=T0,
        offline=(150, 210),
    )
    web_services.clock.advance(600)
    return web_services


@pytest.fixture
def as_user(aiohttp_client: Any, web_server: Any, web_services: Services) -> Any:
    async def make(name: str, role: str, *scopes: str) -> Any:
        add_user(web_services, name, role, list(scopes) or ["/"])
        client = await aiohttp_client(web_server)
        assert (await login(client, name)).status == 303
        return client

    return make


def parse(playlist: str) -> list[dict[str, Any]]:
    """The media segments of a playlist: {url, pdt, dur, discontinuity}."""
    out, pending = [], {"discontinuity": False}
    for line in playlist.splitlines():
        if line == "#EXT-X-DISCONTINUITY":
            pending["discontinuity"] = True
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pending["pdt"] = line.split(":", 1)[1]
        elif line.startswith("#EXTINF:"):
            pending["dur"] = float(line[8:].rstrip(","))
        elif line and not line.startswith("#"):
            out.append({**pending, "url": line})
            pending = {"discontinuity": False}
    return out


def ts_packets(data: bytes, tmp: Path) -> list[tuple[int, int]]:
    """(pts, duration) in 90 kHz ticks of every video packet of an MPEG-TS file's bytes."""
    tmp.write_bytes(data)
    with av.open(str(tmp)) as c:
        s = c.streams.video[0]
        return [(p.pts, p.duration or 0) for p in c.demux(s) if p.size and p.pts is not None]


async def test_playlist_over_real_segments_with_a_gap(recorded: Services, as_user: Any, tmp_path: Path):
    svc = recorded
    rows = segments(svc.store, CAM1)
    assert len(rows) >= 6
    gap_after = [i for i in range(1, len(rows)) if rows[i].start_ms - rows[i - 1].end_ms > 1000]
    assert len(gap_after) == 1  # the outage, and only it
    operator = await as_user("op", "operator", KEL)

    r = await operator.get(f"/camera/{CAM1}/vod.m3u8?start={T0}&end={T0 + 6 * MIN}")
    assert r.status == 200 and r.content_type == "application/vnd.apple.mpegurl"
    text = await r.text()
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST" and "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    items = parse(text)
    assert [i["pdt"] for i in items] == [iso_utc(s.start_ms) for s in rows]
    assert [i["dur"] for i in items] == [round((s.end_ms - s.start_ms) / 1000, 3) for s in rows]
    assert [i["discontinuity"] for i in items] == [i in gap_after for i in range(len(rows))]
    target = int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", text).group(1))  # type: ignore[union-attr]
    assert all(round(i["dur"]) <= target for i in items)

    # each segment is served byte for byte (the recorded hash), and resumes with Range
    previous: list[tuple[int, int]] = []
    for n, (item, row) in enumerate(zip(items, rows, strict=True)):
        seg = await operator.get(item["url"])
        assert seg.status == 200 and seg.content_type == "video/mp2t"
        data = await seg.read()
        assert hashlib.sha256(data).hexdigest() == _sha(svc, row.id)
        packets = ts_packets(data, tmp_path / f"{n}.ts")
        if previous and not item["discontinuity"]:  # no tag: the timestamps must simply go on
            last_pts, last_dur = previous[-1]
            assert packets[0][0] == last_pts + last_dur, n
        previous = packets
    part = await operator.get(items[0]["url"], headers={"Range": "bytes=188-375"})
    assert part.status == 206 and len(await part.read()) == 188

    # a narrower range lists only the segments overlapping it; ISO times in the site's zone work too
    r = await operator.get(f"/camera/{CAM1}/vod.m3u8?start=2026-01-01T07:01:30&end=2026-01-01T07:01:40")
    assert [i["pdt"] for i in parse(await r.text())] == [iso_utc(rows[1].start_ms)]
    r = await operator.get(f"/camera/{CAM1}/vod.m3u8?start={T0 + 8 * MIN}&end={T0 + 9 * MIN}")
    assert r.status == 200 and parse(await r.text()) == []

    # the day's timeline: recorded spans and the gaps between them
    body = await (await operator.get(f"/api/cameras/{CAM1}/recordings")).json()
    assert body["day"] == "2026-01-01" and body["timezone"] == "Asia/Jakarta"
    assert body["start_ms"] == T0 - 7 * 3600_000 and body["end_ms"] == body["start_ms"] + 24 * 3600_000
    assert len(body["spans"]) == 2 and body["spans"][0]["start_ms"] == rows[0].start_ms
    assert body["spans"][0]["end_ms"] == rows[gap_after[0] - 1].end_ms
    assert body["spans"][1]["start_ms"] == rows[gap_after[0]].start_ms
    assert {"start_ms": body["spans"][0]["end_ms"], "end_ms": body["spans"][1]["start_ms"]} in body["gaps"]
    other_day = await (await operator.get(f"/api/cameras/{CAM1}/recordings?day=2026-01-02")).json()
    assert other_day["spans"] == [] and other_day["segments"] == 0

    plays = [e for e in svc.audit.entries() if e.action == "recordings.play"]
    assert len(plays) == 3 and plays[0].actor == "op" and plays[0].object == CAM1


def _sha(svc: Services, segment_id: int) -> str:
    from cctv.store.segments import segment_hash

    return segment_hash(svc.store, segment_id) or ""


async def test_who_may_play_back_and_bad_parameters(recorded: Services, as_user: Any):
    svc = recorded
    row = segments(svc.store, CAM1)[0]
    rel = f"{CAM2}/2026-01-01/{T0}.ts"
    (svc.data_dir / "recordings" / rel).parent.mkdir(parents=True)
    (svc.data_dir / "recordings" / rel).write_bytes(b"\x47" * 188)
    other = add_segment(svc.store, NewSegment(CAM2, T0, T0 + MIN, rel, 188, "0" * 64, 1))
    urls = [
        f"/camera/{CAM1}/vod.m3u8?start={T0}&end={T0 + MIN}",
        f"/camera/{CAM1}/segments/{row.id}.ts",
        f"/api/cameras/{CAM1}/recordings",
    ]
    for role, scope, want in [
        ("admin", "/", 200),
        ("operator", KEL, 200),
        ("operator", "telanaipura", 404),
        ("technician", "/", 403),
        ("police", KEL, 403),
        ("viewer", "/", 403),
    ]:
        client = await as_user(f"{role}-{scope.replace('/', '-')}", role, scope)
        for url in urls:
            assert (await client.get(url)).status == want, (role, scope, url)
    admin = await as_user("boss", "admin", "/")
    assert (await admin.get(f"/camera/{CAM1}/segments/{other}.ts")).status == 404  # CAM2's, under CAM1's URL
    assert (await admin.get(f"/camera/{CAM2}/segments/{other}.ts")).status == 200
    assert (await admin.get(f"/camera/{CAM1}/segments/999999.ts")).status == 404
    for query, words in [
        ("", "start"),
        (f"start={T0}", "end"),
        (f"start={T0}&end={T0}", "end"),
        (f"start={T0}&end={T0 + 25 * 3600_000}", "24"),
        ("start=kemarin&end=1", "kemarin"),
    ]:
        r = await admin.get(f"/camera/{CAM1}/vod.m3u8?{query}")
        assert r.status == 400 and words in await r.text(), query
    assert (await admin.get(f"/api/cameras/{CAM1}/recordings?day=2026-02-30")).status == 400

    # the camera page carries the player (hidden until the recordings answer) and its script
    html = await (await admin.get(f"/camera/{CAM1}")).text()
    assert 'id="recordings" hidden' in html and "/static/playback.js" in html
    assert (await admin.get("/static/vendor/hls.light.min.js")).status == 200


def test_playlist_marks_every_break_in_the_recording():
    segs = [
        Segment(1, CAM1, 0, 60_000, 1),
        Segment(2, CAM1, 60_050, 120_000, 1),  # seamless (50 ms)
        Segment(3, CAM1, 180_000, 181_500, 1),  # after a gap
        Segment(4, CAM1, 181_000, 240_000, 1),
    ]  # overlapping: a new session whose clock was re-anchored
    text = hls_playlist(segs, lambda s: f"/s/{s.id}.ts")
    assert [i["discontinuity"] for i in parse(text)] == [False, False, True, True]
    assert "#EXT-X-TARGETDURATION:60" in text and text.endswith("#EXT-X-ENDLIST\n")
    assert hls_playlist([], str).splitlines()[-1] == "#EXT-X-ENDLIST"


def _artefacts(tmp_path: Path) -> Path:
    """Screenshots: under $CCTV_ARTEFACTS/browser when set (as tests/e2e/test_browser.py), else under tmp_path."""
    root = Path(os.environ["CCTV_ARTEFACTS"]) if os.environ.get("CCTV_ARTEFACTS") else tmp_path / "artefacts"
    (root / "browser").mkdir(parents=True, exist_ok=True)
    return root / "browser"


@pytest.mark.slow
@pytest.mark.browser
async def test_playback_in_a_real_browser(recorded: Services, web_server: Any, tmp_path: Path):
    """Debian's Chromium plays a chosen range through hls.js, starting at the chosen wall-clock time, also
    right after the gap (a discontinuity), and shows the time of the picture."""
    why = browser_missing()
    if why:
        pytest.skip(why)
    from playwright.async_api import async_playwright

    from cctv.alerts.model import DISK_FULL, AlertEvent, node_alert

    add_user(recorded, "boss", "admin", ["/"])
    full = node_alert("rec-1", DISK_FULL, T0 + 150_000, (CAM1,), closed_ms=T0 + 210_000)
    recorded.alerts.write(AlertEvent("open", full))  # the outage was a full disk
    base = str(web_server.make_url("/")).rstrip("/")
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
            locale="en-GB",
        )
        try:
            context.set_default_timeout(30_000)
            page = context.pages[0] if context.pages else await context.new_page()
            await page.goto(f"{base}/login?next=/camera/{CAM1}")
            await page.fill("input[name=username]", "boss")
            await page.fill("input[name=password]", "correct horse battery")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#recordings:not([hidden])")
            assert await page.input_value("#recordings input[name=day]") == "2026-01-01"
            assert await page.locator("#recordings .rec-span").count() == 2  # before and after the outage
            band = page.locator("#recordings .rec-full")
            assert await band.count() == 1 and "Disk penuh" in (await band.get_attribute("title") or "")
            assert "Garis merah" in (await page.text_content("#recordings .rec-summary") or "")
            for start, lo, hi in (("07:00:30", "07:00:30", "07:01:30"), ("07:03:40", "07:03:40", "07:04:40")):
                await page.fill("#recordings input[name=from]", start)
                await page.fill("#recordings input[name=to]", "07:06:00")
                await page.click("#recordings button[type=submit]")
                await page.wait_for_function(
                    "() => { const v = document.querySelector('.rec-video');"
                    " return v.currentTime > 0 && !v.paused && v.getVideoPlaybackQuality().totalVideoFrames > 5; }"
                )
                await page.wait_for_function(
                    "() => document.querySelector('.rec-now').textContent.length > 0"
                )
                shown = re.search(r"(\d\d:\d\d:\d\d)", await page.text_content(".rec-now") or "")
                assert shown and lo <= shown.group(1) < hi, (start, await page.text_content(".rec-now"))
                shot = _artefacts(tmp_path) / f"playback-{start.replace(':', '')}.png"
                await page.locator("#recordings").screenshot(path=str(shot))
        finally:
            await context.close()


async def test_the_timeline_says_where_a_full_disk_stopped_recording(recorded: Services, as_user: Any):
    """A disk-full node alert that touched the camera marks its span on the day (clipped to the day; an open one
    runs to now); one about other cameras, another kind, or another day does not."""
    from cctv.alerts.model import DISK_FULL, DISK_LOW, AlertEvent, node_alert

    st = recorded.alerts

    def put(kind: str, opened: int, closed: int | None, cams: tuple[str, ...]) -> None:
        st.write(AlertEvent("open", node_alert("rec-1", kind, opened, cams)))
        if closed is not None:
            st.write(AlertEvent("close", node_alert("rec-1", kind, opened, cams, cameras_now=(), closed_ms=closed)))

    day_start = T0 - 7 * 3600_000
    put(DISK_FULL, T0 + 150_000, T0 + 210_000, (CAM2, CAM1))  # the outage of the fixture
    put(DISK_FULL, day_start - 3600_000, day_start + 60_000, (CAM1,))  # from the day before
    put(DISK_FULL, T0 + 300_000, T0 + 330_000, (CAM2,))  # another camera
    put(DISK_FULL, T0 + 301_000, T0 + 302_000, ("kota-baru/paal-lima/rt-07/cam-10",))  # a longer path
    put(DISK_LOW, T0 + 400_000, T0 + 500_000, (CAM1,))  # nearly full: nothing was lost
    put(DISK_FULL, T0 + 540_000, None, (CAM1,))  # open: up to now (T0 + 10 min)
    operator = await as_user("op", "operator", KEL)
    body = await (await operator.get(f"/api/cameras/{CAM1}/recordings")).json()
    assert body["disk_full"] == [
        {"start_ms": day_start, "end_ms": day_start + 60_000},
        {"start_ms": T0 + 150_000, "end_ms": T0 + 210_000},
        {"start_ms": T0 + 540_000, "end_ms": T0 + 600_000},
    ]
    other = await (await operator.get(f"/api/cameras/{CAM1}/recordings?day=2026-01-02")).json()
    assert other["disk_full"] == []
    cam2 = await (await operator.get(f"/api/cameras/{CAM2}/recordings")).json()
    assert [f["start_ms"] for f in cam2["disk_full"]] == [T0 + 150_000, T0 + 300_000]
