"""A camera read by the native asyncio RTSP client: the supervised loop of one camera on the event loop.

``run()`` repeats sessions until stopped; each failure is reported as a ``WorkerEvent`` with its reason and
followed by exponential backoff with jitter (reset after a session that delivered media) — or, after repeated
authentication failures, by the circuit breaker's slow retry. Every access unit becomes a PyAV packet (no
copy of the payload beyond the depacketizer's) for ``streams.camera.pipeline``; only the frames the decode mode needs
are decoded. Any exception in one camera's processing ends that camera's session, never the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from cctv.clock import Clock
from cctv.redact import redact_url
from cctv.status.messages import Reason, WorkerEvent
from streams.camera.backoff import Backoff
from streams.camera.breaker import AuthBreaker
from streams.camera.pipeline import CameraPipeline
from streams.rtsp.depacketize import AccessUnit
from streams.rtsp.sdp import VideoTrack
from streams.rtsp.session import RtspSession, SessionError, SessionParams, UnsupportedStream
from streams.rtsp.sps import h264_picture_size

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamTemplate:
    """What the recorder needs to create its output stream when there is no demuxer stream to copy."""

    codec: str
    time_base: Fraction


class NativeCamera:
    def __init__(
        self,
        camera: str,
        url: str,
        session_params: SessionParams,
        pipeline: CameraPipeline,
        emit: Callable[[Any], None],
        clock: Clock,
        backoff: Backoff,
        breaker: AuthBreaker,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.camera = camera
        self._url = url  # secret: only the session sees it
        self.url_redacted = redact_url(url)
        self.session_params = session_params
        self.pipeline = pipeline
        self.emit = emit
        self.clock = clock
        self.backoff = backoff
        self.breaker = breaker
        self.sleep = sleep
        self.session: RtspSession | None = None
        self.last_error = ""
        self._stopping = False
        self._clock_rate = 90000
        self._time_base = Fraction(1, 90000)  # built once a track, not once a packet (a Fraction costs µs)
        self._ts_base: int | None = None
        self._ts_last = 0
        self._ts_wraps = 0
        self._prev_pts: int | None = None
        self._connected = False
        self._sps: bytes | None = None
        self.unsupported = ""  # set when the stream needs the FFmpeg client instead; run() then returns

    @property
    def stats(self):  # type: ignore[no-untyped-def]
        return self.pipeline.stats

    def stop(self) -> None:
        self._stopping = True
        if self.session is not None:
            self.session.stop()

    async def run(self) -> None:
        while not self._stopping:
            reason, detail, had_media = Reason.EOF, "stream ended", False
            try:
                had_media = await self.run_once()
            except UnsupportedStream as exc:
                log.info("camera %s: %s; handing it to the FFmpeg client", self.camera, exc)
                self.unsupported = str(exc)
                return
            except SessionError as exc:
                reason, detail, had_media = exc.reason, str(exc), self._connected
            except Exception as exc:  # noqa: BLE001 - one camera's failure never stops the others
                reason, detail = Reason.ERROR, f"{type(exc).__name__}: {exc}"
                log.exception("camera %s: session failed", self.camera)
            self.last_error = reason
            self.breaker.record(reason if reason == Reason.AUTH or not had_media else "")
            if self.breaker.open:
                detail = (f"{detail}; {self.breaker.failures} authentication failures in a row: next try in "
                          f"{self.breaker.retry_s:g} s")
            if not self._stopping:
                log.info("camera %s: session ended (%s): %s", self.camera, reason, detail)
            self.emit(WorkerEvent(self.camera, "disconnected", self.clock.now_ms(), str(reason), detail))
            if self._stopping:
                break
            if had_media:
                self.backoff.reset()
            await self.sleep(self.breaker.delay(self.backoff.next_delay()))
            self.pipeline.reconnecting()

    async def run_once(self) -> bool:
        """One session; returns whether media arrived (raises SessionError when it ends badly)."""
        self._connected = False
        self._ts_base, self._ts_wraps, self._prev_pts = None, 0, None
        session = RtspSession(self._url, self.session_params, self._on_track, self._on_unit)
        self.session = session
        try:
            await session.play()
        finally:
            self.session = None
            self.pipeline.end(self._connected)
        return self._connected

    # -- callbacks on the event loop ---------------------------------------------------------------

    def _on_track(self, track: VideoTrack) -> None:
        decoder = av.CodecContext.create(track.codec, "r")
        decoder.thread_type = "NONE"
        decoder.thread_count = 1
        self._clock_rate = track.clock_rate or 90000
        self._time_base = Fraction(1, self._clock_rate)
        template = StreamTemplate(track.codec, self._time_base)
        self.pipeline.begin(decoder, template, track.codec, None, None)

    def _on_unit(self, au: AccessUnit) -> None:
        try:
            if not self._connected:
                self._connected = True
                self.breaker.record("")
                self.emit(WorkerEvent(self.camera, "connected", self.clock.now_ms()))
            pts = self._unwrap(au.rtp_timestamp)
            packet = av.Packet(au.data)
            packet.pts = packet.dts = pts
            packet.time_base = self._time_base
            packet.is_keyframe = au.keyframe
            if self._prev_pts is not None and pts > self._prev_pts:
                packet.duration = pts - self._prev_pts  # an estimate: the previous frame's duration
            self._prev_pts = pts
            if au.keyframe:
                self._note_picture_size()
            self.pipeline.on_packet(packet, pts / self._clock_rate)
        except Exception as exc:  # noqa: BLE001 - ends this camera's session only
            log.exception("camera %s: processing a frame failed", self.camera)
            if self.session is not None and self.session.conn is not None:
                self.session.conn.abort(exc)

    def _note_picture_size(self) -> None:
        """Resolution from the SPS (packets alone: known even when nothing is decoded)."""
        dep = self.session.depacketizer if self.session is not None else None
        sps = dep.sps if dep is not None else None
        if sps is not None and sps is not self._sps:
            self._sps = sps
            size = h264_picture_size(sps)
            if size is not None:
                self.pipeline.stats.width, self.pipeline.stats.height = size

    def _unwrap(self, ts: int) -> int:
        """RTP's 32-bit timestamp as a 64-bit count from the session's first unit (wraps every ~13 h)."""
        if self._ts_base is None:
            self._ts_base, self._ts_last = ts, ts
        elif ts < self._ts_last and self._ts_last - ts > 1 << 31:
            self._ts_wraps += 1
        elif ts > self._ts_last and ts - self._ts_last > 1 << 31:
            self._ts_wraps -= 1  # a late packet from before the wrap
        self._ts_last = ts
        return ts - self._ts_base + (self._ts_wraps << 32)
