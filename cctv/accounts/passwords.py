"""Password hashing with scrypt (memory-hard, in the standard library).

A hash is one self-describing string: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<key b64>``, so parameters can be
raised later without invalidating stored hashes (:func:`needs_rehash` tells when). Verification compares in
constant time and never raises on a malformed hash (it is simply "no").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCHEME = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32
MAX_PASSWORD_BYTES = 1024  # longer input is refused rather than hashed (a cheap DoS otherwise)


@dataclass(frozen=True, slots=True)
class Params:
    log2_n: int = 15  # N = 32768: 128 * r * N = 32 MiB of memory per hash, ~50-100 ms on one core
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * (1 << self.log2_n) * self.p + (1 << 20)


DEFAULT = Params()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii").rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)


def _derive(password: str, salt: bytes, params: Params) -> bytes:
    pw = password.encode("utf-8")
    if len(pw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    return hashlib.scrypt(
        pw, salt=salt, n=1 << params.log2_n, r=params.r, p=params.p, maxmem=params.maxmem, dklen=KEY_BYTES
    )


def hash_password(password: str, params: Params = DEFAULT) -> str:
    """A new hash of ``password`` with a fresh random salt."""
    if not password:
        raise ValueError("empty password")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, params)
    return f"{SCHEME}${params.log2_n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def _parse(encoded: str) -> tuple[Params, bytes, bytes] | None:
    try:
        scheme, log2_n, r, p, salt, key = encoded.split("$")
        if scheme != SCHEME:
            return None
        params = Params(int(log2_n), int(r), int(p))
        if not (10 <= params.log2_n <= 22 and 1 <= params.r <= 32 and 1 <= params.p <= 16):
            return None
        return params, _unb64(salt), _unb64(key)
    except (ValueError, TypeError):
        return None


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; constant-time comparison of the derived keys."""
    parsed = _parse(encoded)
    if parsed is None:
        return False
    params, salt, key = parsed
    try:
        candidate = _derive(password, salt, params)
    except ValueError:
        return False
    return hmac.compare_digest(candidate, key)


_DUMMY: str | None = None


def verify_dummy(password: str) -> None:
    """Spend the time of one verification against nothing: unknown users take as long as known ones."""
    global _DUMMY  # noqa: PLW0603 - a lazily computed constant, not mutable state
    if _DUMMY is None:
        _DUMMY = hash_password("dummy-password")
    verify_password(password, _DUMMY)


def needs_rehash(encoded: str, params: Params = DEFAULT) -> bool:
    parsed = _parse(encoded)
    return parsed is None or parsed[0] != params
