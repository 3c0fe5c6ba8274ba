"""Offline verification of a clip and its manifest (``cctv verify CLIP MANIFEST [--pubkey FILE]``).

Four checks, each named in the report:

- ``manifest``: the file is a well-formed manifest in its canonical layout (any edit, even of white space, fails);
- ``key``: the public key in the manifest has the fingerprint the manifest names and, with ``--pubkey``, is
  that key (without it, compare the printed fingerprint with the node's published one);
- ``signature``: the Ed25519 signature over the manifest body holds (with the ``--pubkey`` key when given);
- ``hash``: the clip's SHA-256 and size are the ones the manifest states.

Nothing here needs the server, the store or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cctv.evidence import EvidenceError
from cctv.evidence import manifest as mf
from cctv.evidence.files import sha256_file
from cctv.evidence.keys import fingerprint_of, load_public_pem, verify_signature

CHECKS = ("manifest", "key", "signature", "hash")


class Unreadable(EvidenceError):
    """A file named on the command line cannot be read (or the --pubkey file is not a public key)."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    body: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return len(self.checks) == len(CHECKS) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]


def verify_files(clip: Path, manifest: Path, pubkey: Path | None = None) -> Report:
    """Check ``clip`` against ``manifest``; Unreadable if a file cannot be read."""
    data = _read(manifest, "manifest")
    trusted_pem = _read(pubkey, "--pubkey") if pubkey is not None else None
    try:
        digest, size = sha256_file(clip)
    except OSError as exc:
        raise Unreadable(f"cannot read the clip {clip}: {exc.strerror or exc}") from None
    trusted = None
    if trusted_pem is not None:
        try:
            trusted = load_public_pem(trusted_pem, f"--pubkey {pubkey}")
        except EvidenceError as exc:
            raise Unreadable(str(exc)) from None
    return check(data, digest, size, trusted)


def check(data: bytes, clip_sha256: str, clip_size: int, trusted=None) -> Report:  # type: ignore[no-untyped-def]
    """The four checks over a manifest's bytes and a clip's hash and size."""
    try:
        doc = mf.parse(data)
        body = doc["body"]
        embedded = load_public_pem(body["key"]["public_key_pem"], "body.key.public_key_pem")
    except EvidenceError as exc:
        return Report((Check("manifest", False, f"malformed manifest: {exc}"),))
    checks = [
        Check(
            "manifest", True, f"well-formed ({mf.FORMAT}), case {body.get('request', {}).get('case_ref')!r}"
        )
    ]

    fp = fingerprint_of(embedded)
    if fp != body["key"]["fingerprint"]:
        checks.append(
            Check(
                "key",
                False,
                f"key mismatch: the manifest's public key is {fp}, but it names "
                f"{body['key']['fingerprint'][:80]!r}",
            )
        )
    elif trusted is not None and fingerprint_of(trusted) != fp:
        checks.append(
            Check(
                "key",
                False,
                f"key mismatch: the manifest was signed by {fp}, not by the --pubkey key "
                f"{fingerprint_of(trusted)}",
            )
        )
    elif trusted is not None:
        checks.append(Check("key", True, f"{fp}, the --pubkey key"))
    else:
        checks.append(
            Check(
                "key",
                True,
                f"{fp} (embedded in the manifest; compare it with the node's published "
                "key, or pass --pubkey)",
            )
        )

    signer = trusted if trusted is not None else embedded
    if verify_signature(signer, mf.signature_bytes(doc), mf.canonical_bytes(body)):
        checks.append(
            Check(
                "signature",
                True,
                f"Ed25519 signature over the manifest body holds ({fingerprint_of(signer)})",
            )
        )
    else:
        checks.append(
            Check(
                "signature",
                False,
                f"the signature does not hold for key {fingerprint_of(signer)}: the "
                "manifest was altered or signed by another key",
            )
        )

    want, want_size = body["clip"]["sha256"], body["clip"]["size_bytes"]
    if clip_sha256 == want and clip_size == want_size:
        checks.append(Check("hash", True, f"SHA-256 {clip_sha256} ({clip_size} bytes) as in the manifest"))
    else:
        checks.append(
            Check(
                "hash",
                False,
                f"the clip's SHA-256 is {clip_sha256} ({clip_size} bytes), the manifest "
                f"states {want[:64]} ({want_size} bytes): the clip was altered or is "
                "another file",
            )
        )
    return Report(tuple(checks), body)


def render(report: Report) -> str:
    """The report as a person reads it: one line per check, then the verdict."""
    lines = [f"{c.name:<10} {'OK' if c.ok else 'FAILED':<7} {c.detail}" for c in report.checks]
    if report.ok and report.body is not None:
        b = report.body
        lines.append(
            f"VERIFIED: {b['clip']['file']} is the clip of {b['camera']['path']} from {b['actual']['start']} "
            f"to {b['actual']['end']} for case {b['request']['case_ref']!r}, unaltered"
        )
    else:
        lines.append(f"NOT VERIFIED: {', '.join(report.failed)} check failed")
    return "\n".join(lines)


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None
