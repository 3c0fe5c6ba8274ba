"""One RTSP/TCP connection as an asyncio protocol: requests and responses, and interleaved RTP frames.

Incoming bytes are parsed in place (no copy of the whole buffer per frame): ``$``-framed interleaved data goes
to ``on_frame(channel, payload)``, ``RTSP/1.0`` responses resolve the request with the same CSeq. Anything
else is garbage: counted, skipped up to the next plausible frame, and after ``MAX_GARBAGE`` bytes the
connection is dropped as a decode error (a camera that sends garbage costs nothing to the others).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_GARBAGE = 64 * 1024
MAX_HEADER = 64 * 1024
MAX_BODY = 1 << 20


class ProtocolViolation(Exception):
    """The peer does not speak RTSP (garbage, oversize headers, broken framing)."""


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default


class RtspConnection(asyncio.Protocol):
    def __init__(self, on_frame: Callable[[int, bytes], None]) -> None:
        self.on_frame = on_frame
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiting: dict[int, asyncio.Future[Response]] = {}
        self._cseq = 0
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[BaseException | None] = loop.create_future()
        self.garbage_bytes = 0

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)

    def eof_received(self) -> bool:
        return False  # close

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        try:
            used = self._parse(buf)
        except ProtocolViolation as exc:
            self.abort(exc)
            return
        if used:
            del buf[:used]

    # -- requests ----------------------------------------------------------------------------------

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> asyncio.Future[Response]:
        if self.transport is None or self.closed.done():
            raise ConnectionResetError("RTSP connection closed")
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", "User-Agent: kota-tangguh-cctv"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting[self._cseq] = fut
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return fut

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the connection now (watchdog, garbage, stop); ``closed`` resolves to ``exc``."""
        self._end(exc)
        if self.transport is not None:
            self.transport.abort()

    def _end(self, exc: BaseException | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionResetError("RTSP connection closed") if exc is None else exc)
        self._waiting.clear()

    # -- parsing -----------------------------------------------------------------------------------

    def _parse(self, buf: bytearray) -> int:
        i, n = 0, len(buf)
        on_frame = self.on_frame
        while i < n:
            b = buf[i]
            if b == 0x24:  # '$' channel len16 payload
                if n - i < 4:
                    break
                size = (buf[i + 2] << 8) | buf[i + 3]
                if n - i < 4 + size:
                    break
                on_frame(buf[i + 1], bytes(buf[i + 4 : i + 4 + size]))
                i += 4 + size
            elif b == 0x52 and (n - i < 5 or buf.startswith(b"RTSP/", i)):
                if n - i < 5:
                    break
                used = self._response(buf, i)
                if used == 0:
                    break
                i += used
            else:
                j = i + 1
                while j < n and buf[j] not in (0x24, 0x52):
                    j += 1
                self.garbage_bytes += j - i
                if self.garbage_bytes > MAX_GARBAGE:
                    raise ProtocolViolation(f"{self.garbage_bytes} bytes of garbage on the RTSP connection")
                i = j
        return i

    def _response(self, buf: bytearray, i: int) -> int:
        end = buf.find(b"\r\n\r\n", i)
        if end < 0:
            if len(buf) - i > MAX_HEADER:
                raise ProtocolViolation("RTSP response header too long")
            return 0
        head = bytes(buf[i:end]).decode("latin-1").split("\r\n")
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ProtocolViolation(f"malformed RTSP status line {head[0][:80]!r}")
        headers: dict[str, list[str]] = {}
        for line in head[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers.setdefault(k.strip().lower(), []).append(v.strip())
        length = int(headers.get("content-length", ["0"])[0] or 0)
        if length < 0 or length > MAX_BODY:
            raise ProtocolViolation(f"RTSP body of {length} bytes")
        body_at = end + 4
        if len(buf) - body_at < length:
            return 0
        resp = Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers,
                        bytes(buf[body_at : body_at + length]))
        try:
            cseq = int(resp.header("cseq", "-1"))
        except ValueError:
            cseq = -1
        fut = self._waiting.pop(cseq, None)
        if fut is not None and not fut.done():
            fut.set_result(resp)
        return body_at + length - i
