"""The technician dashboard over a real socket: figures from real intervals, sorting, filters, CSV, the roll-up API."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cctv.app.services import Services
from cctv.rollup.figures import INF, Entry, FigureCache
from cctv.rollup.history import RollupModel
from cctv.rollup.tally import Tally
from cctv.status.messages import State, StatusChange, StreamStats
from cctv.store.store import Interval
from tests.helpers.eventually import aeventually
from tests.helpers.scene import CAM1, CAM2, CAM3, CAM4, CAM5, T0, set_status
from web.views import tech_data
from web.views.tech_csv import CsvLines

HOUR_S = 3600
START = T0 + 60_000  # 07:01:00 WIB


@pytest.fixture
def history(web_services: Services) -> Services:
    """Three hours: CAM1 offline (timeout) for the second hour, CAM3 frozen for half an hour; the rest online."""
    svc = web_services
    svc.clock.advance(60)
    for cam in (CAM1, CAM2, CAM3, CAM4, CAM5):
        set_status(svc, cam, State.ONLINE)
    svc.clock.advance(HOUR_S)
    set_status(svc, CAM1, State.OFFLINE, "timeout")
    svc.clock.advance(HOUR_S)
    set_status(svc, CAM1, State.ONLINE)
    set_status(svc, CAM3, State.DEGRADED, "frozen")
    svc.clock.advance(HOUR_S / 2)
    set_status(svc, CAM3, State.ONLINE)
    svc.clock.advance(HOUR_S / 2)
    return svc


def pct_cells(html: str, path: str) -> list[str]:
    m = re.search(rf'data-camera-row="{re.escape(path)}">(.*?)</tr>', html, re.S)
    assert m, f"no row for {path}"
    return re.findall(r'<td class="pct">([\d.]+%|—)</td>', m.group(1))


async def test_figures_are_time_weighted_sums(history: Services, client_as: Any) -> None:
    client = await client_as("technician", "/")
    body = await (await client.get("/api/rollup")).json()
    day = body["figures"]["24h"]
    hour = 3_600_000
    assert (day["known_ms"], day["up_ms"], day["usable_ms"]) == (15 * hour, 14 * hour, 27 * hour // 2)
    assert (day["outages"], day["repaired"], day["mttr_ms"]) == (1, 1, hour)
    assert (day["degradations"], day["degraded_repaired"], day["mttr_degraded_ms"]) == (1, 1, hour / 2)
    assert day["availability"] == pytest.approx(14 / 15)
    kids = {c["path"]: c["figures"]["24h"] for c in body["children"]}
    assert kids["kota-baru"]["known_ms"] == 12 * hour and kids["telanaipura"]["known_ms"] == 3 * hour
    # an area is the sum of its children, never a mean of their percentages
    for key in ("known_ms", "up_ms", "usable_ms", "outages", "repair_ms"):
        assert day[key] == sum(k[key] for k in kids.values())
    assert body["worst"][0]["camera"] == CAM1
    kel = await (await client.get("/api/rollup/kota-baru/paal-lima")).json()
    assert kel["figures"]["24h"]["availability"] == pytest.approx(8 / 9)
    assert [c["path"] for c in kel["children"]] == ["kota-baru/paal-lima/rt-07", "kota-baru/paal-lima/rt-08"]


async def test_page_table_outages_and_chart(history: Services, client_as: Any) -> None:
    client = await client_as("technician", "/")
    r = await client.get("/tech/kota-baru/paal-lima")
    assert r.status == 200
    html = await r.text()
    assert pct_cells(html, CAM1)[:4] == ["66.7%", "66.7%", "66.7%", "66.7%"]  # avail 24h/7d/30d, usable 24h
    assert pct_cells(html, CAM3)[:4] == ["100.0%", "100.0%", "100.0%", "83.3%"]
    assert "Telanaipura" not in html  # only this kelurahan
    outages = html.split('id="outages"')[1]
    assert "Simpang Masjid" in outages and "1h 00m" in outages and "Tidak menjawab (timeout)" in outages
    assert "Pos Ronda" not in outages  # never down
    assert html.count('<g class="series"') == 2  # one line per RT
    assert "<polyline" in html and "<script" not in html.split("</main>")[0]  # server-side SVG, no script
    assert 'href="/tech/kota-baru/paal-lima.csv' in html


async def test_live_changes_show_without_a_restart(history: Services, client_as: Any) -> None:
    client = await client_as("operator", "/")
    await client.get("/tech")  # the model is loaded now
    set_status(history, CAM2, State.OFFLINE, "auth")
    history.clock.advance(HOUR_S)
    html = await (await client.get("/tech/kota-baru/paal-lima?state=offline")).text()
    assert f'data-camera-row="{CAM2}"' in html and f'data-camera-row="{CAM1}"' not in html
    assert pct_cells(html, CAM2)[0] == "75.0%"  # 3 h up of 4 h watched


async def test_sorting_and_filtering(history: Services, client_as: Any) -> None:
    client = await client_as("admin", "/")

    async def order(query: str) -> list[str]:
        html = await (await client.get(f"/tech?{query}")).text()
        return re.findall(r'data-camera-row="([^"]+)"', html)

    assert (await order("sort=avail_24h&dir=asc"))[0] == CAM1
    assert (await order("sort=usable_24h&dir=asc"))[:2] == [CAM1, CAM3]
    assert await order("sort=camera") == [CAM3, CAM5, CAM4, CAM2, CAM1]  # Gang Mawar … Simpang Masjid
    assert (await order("sort=camera&dir=desc"))[0] == CAM1
    assert await order("q=rt-08") == [CAM3]
    assert await order("q=jembatan") == [CAM5]
    assert await order("state=degraded") == []
    for bad, name in (
        ("sort=nope", "sort"),
        ("dir=up", "dir"),
        ("state=broken", "state"),
        ("chart=1y", "chart"),
        ("page=9", "page"),
        ("format=xml", "format"),
    ):
        r = await client.get(f"/tech?{bad}&lang=en")
        assert r.status == 400, bad
        assert f"Parameter {name}" in await r.text()


async def test_csv_export(history: Services, client_as: Any) -> None:
    history.live.apply_stats(
        StreamStats(
            CAM2,
            T0,
            fps=12.5,
            bitrate_bps=512_000,
            keyframe_interval_s=2.0,
            last_packet_ms=T0,
            reconnects=3,
            packets=100,
            keyframes=4,
            decoded=4,
            drops=0,
            width=640,
            height=360,
            codec="h264",
            decode_mode="keyframes",
        )
    )
    client = await client_as("technician", "kota-baru")
    r = await client.get("/tech/kota-baru/paal-lima.csv")
    assert r.status == 200 and r.content_type == "text/csv"
    assert r.headers["Content-Disposition"].startswith(
        'attachment; filename="cctv-uptime-kota-baru_paal-lima-'
    )
    raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: spreadsheets open it as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["camera_path"] for r in rows] == [CAM2, CAM1, CAM3]  # by state, then online longest first
    cam1 = rows[1]
    assert (cam1["kecamatan"], cam1["kelurahan"], cam1["rt"], cam1["camera_name"]) == (
        "Kota Baru",
        "Paal Lima",
        "RT 07",
        "Simpang Masjid",
    )
    assert cam1["availability_24h_pct"] == "66.67" and cam1["outages_30d"] == "1"
    assert cam1["mttr_offline_30d_min"] == "60.0" and cam1["since_wib"] == "2026-01-01 09:01:00"
    assert rows[0]["reconnects"] == "3" and rows[1]["reconnects"] == ""
    filtered = await client.get("/tech/kota-baru?format=csv&state=degraded")
    assert len((await filtered.read()).decode("utf-8-sig").splitlines()) == 1  # the header only
    assert (await client.get("/tech.csv")).status == 200  # the caller's scope: Kota Baru only
    text = (await (await client.get("/tech.csv")).read()).decode("utf-8-sig")
    assert CAM4 in text and CAM5 not in text


async def test_csv_quotes_and_defuses_formulas() -> None:
    windows = ("24h", "7d", "30d")
    tallies = {w: Tally(known_ms=1000, up_ms=500, usable_ms=500) for w in windows}
    figures = FigureCache(["k/l/r/c"], windows, lambda c, now: Entry(now, tallies, dict.fromkeys(windows, (0,) * 5), INF))
    row = tech_data.CameraRow(
        path="k/l/r/c",
        name='=HYPERLINK("x"), "Pasar"',
        kecamatan="Kota, Baru",
        kelurahan="Paal\nLima",
        rt="RT 07",
        rt_path="k/l/r",
        state="offline",
        reason="auth",
        since_ms=T0,
        motion=False,
        reconnects=None,
        tallies=tallies,
    )
    data = (await CsvLines(ZoneInfo("Asia/Jakarta")).body([row], figures, T0)).decode("utf-8-sig")
    (parsed,) = list(csv.DictReader(io.StringIO(data, newline="")))
    assert parsed["camera_name"] == '\'=HYPERLINK("x"), "Pasar"'
    assert parsed["kecamatan"] == "Kota, Baru" and parsed["kelurahan"] == "Paal\nLima"
    assert parsed["since_wib"] == "2026-01-01 07:00:00" and parsed["availability_24h_pct"] == "50.00"


async def test_csv_lines_are_kept_only_while_what_they_say_holds() -> None:
    """A camera's line is made again when its figures, state, reason or reconnects changed, or while its
    figures move with time; the kept lines always give what a fresh export gives."""
    tz, day, hour = ZoneInfo("Asia/Jakarta"), 86_400_000, 3_600_000
    cams = [f"k/l/r/c{i}" for i in range(4)]
    model = RollupModel(cams)
    model.load([Interval(c, "online", "", T0, None) for c in cams])
    now = T0 + 31 * day  # every window full: each gains at its end what it loses at its start
    live = {c: ["online", "", T0, None] for c in cams}
    kept = CsvLines(tz)

    async def both() -> str:
        rows = [tech_data.CameraRow(c, c.upper(), "Kec", "Kel", "RT", "k/l/r", *live[c][:3], False, live[c][3],
                                    tech_data.LazyFigures(model, c, now)) for c in cams]
        got = await kept.body(rows, model.figures, now)
        assert got == await CsvLines(tz).body(rows, model.figures, now)  # a fresh export says the same
        return got.decode("utf-8-sig")

    def cell(text: str, camera: str, column: str) -> str:
        return next(r for r in csv.DictReader(io.StringIO(text, newline="")) if r["camera_path"] == camera)[column]

    first = await both()
    assert kept.made == 4 and await both() == first and kept.made == 4  # nothing changed: every line kept
    model.apply(StatusChange(cams[1], State.OFFLINE, "timeout", now, State.ONLINE))  # now its figures move
    live[cams[1]][:3] = ["offline", "timeout", now]
    assert cell(await both(), cams[1], "availability_24h_pct") == "100.00" and kept.made == 5
    now += hour
    assert cell(await both(), cams[1], "availability_24h_pct") == "95.83" and kept.made == 6  # it moved
    live[cams[2]][3] = 7
    text = await both()
    assert kept.made == 8 and cell(text, cams[2], "reconnects") == "7"  # cams[1] (still moving) and cams[2]
    assert kept.reused == 4 + 3 + 3 + 2


async def test_scope_and_roles(history: Services, client_as: Any) -> None:
    tech = await client_as("technician", "kota-baru/paal-lima")
    assert (await tech.get("/tech/telanaipura")).status == 404
    assert (await tech.get("/tech/kota-baru.csv")).status == 404  # above the scope
    html = await (await tech.get("/tech")).text()
    assert "Paal Lima" in html and "Telanaipura" not in html and "Jembatan" not in html
    body = await (await tech.get("/api/rollup")).json()
    assert body["figures"]["24h"]["known_ms"] == 9 * 3_600_000  # CAM1-3 only
    for role in ("police", "viewer"):
        other = await client_as(role, "/")
        assert (await other.get("/tech")).status == 403
        assert (await other.get("/api/rollup")).status == 403


async def test_long_windows_and_day_charts_read_the_daily_tallies(web_services: Services, client_as: Any) -> None:
    """An outage four days ago (before the model's recent rows): the 7 d and 30 d figures and the 30 d chart
    have it from the store's daily tallies; the 24 h figures do not; a scoped technician sees only his own."""
    svc = web_services
    day = 86_400_000
    client = await client_as("technician", "/")
    await client.get("/tech")  # the model is running: it tallies the closed days in the background
    old = svc.clock.now_ms() - 4 * day  # history written late (as a restore would): tallied again
    svc.store.apply_status_change(StatusChange(CAM1, State.ONLINE, "", old - day, None))
    svc.store.apply_status_change(StatusChange(CAM1, State.OFFLINE, "timeout", old, State.ONLINE))
    svc.store.apply_status_change(StatusChange(CAM1, State.ONLINE, "", old + 6 * 3_600_000, State.OFFLINE))
    svc.store.apply_status_change(StatusChange(CAM5, State.ONLINE, "", old - day, None))  # telanaipura
    await aeventually(lambda: svc.rollup.tallier.days_tallied >= 30, 10, "the closed days to be tallied")
    svc.rollup.tallier.forget(svc.store.engine, old - 2 * day)
    assert await svc.rollup.tally_closed_days() == 6  # 6 days ago to yesterday
    body = await (await client.get("/api/rollup/kota-baru")).json()
    week, month, last_day = (body["figures"][w] for w in ("7d", "30d", "24h"))
    assert (week["outages"], week["repaired"], week["repair_ms"]) == (1, 1, 6 * 3_600_000)
    assert month["offline_ms"] == 6 * 3_600_000 and last_day["offline_ms"] == 0
    html = await (await client.get("/tech/kota-baru?chart=30d")).text()
    assert "75.0%" in html  # CAM1's day of the outage: 18 h of 24 up (its kelurahan's line: the only camera)
    scoped = await client_as("technician", "telanaipura")
    week = (await (await scoped.get("/api/rollup")).json())["figures"]["7d"]
    assert week["offline_ms"] == 0 and week["known_ms"] > 0  # CAM5's days only


async def test_a_city_page_lets_the_loop_run_between_slices(history: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """A city's 30,000 rows are built, sorted, ranked and written as CSV in slices: state changes keep reaching
    sockets meanwhile. With slices of 2 rows another task gets turns inside each step — and the results are those
    of one pass."""
    import asyncio

    from cctv.rollup import history as rollup_history

    svc, now = history, history.clock.now_ms()
    city = svc.sites.area("")
    whole_rows = await tech_data.camera_rows(svc, city, now)
    whole = ([r.path for r in await tech_data.sort_rows(whole_rows, "avail_24h", False)],
             await svc.rollup.aworst([r.path for r in whole_rows], now))
    monkeypatch.setattr(tech_data, "SLICE", 2)
    monkeypatch.setattr(rollup_history, "RANK_SLICE", 2)
    monkeypatch.setattr(tech_data, "CHART_SLICE", 2)
    turns = 0

    async def other() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    await asyncio.sleep(0)
    seen = []
    try:
        for step in ("rows", "figures", "sort", "worst", "chart", "csv"):
            before = turns
            if step == "rows":
                rows = await tech_data.camera_rows(svc, city, now)
                svc.rollup.figures.invalidate()  # as a city's first verdicts change every camera
            elif step == "figures":
                await svc.rollup.acatch_up(now)
            elif step == "sort":
                ordered = [r.path for r in await tech_data.sort_rows(rows, "avail_24h", False)]
            elif step == "worst":
                worst = await svc.rollup.aworst([r.path for r in rows], now)
            elif step == "chart":
                svc.rollup.load(svc.store.intervals())  # timelines built again, as after a city's changes
                drawn = await tech_data.chart_of(svc, city, now, "24h", ZoneInfo("Asia/Jakarta"), "id")
            else:
                await CsvLines(ZoneInfo("Asia/Jakarta")).body(rows, svc.rollup.figures, now)
            seen.append(turns - before)
    finally:
        task.cancel()
    assert all(n >= 2 for n in seen), seen  # 5 cameras in slices of 2: each step gave way twice at least
    assert svc.rollup.figures.catch_up(now, 0)  # nothing left to bring up to date
    assert (ordered, worst) == whole
    monkeypatch.setattr(tech_data, "CHART_SLICE", 10**6)
    assert drawn == await tech_data.chart_of(svc, city, now, "24h", ZoneInfo("Asia/Jakarta"), "id")  # one pass
