"""One RTSP session: connect, DESCRIBE, SETUP (TCP interleaved), PLAY, then media until it ends or stalls.

``play()`` returns when the session ends and raises ``SessionError`` with a reason code from
``cctv.status.messages.Reason``; messages never contain credentials. The stall watchdog is a deadline on the last
RTP packet (RTCP alone — what a stalled camera often still sends — does not count): it costs one timer per
stall period per camera, nothing per packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from cctv.status.messages import Reason
from streams.rtsp.auth import Credentials, authorization, choose_challenge
from streams.rtsp.connection import ProtocolViolation, Response, RtspConnection
from streams.rtsp.depacketize import AccessUnit, DepacketizeError, Depacketizer
from streams.rtsp.sdp import SdpError, VideoTrack, parse_sdp


class SessionError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnsupportedStream(SessionError):
    """The camera sends something the native client cannot depacketize (a codec other than H.264/H.265)."""


@dataclass(frozen=True, slots=True)
class SessionParams:
    connect_timeout_s: float = 10.0
    stall_timeout_s: float = 6.0
    keepalive_s: float = 25.0  # GET_PARAMETER at most this often (servers time sessions out after 60 s)


def split_url(url: str) -> tuple[str, str, int, Credentials | None]:
    """(request URL without credentials, host, port, credentials) of an rtsp:// URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("rtsp", "rtsps"):
        raise SessionError(Reason.ERROR, f"not an rtsp:// URL (scheme {parts.scheme!r})")
    if parts.scheme.lower() == "rtsps":
        raise SessionError(Reason.ERROR, "rtsps:// (TLS) is not supported by the native client")
    host = parts.hostname or ""
    if not host:
        raise SessionError(Reason.ERROR, "rtsp URL without a host")
    try:
        port = parts.port or 554
    except ValueError:
        raise SessionError(Reason.ERROR, "rtsp URL with an invalid port") from None
    creds = Credentials(unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return clean, host, port, creds


class RtspSession:
    """Plays one camera. ``on_unit(au)`` runs on the event loop for every complete access unit."""

    def __init__(self, url: str, params: SessionParams, on_track: Callable[[VideoTrack], None],
                 on_unit: Callable[[AccessUnit], None]) -> None:
        self.url, self.host, self.port, self._creds = split_url(url)
        self.params = params
        self.on_track = on_track
        self.on_unit = on_unit
        self.conn: RtspConnection | None = None
        self.depacketizer: Depacketizer | None = None
        self.last_media = 0.0
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._nc = 0
        self._session = ""
        self._channel = 0
        self._answered = False  # the server has answered an RTSP request in this session

    # -- public ------------------------------------------------------------------------------------

    async def play(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _t, conn = await asyncio.wait_for(
                loop.create_connection(lambda: RtspConnection(self._on_frame), self.host, self.port),
                self.params.connect_timeout_s,
            )
        except TimeoutError:
            raise SessionError(Reason.TIMEOUT, f"no TCP connection to {self.host}:{self.port} "
                               f"within {self.params.connect_timeout_s:g} s") from None
        except OSError as exc:
            raise SessionError(_os_reason(exc), f"cannot connect to {self.host}:{self.port}: "
                               f"{exc.strerror or exc}") from None
        self.conn = conn
        keepalive: asyncio.Task[None] | None = None
        try:
            interval = await self._start()
            keepalive = asyncio.create_task(self._keepalive(interval), name="rtsp-keepalive")
            await self._watch()
        finally:
            if keepalive is not None:
                keepalive.cancel()
                with contextlib.suppress(BaseException):
                    await keepalive
            self._teardown()

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.abort(None)

    # -- steps -------------------------------------------------------------------------------------

    async def _start(self) -> float:
        options = await self._request("OPTIONS", self.url)
        desc = await self._request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        base = desc.header("content-base") or desc.header("content-location") or self.url
        try:
            track = parse_sdp(desc.body.decode("utf-8", "replace"), base)
            self.depacketizer = Depacketizer(track.codec, track.parameter_sets)
        except SdpError as exc:
            raise SessionError(Reason.DECODE, str(exc)) from None
        except DepacketizeError as exc:
            raise UnsupportedStream(Reason.DECODE, str(exc)) from None
        setup = await self._request("SETUP", track.control,
                                    {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        session = setup.header("session")
        if not session:
            raise SessionError(Reason.ERROR, "SETUP answered without a session")
        self._session = session.split(";")[0].strip()
        timeout_s = 60.0
        for p in session.split(";")[1:]:
            k, _, v = p.strip().partition("=")
            if k.lower() == "timeout" and v.strip().isdigit():
                timeout_s = float(v)
        transport = setup.header("transport")
        for p in transport.split(";"):
            k, _, v = p.strip().partition("=")
            if k.lower() == "interleaved" and v.split("-")[0].isdigit():
                self._channel = int(v.split("-")[0])
        self.on_track(track)
        self.last_media = time.monotonic()
        await self._request("PLAY", base.rstrip("/"), {"Session": self._session, "Range": "npt=0.000-"})
        self._use_get_parameter = "GET_PARAMETER" in options.header("public").upper()
        return max(5.0, min(self.params.keepalive_s, timeout_s / 2))

    async def _watch(self) -> None:
        """Wait for the connection to end, or for the media to stop for ``stall_timeout_s``."""
        assert self.conn is not None
        closed = self.conn.closed
        stall = self.params.stall_timeout_s
        while True:
            remaining = stall - (time.monotonic() - self.last_media)
            if remaining <= 0:
                raise SessionError(Reason.STALLED, f"no media for {stall:g} s")
            done, _ = await asyncio.wait({closed}, timeout=remaining)
            if done:
                exc = closed.result()
                if isinstance(exc, ProtocolViolation):
                    raise SessionError(Reason.DECODE, str(exc))
                if isinstance(exc, OSError):
                    raise SessionError(_os_reason(exc), f"connection lost: {exc.strerror or exc}")
                if exc is not None:
                    raise SessionError(Reason.ERROR, f"{type(exc).__name__}: {exc}")
                raise SessionError(Reason.EOF, "the camera closed the connection")

    async def _keepalive(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            method = "GET_PARAMETER" if self._use_get_parameter else "OPTIONS"
            with contextlib.suppress(SessionError, ConnectionError, TimeoutError):
                await self._request(method, self.url, {"Session": self._session})

    def _teardown(self) -> None:
        conn = self.conn
        if conn is None:
            return
        if self._session and not conn.closed.done():
            with contextlib.suppress(Exception):
                conn.request("TEARDOWN", self.url, {"Session": self._session}).cancel()
        if conn.transport is not None:
            conn.transport.close()
        conn._end(None)

    # -- media -------------------------------------------------------------------------------------

    def _on_frame(self, channel: int, payload: bytes) -> None:
        if channel != self._channel or self.depacketizer is None:
            if channel == self._channel + 1 and _rtcp_bye(payload) and self.conn is not None:
                self.conn.abort(None)  # the server ended the stream (RTCP BYE): EOF, not a stall
            return  # other RTCP, or an unknown track
        self.last_media = time.monotonic()
        try:
            units = self.depacketizer.push(payload)
        except DepacketizeError:
            self.depacketizer.dropped_units += 1
            return
        for au in units:
            self.on_unit(au)

    # -- requests with authentication -------------------------------------------------------------

    async def _request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        for attempt in range(2):
            h = dict(headers or {})
            if self._challenge is not None and self._creds is not None:
                self._nc += 1
                h["Authorization"] = authorization(*self._challenge, self._creds, method, url, self._nc)
            resp = await self._send(method, url, h)
            self._answered = True
            if resp.status == 401 and attempt == 0 and self._creds is not None:
                challenge = choose_challenge(resp.headers.get("www-authenticate", []))
                stale = challenge is not None and challenge[1].get("stale", "").lower() == "true"
                if challenge is not None and (self._challenge is None or stale):
                    self._challenge = challenge
                    continue
            if resp.status >= 300:
                raise SessionError(_status_reason(resp.status), f"{method} answered {resp.status} {resp.reason}")
            return resp
        raise SessionError(Reason.AUTH, f"{method} answered 401 Unauthorized")

    async def _send(self, method: str, url: str, headers: dict[str, str]) -> Response:
        assert self.conn is not None
        try:
            fut = self.conn.request(method, url, headers)
        except ConnectionError as exc:
            raise SessionError(Reason.EOF, f"{method}: connection closed") from exc
        try:
            return await asyncio.wait_for(fut, self.params.connect_timeout_s)
        except TimeoutError:
            # A camera that answered OPTIONS but then hangs on DESCRIBE/SETUP/PLAY has a live RTSP server and
            # no stream: the same fault as a session that stops delivering media (docs/ingest.md).
            reason = Reason.STALLED if self._answered else Reason.TIMEOUT
            raise SessionError(reason, f"{method}: no answer within {self.params.connect_timeout_s:g} s") from None
        except ProtocolViolation as exc:
            raise SessionError(Reason.DECODE, f"{method}: {exc}") from None
        except ConnectionError:
            raise SessionError(Reason.EOF, f"{method}: the camera closed the connection") from None


def _rtcp_bye(payload: bytes) -> bool:
    """Whether a compound RTCP packet holds a BYE (packet type 203)."""
    i = 0
    while i + 4 <= len(payload):
        if payload[i + 1] == 203:
            return True
        i += 4 * (int.from_bytes(payload[i + 2 : i + 4], "big") + 1)
    return False


def _status_reason(status: int) -> str:
    if status in (401, 403):
        return Reason.AUTH
    if status == 404:
        return Reason.NOT_FOUND
    if status in (408, 504):
        return Reason.TIMEOUT
    return Reason.ERROR


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return Reason.REFUSED
    if isinstance(exc, socket.gaierror) or exc.errno in (
        errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ECONNRESET, errno.EPIPE,
        errno.ECONNABORTED,
    ):
        return Reason.UNREACHABLE
    return Reason.ERROR
