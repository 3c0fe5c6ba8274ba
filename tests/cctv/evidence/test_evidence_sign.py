"""The node key and signed manifests: creation and modes, every byte covered, forgeries refused, checkable by hand."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cctv.evidence import EvidenceError
from cctv.evidence import manifest as mf
from cctv.evidence.keys import NodeKey, fingerprint_of, key_path, load_or_create, public_pem_of
from cctv.evidence.verify import check

CLIP_SHA = "ab" * 32


def body_for(key: NodeKey, **over) -> dict:  # type: ignore[no-untyped-def]
    args = dict(
        case_ref="LP/123/I/2026/Reskrim",
        request_id="42",
        camera_path="kota-baru/paal-lima/rt-07/cam-1",
        camera_name="Simpang Masjid",
        area_path="kota-baru/paal-lima/rt-07",
        area_names=["Kota Jambi", "Kota Baru", "Paal Lima", "RT 07 — Pos Ronda"],
        requested=(1_767_225_661_234, 1_767_226_261_234),
        actual=(1_767_225_660_000, 1_767_226_261_300),
        approver="operator:budi",
        segments=[
            {"path": "kota-baru/x/1.ts", "sha256": "cd" * 32, "size_bytes": 10, "start_ms": 1, "end_ms": 2}
        ],
        gaps=[(1_767_225_700_000, 1_767_225_760_000)],
        clip_file="clip.mp4",
        clip_sha256=CLIP_SHA,
        clip_size_bytes=1234,
        clip_packets=6013,
        created_ms=1_767_300_000_000,
        key=key,
    )
    args.update(over)
    return mf.build_body(**args)


@pytest.fixture
def key(tmp_path: Path) -> NodeKey:
    return load_or_create(tmp_path / "data")


def test_the_key_is_created_once_private_to_its_owner(tmp_path):
    data = tmp_path / "data"
    k1 = load_or_create(data)
    path = key_path(data)
    assert path == data / "keys" / "node-ed25519.pem" and k1.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    k2 = load_or_create(data)
    assert k2.fingerprint == k1.fingerprint and k2.public_pem == k1.public_pem
    assert k1.fingerprint.startswith("ed25519:") and len(k1.fingerprint) == len("ed25519:") + 32
    assert k1.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    secret = path.read_text()
    assert "PRIVATE KEY" in secret and secret not in repr(k1) and "PRIVATE" not in repr(k1) + str(k1)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_processes_racing_to_create_the_key_agree_on_one(tmp_path):
    data = tmp_path / "data"
    got: list[str] = []
    threads = [
        threading.Thread(target=lambda: got.append(load_or_create(data).fingerprint)) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1


def test_a_key_readable_by_others_or_damaged_is_refused(tmp_path):
    data = tmp_path / "data"
    k = load_or_create(data)
    os.chmod(k.path, 0o644)
    with pytest.raises(EvidenceError, match="readable by others"):
        load_or_create(data)
    os.chmod(k.path, 0o600)
    k.path.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(EvidenceError, match="is not an unencrypted PEM private key") as exc:
        load_or_create(data)
    assert "not a key" not in str(exc.value)  # the file's content is never quoted


def test_a_signed_manifest_verifies_and_every_byte_of_it_counts(key):
    doc = mf.sign(body_for(key), key)
    data = mf.dumps(doc)
    report = check(data, CLIP_SHA, 1234)
    assert report.ok, report.checks
    assert [c.name for c in report.checks] == ["manifest", "key", "signature", "hash"]
    for i in range(len(data)):
        for bit in (0x01, 0x20):
            flipped = bytearray(data)
            flipped[i] ^= bit
            r = check(bytes(flipped), CLIP_SHA, 1234)
            assert not r.ok, f"flipping byte {i} ({data[i : i + 1]!r}) went unnoticed"
            assert set(r.failed) & {"manifest", "key", "signature"}  # the manifest is what changed


def test_the_clip_hash_and_size_are_checked(key):
    data = mf.dumps(mf.sign(body_for(key), key))
    assert check(data, "ab" * 31 + "ac", 1234).failed == ["hash"]
    assert check(data, CLIP_SHA, 1235).failed == ["hash"]


def test_a_re_saved_manifest_is_not_the_issued_one(key):
    doc = mf.sign(body_for(key), key)
    resaved = json.dumps(doc, indent=4, ensure_ascii=True).encode()
    r = check(resaved, CLIP_SHA, 1234)
    assert r.failed == ["manifest"] and "canonical layout" in r.checks[0].detail


def test_forged_signatures_fail(key):
    other = Ed25519PrivateKey.generate()
    body = body_for(key, case_ref="LP/999")  # an altered body, claiming the node's key
    doc = {
        "body": body,
        "format": mf.FORMAT,
        "signature": base64.b64encode(other.sign(mf.canonical_bytes(body))).decode(),
    }
    assert check(mf.dumps(doc), CLIP_SHA, 1234).failed == ["signature"]

    # a forger who puts their own key in: self-consistent, so only the node's published key catches it
    forged_key = NodeKey(
        Path("x"), public_pem_of(other.public_key()), fingerprint_of(other.public_key()), other
    )
    forged = mf.dumps(mf.sign(body_for(forged_key), forged_key))
    assert check(forged, CLIP_SHA, 1234).ok
    node_public = serialization.load_pem_public_key(key.public_pem.encode())
    assert isinstance(node_public, Ed25519PublicKey)
    r = check(forged, CLIP_SHA, 1234, trusted=node_public)
    assert r.failed == ["key", "signature"] and "key mismatch" in r.checks[1].detail


def test_a_body_with_a_float_cannot_be_signed(key):
    body = body_for(key)
    body["clip"]["duration_s"] = 1.5
    with pytest.raises(EvidenceError, match=r"body\.clip\.duration_s is a float"):
        mf.sign(body, key)


def _by_hand(tmp_path: Path, manifest: Path) -> tuple[Path, Path, Path]:
    """The steps of docs/evidence.md "Verifying by hand", in Python's standard library."""
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    body = tmp_path / "body.bin"
    body.write_bytes(
        json.dumps(doc["body"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    sig = tmp_path / "sig.bin"
    sig.write_bytes(base64.b64decode(doc["signature"]))
    pub = tmp_path / "pub.pem"
    pub.write_text(doc["body"]["key"]["public_key_pem"])
    return body, sig, pub


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_a_manifest_verifies_by_hand_with_openssl(tmp_path, key):
    manifest = mf.write(mf.sign(body_for(key), key), tmp_path / "clip.manifest.json")
    body, sig, pub = _by_hand(tmp_path, manifest)
    cmd = [
        "openssl",
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(pub),
        "-rawin",
        "-in",
        str(body),
        "-sigfile",
        str(sig),
    ]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    body.write_bytes(body.read_bytes().replace(b"LP/123", b"LP/124"))
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(pub), "-outform", "DER"], capture_output=True
    )
    assert (
        "ed25519:" + hashlib.sha256(der.stdout[-32:]).hexdigest()[:32] == key.fingerprint
    )  # as the docs say
    if shutil.which("jq"):  # the docs' shorter way to get the signed bytes
        jq = subprocess.run(["jq", "-jcS", ".body", str(manifest)], capture_output=True, timeout=30)
        assert jq.stdout == mf.canonical_bytes(json.loads(manifest.read_text(encoding="utf-8"))["body"])
