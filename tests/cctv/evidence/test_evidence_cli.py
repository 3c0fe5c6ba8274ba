"""`cctv clip export`, `cctv verify` and `cctv keys show` over a config, a real SQLite store and real recordings.

The export runs end to end in a subprocess; verification and refusals run through ``cctv.app.cli.main`` in-process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cctv.app.cli import main
from cctv.evidence import manifest as mf
from cctv.store import Store
from tests.helpers.evidence import CAMERA, T0, record, source_clip
from tests.helpers.web import WEB_CONFIG

RECORDED_S = 180


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A config in tmp_path whose data dir holds three minutes of recordings of CAMERA (from T0)."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(json.dumps(WEB_CONFIG))  # JSON is YAML
    data = tmp_path / "data"
    data.mkdir()
    store = Store(f"sqlite:///{data / 'cctv.sqlite3'}")
    store.migrate()
    try:
        record(store, data / "recordings", source_clip(tmp_path / "src.mp4"), RECORDED_S)
    finally:
        store.close()
    monkeypatch.setenv("CCTV_DATA_DIR", str(data))
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "CCTV_DATA_DIR": str(data)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cctv", *args, "--config", str(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=tmp_path,
        )

    run.cfg, run.db, run.out = cfg, data / "cctv.sqlite3", out  # type: ignore[attr-defined]
    return run


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_console_export_end_to_end(site, capsys, tmp_path):
    r = site(
        "clip",
        "export",
        CAMERA,
        "--start",
        "2026-01-01T07:00:30",
        "--end",
        "2026-01-01T00:02:10Z",
        "--case",
        "LP/123/I/2026",
        "--out",
        str(site.out),
    )
    assert r.returncode == 0, r.stderr
    clip, manifest = (Path(line) for line in r.stdout.splitlines())
    assert clip.parent == manifest.parent == site.out and clip.suffix == ".mp4"
    assert manifest.name == clip.name[: -len(".mp4")] + ".manifest.json"
    assert sorted(p.name for p in site.out.iterdir()) == sorted([clip.name, manifest.name])
    assert (
        "exporting: 100%" in r.stderr and "00:00:30.000Z" in r.stderr
    )  # the naive start was site time (WIB)

    body = json.loads(manifest.read_text())["body"]
    assert body["request"]["case_ref"] == "LP/123/I/2026"
    assert body["camera"] == {"path": CAMERA, "name": "Simpang Masjid"}
    assert body["area"] == {
        "path": "kota-baru/paal-lima/rt-07",
        "names": ["Kota Jambi", "Kota Baru", "Paal Lima", "RT 07"],
    }
    assert (
        body["requested"]["start"] == "2026-01-01T00:00:30.000Z"
        and body["requested"]["end_ms"] == T0 + 130_000
    )
    assert body["actual"]["start_ms"] == T0 + 30_000  # a keyframe every 2 s
    assert body["approver"].startswith("console") and len(body["segments"]) == 3 and body["gaps"] == []
    assert (
        WEB_CONFIG["kecamatan"][0]["kelurahan"][0]["rt"][0]["cameras"][0]["url"] not in manifest.read_text()
    )

    assert cli(capsys, "verify", str(clip), str(manifest))[0] == 0

    keys = site("keys", "show")
    assert keys.returncode == 0 and "PRIVATE" not in keys.stdout + keys.stderr
    assert f"fingerprint: {body['key']['fingerprint']}" in keys.stdout
    pub = tmp_path / "node.pem"
    pub.write_text(
        keys.stdout[: keys.stdout.index("-----END PUBLIC KEY-----") + len("-----END PUBLIC KEY-----")] + "\n"
    )
    code, out, _ = cli(capsys, "verify", str(clip), str(manifest), "--pubkey", str(pub))
    assert code == 0 and "VERIFIED" in out

    with sqlite3.connect(site.db) as conn:
        rows = conn.execute("SELECT actor, action, object, detail FROM audit_log").fetchall()
        assert conn.execute("SELECT count(*) FROM segment_locks").fetchone() == (0,)  # released after export
    assert len(rows) == 1
    actor, action, obj, detail = rows[0]
    assert (action, obj) == ("clip.export", CAMERA) and actor == body["approver"]
    detail = json.loads(detail)
    assert detail["case"] == "LP/123/I/2026" and detail["clip_sha256"] == body["clip"]["sha256"]
    audit = site("audit", "verify")
    assert audit.returncode == 0 and "1 entries" in audit.stdout

    again = site(
        "clip",
        "export",
        CAMERA,
        "--start",
        "2026-01-01T00:00:30Z",
        "--end",
        "2026-01-01T00:02:10Z",
        "--case",
        "LP/123/I/2026",
        "--out",
        str(site.out),
    )
    assert again.returncode == 0, again.stderr
    assert (
        Path(again.stdout.splitlines()[0]).name == clip.name[: -len(".mp4")] + "-2.mp4"
    )  # nothing overwritten


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _export(site) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    code = main(
        [
            "clip",
            "export",
            CAMERA,
            "--start",
            "2026-01-01T00:01:00Z",
            "--end",
            "2026-01-01T00:01:20Z",
            "--case",
            "B/7",
            "--out",
            str(site.out),
            "--config",
            str(site.cfg),
        ]
    )
    assert code == 0
    mp4 = next(site.out.glob("*.mp4"))
    return mp4, mp4.with_name(mp4.name[: -len(".mp4")] + ".manifest.json")


def test_verify_names_the_check_that_failed(site, capsys, tmp_path):
    clip, manifest = _export(site)
    capsys.readouterr()
    good_clip, good_manifest = clip.read_bytes(), manifest.read_bytes()

    _flip(clip, len(good_clip) // 2)
    code, out, _ = cli(capsys, "verify", str(clip), str(manifest))
    assert code == 1 and "hash       FAILED" in out and "signature  OK" in out and "NOT VERIFIED: hash" in out
    clip.write_bytes(good_clip)

    case_at = good_manifest.index(b'"case_ref": "B/7"') + len(b'"case_ref": "B/')
    _flip(manifest, case_at)  # B/7 -> B/6
    code, out, _ = cli(capsys, "verify", str(clip), str(manifest))
    assert code == 1 and "signature  FAILED" in out and "hash       OK" in out
    _flip(manifest, 0)  # "{" -> "z": not JSON any more
    code, out, _ = cli(capsys, "verify", str(clip), str(manifest))
    assert code == 1 and "malformed manifest" in out
    manifest.write_bytes(good_manifest)

    # signed with another key, the node's key left in place
    other = Ed25519PrivateKey.generate()
    doc = json.loads(good_manifest)
    import base64

    doc["signature"] = base64.b64encode(other.sign(mf.canonical_bytes(doc["body"]))).decode()
    forged = tmp_path / "forged.manifest.json"
    forged.write_bytes(mf.dumps(doc))
    code, out, _ = cli(capsys, "verify", str(clip), str(forged))
    assert code == 1 and "signature  FAILED" in out

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(
        other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code, out, _ = cli(capsys, "verify", str(clip), str(manifest), "--pubkey", str(stranger))
    assert code == 1 and "key mismatch" in out

    assert cli(capsys, "verify", str(clip), str(manifest))[0] == 0  # the untouched pair
    code, _, err = cli(capsys, "verify", str(tmp_path / "missing.mp4"), str(manifest))
    assert code == 2 and "cannot read the clip" in err
    (tmp_path / "junk.pem").write_text("hello")
    code, _, err = cli(capsys, "verify", str(clip), str(manifest), "--pubkey", str(tmp_path / "junk.pem"))
    assert code == 2 and "not a PEM public key" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [CAMERA[:-1] + "9", "--start", "2026-01-01T00:00:10Z", "--end", "2026-01-01T00:00:20Z"],
            "unknown camera",
        ),
        (
            [CAMERA, "--start", "yesterday", "--end", "2026-01-01T00:00:20Z"],
            "--start 'yesterday' is not an ISO 8601",
        ),
        (
            [CAMERA, "--start", "2026-01-01T00:00:20Z", "--end", "2026-01-01T00:00:20Z"],
            "must be after --start",
        ),
        ([CAMERA, "--start", "2026-01-02T00:00:00Z", "--end", "2026-01-02T00:10:00Z"], "no recordings of"),
        (
            [CAMERA, "--start", "2026-01-01T00:00:10Z", "--end", "2026-01-01T00:00:20Z", "--out", "/proc"],
            "is not writable",
        ),
    ],
)
def test_clip_export_refusals_change_nothing(site, capsys, args, message):
    argv = ["clip", "export", *args, "--case", "X/1", "--config", str(site.cfg)]
    if "--out" not in args:
        argv += ["--out", str(site.out)]
    code, out, err = cli(capsys, *argv)
    assert code == 2 and message in err and out == ""
    assert list(site.out.iterdir()) == []
    with sqlite3.connect(site.db) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM segment_locks").fetchone() == (0,)


class _LockWatcher:
    """stderr for the export: at each progress line, counts the export's segment locks in the store."""

    def __init__(self, db: Path) -> None:
        self.db, self.text, self.locks = db, "", []  # type: ignore[var-annotated]

    def write(self, s: str) -> int:
        self.text += s
        if s.startswith("exporting:"):
            with sqlite3.connect(self.db) as conn:
                self.locks.append(
                    conn.execute(
                        "SELECT count(*) FROM segment_locks WHERE holder LIKE 'console-export:%'"
                    ).fetchone()[0]
                )
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_segments_stay_locked_while_exporting(site, monkeypatch):
    watcher = _LockWatcher(site.db)
    monkeypatch.setattr(sys, "stderr", watcher)
    _export(site)  # 00:01:00 to 00:01:20: inside the second segment only
    assert watcher.locks and set(watcher.locks) == {1}, watcher.text
    with sqlite3.connect(site.db) as conn:
        assert conn.execute("SELECT count(*) FROM segment_locks").fetchone() == (0,)
