"""The node alert banner in a real browser: a disk-full alert written into the store while the tile wall is open
shows up on the wall without a reload (web/static/refresh.js), red, above the tiles; acknowledging it from the
alert feed is recorded. Same set-up as tests/e2e/test_browser.py (Debian's Chromium, `cctv run`, the simulator)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from cctv.alerts.model import DISK_FULL, AlertEvent, node_alert
from cctv.config import load_config
from cctv.store import Store
from cctv.store.alerts import AlertStore
from streams.sim import SimulatorProcess
from tests.helpers.browser import (
    CAMS,
    KEC,
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


def test_disk_full_banner_reaches_an_open_wall_and_is_acknowledged(tmp_path: Path, artefacts: Path) -> None:
    if why := gst_rtsp_missing() or browser_missing():
        pytest.skip(why)
    cams = CAMS[:2]
    cfg_path = write_config(tmp_path / "config.yaml", free_port(), free_port(), cams)
    with (
        SimulatorProcess(load_config(cfg_path), tmp_path / "sim-cache", tmp_path / "truth.jsonl"),
        cctv_run(cfg_path, tmp_path / "data", tmp_path / "run.log", free_port()) as base,
        playwright() as p,
        chromium(p, tmp_path / "profile") as page,
    ):
        eventually(lambda: (c := cameras(base)) and all(c[x]["state"] == "online" for x in cams), 60, "cameras up")
        log_in(page, base, f"/wall/{KEC}")
        assert page.locator("#node-banner .node-banner").count() == 0
        page.evaluate("() => { window.__sameDocument = true; }")

        store = Store(f"sqlite:///{tmp_path / 'data' / 'cctv.sqlite3'}")
        try:
            alert_id = AlertStore(store.engine).write(AlertEvent("open", node_alert(
                "rekam-01", DISK_FULL, int(time.time() * 1000), cams, free_bytes=12_000_000,
                total_bytes=500_000_000_000)))
        finally:
            store.close()

        def banner_shown() -> bool:
            # what the 30 s timer does, sooner: refresh.js refreshes when the tab becomes visible
            page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
            return page.locator("#node-banner .node-banner-error").count() == 1

        eventually(banner_shown, 20, "the disk-full banner on the open wall", every=1.0)
        assert page.evaluate("() => window.__sameDocument === true")  # no reload
        text = page.inner_text("#node-banner")
        assert "disk penuh di node rekam-01" in text and "2 kamera" in text
        colour = page.eval_on_selector("#node-banner .node-banner", "el => getComputedStyle(el).backgroundColor")
        assert colour == "rgb(74, 16, 19)"
        page.screenshot(path=str(artefacts / "10-wall-disk-full-banner.png"))

        page.click("#node-banner a")
        page.wait_for_url(re.compile(r"/alerts#node-alerts$"))
        row = page.locator(f'[data-node-alert="{alert_id}"]')
        assert "rekam-01" in row.inner_text()
        page.screenshot(path=str(artefacts / "11-alerts-system-part.png"), full_page=True)
        row.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/alerts"))
        assert "admin" in page.locator(f'[data-node-alert="{alert_id}"] .acked').inner_text()
