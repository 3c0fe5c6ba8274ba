"""The `cctv` command as a user runs it: subprocesses, exit codes, what reaches stderr."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cctv.logs import RedactingFormatter
from tests.helpers.paths import REPO

ROOT = REPO


def cctv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cctv", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_demo_config_is_valid(tmp_path):
    r = cctv("check-config", str(ROOT / "config.yaml"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "4 kecamatan" in r.stdout and "68 cameras" in r.stdout


@pytest.mark.parametrize("command", [["run"], ["sim"], ["db", "upgrade"], ["sim", "ls"]])
def test_every_command_refuses_a_bad_config_and_starts_nothing(tmp_path, command):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "site: {name: X}\ndata_dir: data\nkecamatan:\n  - slug: a\n    name: A\n    kelurahan: []\n    bogus: 1\n"
    )
    r = cctv(*command, "--config", str(bad), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "bad.yaml:7" in r.stderr and "bogus" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "data").exists()  # nothing started, nothing written


def test_log_records_and_tracebacks_are_redacted():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s"))
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise OSError("Invalid data found when processing input: 'rtsp://admin:s3cret@10.0.0.7/sub'")
        except OSError:
            log.exception("camera %s failed", "rtsp://op:hunter22@10.0.0.8:554/x")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "s3cret" not in text and "hunter22" not in text
    assert "rtsp://***:***@10.0.0.7/sub" in text and "10.0.0.8:554/x" in text
