"""Opening streams. The only module that dials RTSP.

``StreamOpener`` is a protocol so tests can pass a ``FileOpener`` over a small generated clip; production
uses ``PyAVRtspOpener``. Errors come out as ``OpenError`` with a reason code from ``cctv.status.messages.Reason``
and a message that never contains the URL's credentials.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Protocol

import av
import av.error

from cctv.redact import redact_url
from cctv.status.messages import Reason


class OpenError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OpenParams:
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 6.0  # no packet for this long → the read fails (stall watchdog)
    transport: str = "tcp"


class StreamOpener(Protocol):
    def open(self, url: str, params: OpenParams) -> av.container.InputContainer:
        """Open ``url`` and return a container whose first video stream is the one to read."""
        ...


class PyAVRtspOpener:
    """PyAV over RTSP/TCP with the fast-open options measured in INGEST-FACTS.md.

    The read timeout is PyAV's interrupt callback: it takes the GIL on every FFmpeg I/O check, which is
    affordable for a few hundred cameras per process but is the first thing to replace when sharding
    (docs/ingest.md).
    """

    def open(self, url: str, params: OpenParams) -> av.container.InputContainer:
        options = {
            "rtsp_transport": params.transport,
            "timeout": str(int(params.connect_timeout_s * 1_000_000)),  # socket I/O timeout, µs
            "analyzeduration": "0",
            "probesize": "32",
            # not fflags=nobuffer: it discards the packets read while probing, i.e. each session's first
            # keyframe (2 s late for the checks, 2 s of every recording session lost)
        }
        try:
            return av.open(
                url, options=options, timeout=(params.connect_timeout_s, params.read_timeout_s)
            )
        except Exception as exc:  # noqa: BLE001 - classified, re-raised with a safe message
            raise OpenError(classify(exc, opening=True), safe_message(exc, url)) from None


class FileOpener:
    """Reads a local file as if it were a camera (tests and `cctv analyze`)."""

    def open(self, url: str, params: OpenParams) -> av.container.InputContainer:
        try:
            return av.open(url)
        except Exception as exc:  # noqa: BLE001
            raise OpenError(classify(exc, opening=True), safe_message(exc, url)) from None


def classify(exc: BaseException, *, opening: bool) -> str:
    """Map an exception from PyAV/FFmpeg to a status reason code."""
    if isinstance(exc, OpenError):
        return exc.reason
    if isinstance(exc, av.error.HTTPNotFoundError):
        return Reason.NOT_FOUND
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return Reason.AUTH
    if isinstance(exc, ConnectionRefusedError):
        return Reason.REFUSED
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return Reason.TIMEOUT if opening else Reason.STALLED
    if isinstance(exc, av.error.EOFError | EOFError):
        return Reason.EOF
    if isinstance(exc, av.error.InvalidDataError):
        return Reason.DECODE
    if isinstance(exc, OSError) and exc.errno in (
        errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ECONNRESET,
        errno.EPIPE, errno.ECONNABORTED,
    ):
        return Reason.UNREACHABLE
    return Reason.ERROR


def safe_message(exc: BaseException, url: str) -> str:
    """The exception's text with the URL (and its credentials) redacted."""
    text = f"{type(exc).__name__}: {exc}"
    safe = redact_url(url)
    text = text.replace(url, safe)
    # FFmpeg sometimes quotes the URL without its scheme or with the password alone
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    for secret in (parts.password, parts.username):
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
