"""The evidence manifest: what a clip is, signed with the node's Ed25519 key.

The file is JSON with three members::

    {"body": {...}, "format": "kota-tangguh-cctv/evidence-manifest/v1", "signature": "<base64>"}

``signature`` is Ed25519 over :func:`canonical_bytes` of ``body``: UTF-8 JSON with sorted keys, no spaces, no
floats (every number in the body is an integer). The body carries everything, the public key and its
fingerprint included, so that every byte of meaning is signed. The file itself is written in one canonical
layout (:func:`dumps`: two-space indent, sorted keys, UTF-8, final newline) and a reader refuses any other
layout, so that no byte of a manifest can change, not even white space, without ``cctv verify`` saying so.
docs/evidence.md has the fields and how to check a manifest by hand.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cctv.evidence import EvidenceError
from cctv.evidence.files import PARTIAL, publish
from cctv.evidence.keys import ALGORITHM, NodeKey

FORMAT = "kota-tangguh-cctv/evidence-manifest/v1"
DISTRIBUTION = "kota-tangguh-cctv"
MANIFEST_SUFFIX = ".manifest.json"


class ManifestError(EvidenceError):
    """The manifest is not one we wrote: unreadable JSON, another layout, missing or mistyped members."""


def iso_ms(ms: int) -> str:
    """UTC ISO 8601 with milliseconds: ``2026-01-01T00:00:00.000Z``."""
    sec, milli = divmod(int(ms), 1000)
    return datetime.fromtimestamp(sec, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{milli:03d}Z"


def time_range(start_ms: int, end_ms: int) -> dict[str, Any]:
    return {
        "start": iso_ms(start_ms),
        "start_ms": int(start_ms),
        "end": iso_ms(end_ms),
        "end_ms": int(end_ms),
        "duration_ms": int(end_ms) - int(start_ms),
    }


def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def build_body(
    *,
    case_ref: str,
    request_id: str | None,
    camera_path: str,
    camera_name: str,
    area_path: str,
    area_names: Sequence[str],
    requested: tuple[int, int],
    actual: tuple[int, int],
    approver: str,
    segments: Sequence[Mapping[str, Any]],
    gaps: Sequence[tuple[int, int]],
    clip_file: str,
    clip_sha256: str,
    clip_size_bytes: int,
    clip_packets: int,
    created_ms: int,
    key: NodeKey,
) -> dict[str, Any]:
    """The manifest body (to be signed). ``segments``: dicts with path, sha256, start_ms, end_ms, size_bytes and,
    recorded by an ingest node among many, the node."""
    return {
        "request": {"case_ref": case_ref, "id": request_id},
        "camera": {"path": camera_path, "name": camera_name},
        "area": {"path": area_path, "names": list(area_names)},
        "requested": time_range(*requested),
        "actual": time_range(*actual),
        "approver": approver,
        "segments": [
            {
                "path": str(s["path"]),
                "sha256": str(s["sha256"]),
                "size_bytes": int(s["size_bytes"]),
                "start_ms": int(s["start_ms"]),
                "end_ms": int(s["end_ms"]),
                **({"node": str(s["node"])} if s.get("node") else {}),
            }
            for s in segments
        ],
        "gaps": [time_range(a, b) for a, b in gaps],
        "clip": {
            "file": clip_file,
            "sha256": clip_sha256,
            "size_bytes": int(clip_size_bytes),
            "packets": int(clip_packets),
            "container": "mp4",
            "codec_copy": True,
        },
        "software": {"name": DISTRIBUTION, "version": software_version()},
        "created_at": iso_ms(created_ms),
        "created_ms": int(created_ms),
        "key": {"algorithm": ALGORITHM, "fingerprint": key.fingerprint, "public_key_pem": key.public_pem},
    }


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    """The exact bytes the signature covers."""
    _no_floats(body, "body")
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(body: Mapping[str, Any], key: NodeKey) -> dict[str, Any]:
    """The manifest document: ``body`` and its signature by ``key`` (which the body must name)."""
    if body.get("key", {}).get("fingerprint") != key.fingerprint:
        raise EvidenceError("the manifest body names another key than the one signing it")
    signature = base64.b64encode(key.sign(canonical_bytes(body))).decode("ascii")
    return {"body": dict(body), "format": FORMAT, "signature": signature}


def dumps(doc: Mapping[str, Any]) -> bytes:
    """The one layout a manifest file has."""
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write(doc: Mapping[str, Any], path: Path) -> Path:
    """Write ``path`` crash-safely (``.partial``, fsync, rename, fsync the folder)."""
    partial = path.with_name(path.name + PARTIAL)
    partial.write_bytes(dumps(doc))
    publish(partial, path)
    return path


def parse(data: bytes) -> dict[str, Any]:
    """A manifest document from the file's bytes; ManifestError saying what is wrong otherwise."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"not valid UTF-8 JSON ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != {"body", "format", "signature"}:
        raise ManifestError("expected exactly the members body, format and signature")
    if doc["format"] != FORMAT:
        raise ManifestError(f"unknown format {str(doc['format'])[:80]!r} (expected {FORMAT!r})")
    body = doc["body"]
    if not isinstance(body, dict):
        raise ManifestError("body is not an object")
    try:
        _no_floats(body, "body")
    except EvidenceError as exc:
        raise ManifestError(str(exc)) from None
    for section, name in (
        ("request", "case_ref"),
        ("camera", "path"),
        ("actual", "start"),
        ("actual", "end"),
        ("clip", "file"),
        ("clip", "sha256"),
    ):
        _need(body, section, name, str)
    _need(body, "clip", "size_bytes", int)
    _need(body, "key", "algorithm", str)
    _need(body, "key", "fingerprint", str)
    _need(body, "key", "public_key_pem", str)
    if body["key"]["algorithm"] != ALGORITHM:
        raise ManifestError(f"key.algorithm is {body['key']['algorithm'][:40]!r}, expected {ALGORITHM!r}")
    sig = doc["signature"]
    if not isinstance(sig, str):
        raise ManifestError("signature is not a string")
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise ManifestError("signature is not base64") from None
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != sig:
        raise ManifestError("signature is not the base64 of a 64-byte Ed25519 signature")
    if dumps(doc) != data:
        raise ManifestError("the file is not in its canonical layout (was it edited or re-saved?)")
    return doc


def signature_bytes(doc: Mapping[str, Any]) -> bytes:
    return base64.b64decode(doc["signature"])


def _need(body: Mapping[str, Any], section: str, name: str, kind: type) -> None:
    part = body.get(section)
    value = part.get(name) if isinstance(part, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ManifestError(f"body.{section}.{name} is missing or not a {kind.__name__}")


def _no_floats(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise EvidenceError(f"{where} is a float; manifest numbers are integers")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")
