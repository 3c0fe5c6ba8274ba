"""Keep secrets out of logs, pages and error messages.

RTSP URLs usually carry a user name and password (``rtsp://admin:secret@10.0.0.7:554/sub``).
Only the worker that dials a camera needs them; everything else logs :func:`redact_url`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://userinfo@ inside free text; userinfo runs up to the last '@' before the host part.
_USERINFO_RE = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^\s/?#@]*(?:@[^\s/?#@]*)*)@"
)


def redact_url(url: str) -> str:
    """Return ``url`` with its user name and password replaced by ``***:***``.

    Host, port, path and query are kept, so the result still says which camera it is.
    A URL without credentials is returned unchanged. Never raises: text that is not a
    parseable URL goes through :func:`redact_text`.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return redact_text(url)
    if "@" not in netloc:
        return url
    host = netloc.rpartition("@")[2]
    userinfo = netloc.rpartition("@")[0]
    masked = f"{MASK}:{MASK}" if ":" in userinfo else MASK
    return urlunsplit(parts._replace(netloc=f"{masked}@{host}"))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact credentials of every URL found in ``text``, then every string of ``secrets``.

    ``secrets`` are values known to be secret (for instance what a ``${VAR}`` resolved to);
    empty strings are ignored, and longer secrets are replaced first.
    """

    def _mask(m: re.Match[str]) -> str:
        masked = f"{MASK}:{MASK}" if ":" in m.group("userinfo") else MASK
        return f"{m.group('scheme')}{masked}@"

    out = _USERINFO_RE.sub(_mask, text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out
