"""The pages in a real browser: Debian's Chromium driven by Playwright, against a real `cctv run` and simulator.

Logs in through the form, opens a kecamatan's tile wall, sees every tile with a real decoded picture, switches a
simulated camera offline and watches its tile turn red without a reload, changes the grid size, pages,
auto-cycles, toggles full screen, clicks through to a camera (full-size picture), downloads the technician
page's CSV export, and logs out. A second test
restarts the server without the area a page shows and checks that the page stops retrying and says why.

A screenshot of each step is kept: under ``$CCTV_ARTEFACTS/browser`` when that is set (e.g.
``CCTV_ARTEFACTS=test-artifacts``, git-ignored), else under the test's tmp_path; the folder is printed.
Never `playwright install`: the browser is Debian's ``chromium`` package (scripts/setup.sh installs it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cctv.config import load_config
from streams.sim import SimulatorProcess
from tests.helpers.browser import (
    CAMS,
    KEC,
    OFFLINE_AFTER_S,
    SNAPSHOT_WIDTH,
    browser_missing,
    chromium,
    log_in,
    playwright,
    write_config,
)
from tests.helpers.e2e import cameras, cctv_run
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.slow, pytest.mark.rtsp, pytest.mark.browser]


TILE = '.wall-grid [data-camera="{}"]'
ALL_PICTURES = """n => {
  const imgs = [...document.querySelectorAll('.wall-grid .tile img')];
  return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


def test_tile_wall_in_a_browser(tmp_path: Path, artefacts: Path) -> None:
    if why := gst_rtsp_missing() or browser_missing():
        pytest.skip(why)
    rtsp_port, control_port, web_port = free_port(), free_port(), free_port()
    cfg_path = write_config(tmp_path / "config.yaml", rtsp_port, control_port, CAMS)
    config = load_config(cfg_path)
    with (
        SimulatorProcess(config, tmp_path / "sim-cache", tmp_path / "truth.jsonl") as sim,
        cctv_run(cfg_path, tmp_path / "data", tmp_path / "run.log", web_port) as base,
        playwright() as p,
        chromium(p, tmp_path / "profile") as page,
    ):
        eventually(
            lambda: (c := cameras(base)) and all(c[p]["state"] == "online" for p in CAMS),
            60,
            "every camera online",
        )

        def shot(name: str) -> None:
            page.screenshot(path=str(artefacts / f"{name}.png"))

        page.goto(f"{base}/wall/{KEC}")
        page.wait_for_url(re.compile(r"/login\?next="))
        shot("01-login")
        log_in(page, base, f"/wall/{KEC}")

        # every tile, each with a real decoded picture, sized to the tile (?w=), not the full snapshot
        assert page.locator(".wall-grid .tile").count() == len(CAMS)
        page.wait_for_function(ALL_PICTURES, arg=len(CAMS), timeout=30_000)
        sources = page.eval_on_selector_all(".wall-grid .tile img", "imgs => imgs.map(i => i.currentSrc)")
        assert all(re.search(r"\?w=\d+&t=\d+$", s) for s in sources), sources
        page.wait_for_selector("#live-indicator.up")
        shot("02-wall")

        # a camera goes offline in the simulator: its tile turns red, no reload, then moves to the front
        cam = CAMS[3]
        page.evaluate("() => { window.__sameDocument = true; }")
        sim.set_state(cam, "offline")
        page.wait_for_function(
            "sel => document.querySelector(sel).classList.contains('state-offline')",
            arg=TILE.format(cam),
            timeout=(OFFLINE_AFTER_S + 20) * 1000,
        )
        assert page.evaluate("() => window.__sameDocument === true")  # updated in place, not reloaded
        red = page.eval_on_selector(TILE.format(cam) + " .meta", "el => getComputedStyle(el).backgroundColor")
        assert red == "rgb(248, 81, 73)"
        page.wait_for_function(
            "cam => document.querySelector('.wall-grid .tile').getAttribute('data-camera') === cam",
            arg=cam,
        )  # attention first, re-sorted from /api/wall
        assert page.evaluate("() => window.__sameDocument === true")
        assert page.inner_text(f'[data-counts="{KEC}"] [data-k="offline"]') == "1"
        shot("03-offline-tile")

        # grid size 2x2: four tiles a page, two pages; remembered by the browser
        page.select_option("[data-wall-grid]", "2")
        page.wait_for_function("() => document.querySelectorAll('.wall-grid .tile').length === 4")
        assert page.inner_text(".pager [data-wall-pages]") == "2"
        page.click(".pager [data-wall-next]")
        page.wait_for_function("() => document.querySelectorAll('.wall-grid .tile').length === 1")
        assert page.inner_text(".pager [data-wall-page]") == "2"
        page.wait_for_function(ALL_PICTURES, arg=1)
        shot("04-grid-2x2-page-2")
        page.reload()
        assert page.input_value("[data-wall-grid]") == "2" and page.locator(".wall-grid .tile").count() == 1

        # auto-cycling: page 2 wraps to page 1 by itself
        page.select_option("[data-wall-cycle]", "5")
        page.wait_for_function(
            "() => document.querySelector('.pager [data-wall-page]').textContent === '1'", timeout=20_000
        )
        page.select_option("[data-wall-cycle]", "0")

        # full screen: the chrome goes, the grid fills the window
        page.click("[data-wall-fullscreen]")
        page.wait_for_function("() => document.documentElement.classList.contains('wall-kiosk')")
        assert not page.is_visible(".topbar") and not page.is_visible(".wall-controls")
        height = page.eval_on_selector(".wall-grid", "el => el.getBoundingClientRect().height")
        assert height >= page.viewport_size["height"] - 2
        shot("05-full-screen")
        page.click("[data-wall-exit]")
        page.wait_for_function("() => !document.documentElement.classList.contains('wall-kiosk')")
        assert page.is_visible(".topbar")

        # click through to a camera: its live picture at full size
        other = page.get_attribute(".wall-grid .tile", "data-camera")
        page.click(f'.wall-grid .tile[data-camera="{other}"]')
        page.wait_for_url(f"{base}/camera/{other}")
        page.wait_for_function(
            "w => { const i = document.querySelector('.camera-live img'); return i.complete && i.naturalWidth === w; }",
            arg=SNAPSHOT_WIDTH,
        )
        shot("06-camera")

        # the technician page's CSV export for the maintenance contractor, downloaded as a person would
        page.goto(f"{base}/tech/{KEC}")
        shot("07-tech")
        with page.expect_download() as download:
            page.click("[data-csv]")
        csv_path = artefacts / "cameras.csv"
        download.value.save_as(csv_path)
        rows = csv_path.read_text(encoding="utf-8-sig").splitlines()
        assert rows[0].startswith("kecamatan,kelurahan,rt,camera_path") and len(rows) == 1 + len(CAMS)
        assert {row.split(",")[3] for row in rows[1:]} == set(CAMS)
        assert next(row for row in rows if f",{cam}," in row).split(",")[5] == "offline"

        page.click("form.logout button[type=submit]")
        page.wait_for_url(re.compile(r"/login$"))
        shot("08-logged-out")
        page.goto(f"{base}/wall/{KEC}")
        page.wait_for_url(re.compile(r"/login\?next="))  # the session is gone


def test_a_page_whose_area_is_gone_stops_retrying(tmp_path: Path, artefacts: Path) -> None:
    """Restart the server without the kelurahan a wall shows: the page says so and stops; a page whose session
    ended (logged out in another window) says that instead."""
    if why := browser_missing():
        pytest.skip(why)
    port, dead = free_port(), free_port()
    before = write_config(tmp_path / "before.yaml", dead, free_port(), CAMS, sim=False)
    after = write_config(
        tmp_path / "after.yaml", dead, free_port(), [c for c in CAMS if "/suka-karya/" in c], sim=False
    )
    gone, kept = f"{KEC}/paal-lima", KEC
    with (
        playwright() as p,
        chromium(p, tmp_path / "profile-1") as first,
        chromium(p, tmp_path / "profile-2") as second,
    ):
        with cctv_run(before, tmp_path / "data", tmp_path / "run-1.log", port) as base:
            log_in(first, base, f"/wall/{gone}")
            log_in(second, base, f"/wall/{kept}")
            for page in (first, second):
                page.wait_for_selector("#live-indicator.up")
            other = second.context.new_page()  # the same browser, another window: log out there
            other.goto(f"{base}/")
            other.click("form.logout button[type=submit]")
            other.wait_for_url(re.compile(r"/login$"))
            other.close()
        with cctv_run(after, tmp_path / "data", tmp_path / "run-2.log", port):
            first.wait_for_selector('[data-live-stopped="data-live-gone"]', timeout=60_000)
            first.screenshot(path=str(artefacts / "09-area-gone.png"))
            assert "tidak ada lagi" in first.inner_text(".live-banner")
            second.wait_for_selector('[data-live-stopped="data-live-logged-out"]', timeout=60_000)
            second.screenshot(path=str(artefacts / "10-session-ended.png"))
            assert "Sesi berakhir" in second.inner_text(".live-banner")
