"""The browser tests' set-up: Debian's Chromium (never `playwright install`) driven by Playwright, a config of
simulated cameras grouped into their areas, and logging in as the admin of a `cctv run`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.helpers.e2e import ADMIN_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEC = "kota-baru"
CAMS = [
    "kota-baru/paal-lima/rt-07/cam-1",
    "kota-baru/paal-lima/rt-07/cam-2",
    "kota-baru/paal-lima/rt-08/cam-1",
    "kota-baru/suka-karya/rt-01/cam-1",
    "kota-baru/suka-karya/rt-01/cam-2",
]
OFFLINE_AFTER_S = 4.0
SNAPSHOT_WIDTH = 640  # the simulator's picture width: the camera page shows it at its own size


def browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; scripts/setup.sh does it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    return None


def write_config(path: Path, rtsp_port: int, control_port: int, cams: list[str], *, sim: bool = True) -> Path:
    """A config with ``cams`` (paths kec/kel/rt/cam) grouped into their areas, served by the simulator."""
    tree: dict[str, dict[str, dict[str, list[str]]]] = {}
    for cam in cams:
        kec, kel, rt, slug = cam.split("/")
        tree.setdefault(kec, {}).setdefault(kel, {}).setdefault(rt, []).append(slug)
    lines = [
        "site: {name: Kota Uji}",
        "data_dir: data",
        "ingest: {connect_timeout_s: 3, stall_timeout_s: 2.5, backoff_initial_s: 0.2, backoff_max_s: 1,",
        f"         snapshot_interval_s: 1, snapshot_width: {SNAPSHOT_WIDTH}}}",
        f"status: {{offline_after_s: {OFFLINE_AFTER_S}, degraded_after_s: 2, recover_after_s: 2}}",
        f"sim: {{rtsp_port: {rtsp_port}, control_port: {control_port}, clip_seconds: 4}}",
        "kecamatan:",
    ]
    seed = 0
    for kec, kels in tree.items():
        lines += [f"  - slug: {kec}", f"    name: {kec.replace('-', ' ').title()}", "    kelurahan:"]
        for kel, rts in kels.items():
            lines += [f"      - slug: {kel}", f"        name: {kel.replace('-', ' ').title()}", "        rt:"]
            for rt, slugs in rts.items():
                lines += [
                    f"          - slug: {rt}",
                    f"            name: {rt.upper()}",
                    "            cameras:",
                ]
                for slug in slugs:
                    seed += 1
                    lines += [
                        f"              - slug: {slug}",
                        f"                name: Kamera {kel} {rt} {slug}",
                        f"                url: rtsp://127.0.0.1:{rtsp_port}/{kec}/{kel}/{rt}/{slug}",
                    ]
                    if sim:
                        lines.append(f"                sim: {{scene: street, seed: {seed % 2}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@contextmanager
def chromium(p: Any, profile: Path) -> Iterator[Any]:
    """A headless Debian Chromium with a new empty profile; one page of it."""
    context = p.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800},
        locale="id-ID",
    )
    try:
        context.set_default_timeout(30_000)
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


def log_in(page: Any, base: str, target: str) -> None:
    page.goto(f"{base}{target}")
    page.wait_for_url(re.compile(r"/login"))
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    # the document, not every picture on it: the tests wait for pictures themselves, with a message that says so.
    # The wall's script may already have put its page into the address (?page=1): any query matches.
    page.wait_for_url(re.compile(re.escape(f"{base}{target}") + r"(\?.*)?$"), wait_until="domcontentloaded")
