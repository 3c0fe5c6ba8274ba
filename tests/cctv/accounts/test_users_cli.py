"""`cctv user add | list | disable` and `cctv audit verify` as subprocesses over a real SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.web import WEB_CONFIG

PASSWORD = "rahasia-sekali-99"


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(json.dumps(WEB_CONFIG))  # JSON is YAML
    env = {**os.environ, "CCTV_DATA_DIR": str(tmp_path / "data")}
    env.pop("CCTV_ADMIN_PASSWORD", None)

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cctv", *args, "--config", str(cfg)], input=stdin,
                              capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)

    run.db = tmp_path / "data" / "cctv.sqlite3"  # type: ignore[attr-defined]
    return run


def test_add_list_disable(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("user", "add", "budi", "--role", "operator", "--scope", "kota-baru", "--scope",
            "telanaipura/pematang-sulur", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = cli("user", "add", "sari", "--role", "viewer", "--scope", "/", "--password-stdin", stdin=PASSWORD)
    assert r.returncode == 0, r.stderr
    r = cli("user", "list")
    assert r.returncode == 0
    lines = {ln.split()[0]: ln.split() for ln in r.stdout.splitlines()[1:]}
    assert lines["budi"][1:] == ["operator", "active", "kota-baru", "telanaipura/pematang-sulur"]
    assert lines["sari"][1:] == ["viewer", "active", "/"]
    r = cli("user", "disable", "budi")
    assert r.returncode == 0, r.stderr
    assert "disabled" in cli("user", "list").stdout.splitlines()[1]
    for out in (r.stdout, r.stderr):
        assert PASSWORD not in out and "scrypt$" not in out
    r = cli("audit", "verify")
    assert r.returncode == 0, r.stderr
    assert "3 entries" in r.stdout
    with sqlite3.connect(cli.db) as conn:
        hashes = [h for (h,) in conn.execute("SELECT password_hash FROM users")]
        assert all(h.startswith("scrypt$") and PASSWORD not in h for h in hashes)
        audit = " ".join(str(row) for row in conn.execute("SELECT * FROM audit_log"))
        assert PASSWORD not in audit and "scrypt$" not in audit


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["budi", "--role", "operator", "--scope", "nowhere"], PASSWORD, "unknown scope"),
        (["budi", "--role", "operator", "--scope", "/"], "short", "at least 8"),
        (["budi", "--role", "operator", "--scope", "/"], "", "no password"),
        (["Budi Besar", "--role", "operator", "--scope", "/"], PASSWORD, "invalid username"),
    ],
)
def test_add_refuses(cli, args: list[str], stdin: str, message: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("user", "add", *args, "--password-stdin", stdin=stdin)
    assert r.returncode in (1, 2)
    assert message in r.stderr


def test_add_twice_and_disable_unknown(cli) -> None:  # type: ignore[no-untyped-def]
    args = ("user", "add", "budi", "--role", "police", "--scope", "/", "--password-stdin")
    assert cli(*args, stdin=PASSWORD).returncode == 0
    r = cli(*args, stdin=PASSWORD)
    assert r.returncode == 1 and "exists already" in r.stderr
    r = cli("user", "disable", "nobody")
    assert r.returncode == 1 and "no user" in r.stderr
    r = cli("user", "add", "x", "--role", "boss", "--scope", "/", "--password-stdin", stdin=PASSWORD)
    assert r.returncode == 2  # argparse: not a role


def test_audit_verify_reports_the_broken_entry(cli) -> None:  # type: ignore[no-untyped-def]
    for name in ("a1", "a2", "a3"):
        assert cli("user", "add", name, "--role", "viewer", "--scope", "/", "--password-stdin",
                   stdin=PASSWORD).returncode == 0
    with sqlite3.connect(cli.db) as conn:
        conn.execute("UPDATE audit_log SET object = 'zz' WHERE seq = 2")
    r = cli("audit", "verify")
    assert r.returncode == 1
    assert "entry 2" in r.stderr
