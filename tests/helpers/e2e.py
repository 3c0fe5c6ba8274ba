"""What the end-to-end tests share: `cctv run` as a subprocess, and the camera API seen as the admin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.eventually import eventually
from tests.helpers.servers import login_opener

ADMIN_PASSWORD = "e2e-admin-password"  # `cctv run` creates `admin` with it on first start
NODE_SECRET = "e2e-node-secret-0123456789"  # node.secret: "${CCTV_NODE_SECRET}" in a many-node test's config

_openers: dict[str, urllib.request.OpenerDirector] = {}


def get_json(url: str, base: str):  # type: ignore[no-untyped-def]
    if base not in _openers:
        _openers[base] = login_opener(base, "admin", ADMIN_PASSWORD)
    with _openers[base].open(url, timeout=5) as r:
        return json.load(r)


def get_bytes(url: str, base: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET as the admin; an HTTP error is an answer, not an exception."""
    if base not in _openers:
        _openers[base] = login_opener(base, "admin", ADMIN_PASSWORD)
    try:
        with _openers[base].open(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def cameras(base: str) -> dict[str, dict]:
    try:
        return {c["path"]: c for c in get_json(f"{base}/api/cameras", base)}
    except (OSError, PermissionError):
        return {}


def expect_camera(base: str, cam: str, state: str, reason: str, deadline: float) -> dict:
    """Poll the API until ``cam`` is in ``state`` with ``reason``; its JSON, or fail naming what the API has."""
    return eventually(
        lambda: (c := cameras(base).get(cam)) and c["state"] == state and c["reason"] == reason and c,
        deadline, lambda: f"{cam} {state}({reason}); API has {_brief(cameras(base))}",
    )


def _brief(cams: dict[str, dict]) -> dict[str, tuple]:
    return {p: (c["state"], c["reason"], c.get("last_sample_ms")) for p, c in cams.items()}


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:  # noqa: S310 - loopback only
            return r.status
    except OSError:
        return None


@contextmanager
def cctv_run(cfg_path: Path, data_dir: Path, log_path: Path, port: int, args: tuple[str, ...] = (),
             command: str = "run") -> Iterator[str]:
    """Run `cctv run` (or ``command``: "serve") until the block ends; yield its base URL once /healthz answers.
    On leaving, stop it with SIGTERM and assert it exited 0 (its log tail in the message)."""
    env = {**os.environ, "CCTV_DATA_DIR": str(data_dir), "CCTV_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "CCTV_NODE_SECRET": NODE_SECRET}
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        run = subprocess.Popen(
            [sys.executable, "-m", "cctv", command, "--config", str(cfg_path), "--port", str(port), *args],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            eventually(lambda: http_status(f"{base}/healthz") == 200, 30, "/healthz to answer 200")
            yield base
        finally:
            run.send_signal(signal.SIGTERM)
            try:
                code = run.wait(20)
            except subprocess.TimeoutExpired:
                run.kill()
                code = run.wait()
    assert code == 0, log_path.read_text(errors="replace")[-3000:]
