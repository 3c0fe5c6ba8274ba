"""RTSP authentication (RFC 2617 Basic and Digest, MD5 — what cameras implement)."""

from __future__ import annotations

import base64
import hashlib
import os
import re

_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


class Credentials:
    """A username and password; ``repr`` never shows the password."""

    __slots__ = ("password", "username")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def __repr__(self) -> str:
        return f"Credentials({self.username!r}, ***)"


def choose_challenge(headers: list[str]) -> tuple[str, dict[str, str]] | None:
    """The strongest challenge among WWW-Authenticate headers: Digest over Basic."""
    parsed = []
    for h in headers:
        scheme, _, rest = h.strip().partition(" ")
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _PARAM.finditer(rest)}
        parsed.append((scheme.lower(), params))
    for want in ("digest", "basic"):
        for scheme, params in parsed:
            if scheme == want:
                return scheme, params
    return None


def authorization(scheme: str, params: dict[str, str], creds: Credentials, method: str, uri: str,
                  nc: int = 1, cnonce: str | None = None) -> str:
    if scheme == "basic":
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        return f"Basic {token}"
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    ha1 = _md5(f"{creds.username}:{realm}:{creds.password}")
    ha2 = _md5(f"{method}:{uri}")
    qop = params.get("qop", "")
    fields = [f'username="{creds.username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in [q.strip() for q in qop.split(",")]:
        cnonce = cnonce or os.urandom(8).hex()
        ncv = f"{nc:08x}"
        response = _md5(f"{ha1}:{nonce}:{ncv}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={ncv}", f'cnonce="{cnonce}"']
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{response}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(fields)


def _md5(s: str) -> str:
    return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()
