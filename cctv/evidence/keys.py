"""The node's Ed25519 signing key: ``<data_dir>/keys/node-ed25519.pem``.

Created on first use (PKCS#8 PEM, unencrypted, file mode 0600 in a 0700 folder) and loaded afterwards. Two
processes creating it at once (``cctv run`` and ``cctv clip export``) agree on one key: each writes a private
temporary file and links it into place only if no key exists yet. The private key is never logged, printed or
put in an error; :class:`NodeKey` shows only its fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cctv.evidence import EvidenceError

KEY_RELPATH = Path("keys") / "node-ed25519.pem"
ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class NodeKey:
    path: Path
    public_pem: str
    fingerprint: str
    _private: Ed25519PrivateKey = field(repr=False, compare=False)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:  # never the private key
        return f"NodeKey(path={str(self.path)!r}, fingerprint={self.fingerprint!r})"


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_RELPATH


def public_pem_of(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint_of(public: Ed25519PublicKey) -> str:
    """``ed25519:`` and the first 16 bytes of SHA-256 over the raw 32-byte public key, in hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def load_public_pem(pem: str | bytes, where: str = "public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; EvidenceError saying what is wrong with ``where`` otherwise."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise EvidenceError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(f"{where}: not an Ed25519 key ({type(key).__name__})")
    return key


def verify_signature(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def load_or_create(data_dir: Path) -> NodeKey:
    """The node key under ``data_dir``, created (0600 in a 0700 folder) if there is none yet."""
    path = key_path(data_dir)
    if not path.exists():
        _create(path)
    return _load(path)


def _create(path: Path) -> None:
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = folder / f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process made the key first: then theirs is the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        raise EvidenceError(f"cannot create the node key at {path}: {exc.strerror or exc}") from None


def _load(path: Path) -> NodeKey:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise EvidenceError(
                f"node key {path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceError(f"cannot read the node key {path}: {exc.strerror or exc}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # the message of the library could quote the file: say only where and what
        raise EvidenceError(f"node key {path} is not an unencrypted PEM private key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise EvidenceError(f"node key {path} is not an Ed25519 key")
    public = private.public_key()
    return NodeKey(path, public_pem_of(public), fingerprint_of(public), private)
