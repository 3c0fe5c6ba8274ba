"""Evidence clips: the node's signing key, clip export by stream copy, signed manifests, offline verification.

- ``keys``: the node's Ed25519 key (created on first use, private key never leaves its 0600 file).
- ``export``: remux the recorded segments of one camera over a time range into one faststart MP4.
- ``manifest``: the canonical manifest body, its Ed25519 signature, reading and writing the file.
- ``clip``: the whole job (export → manifest → sign → write) for the console and the web.
- ``verify``: check a clip and its manifest offline (``cctv verify``).

docs/evidence.md describes the manifest format and how to verify a clip by hand.
"""

from __future__ import annotations


class EvidenceError(Exception):
    """A clear, user-facing problem with an export or a key (what and where; never a secret)."""
