"""One supervised worker per camera: open, demux, count, decode what the checks need, analyse, report.

``run()`` loops over ``run_once()``; a failure is classified (reason code), logged, reported as a
``WorkerEvent``, and followed by an exponential backoff with jitter (reset after a session that delivered
media). The stall watchdog is the opener's read timeout: no packet for ``stall_timeout_s`` ends the session
with reason ``stalled`` — it also catches the silent stall where RTCP keeps the TCP socket alive.

Everything leaves through one bounded drop-oldest channel; the worker never blocks on its consumer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import av
import cv2
import numpy as np

from cctv.analysis.analyzer import Analyzer, CheckParams
from cctv.channel import DropOldestChannel
from cctv.clock import Clock
from cctv.messages import Reason, SnapshotReady, WorkerEvent
from cctv.redact import redact_url
from cctv.snapshots import SnapshotStore
from streams.backoff import Backoff
from streams.opener import OpenError, OpenParams, StreamOpener, classify, safe_message
from streams.recorder import SegmentRecorder
from streams.stats import PacketStats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerParams:
    open: OpenParams
    decode: str = "keyframes"  # keyframes | sampled | off
    sample_fps: float = 2.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    stats_every_s: float = 1.0
    snapshot_width: int = 320
    snapshot_interval_s: float = 2.0
    jpeg_quality: int = 70


class CameraWorker:
    def __init__(
        self,
        camera: str,
        url: str,
        opener: StreamOpener,
        params: WorkerParams,
        checks: CheckParams,
        out: DropOldestChannel[Any],
        snapshots: SnapshotStore,
        clock: Clock,
        recorder: SegmentRecorder | None = None,
    ) -> None:
        self.camera = camera
        self.recorder = recorder
        self._url = url  # secret: never logged; use self.url_redacted
        self.url_redacted = redact_url(url)
        self.opener = opener
        self.params = params
        self.out = out
        self.snapshots = snapshots
        self.clock = clock
        self.stats = PacketStats(camera, params.decode)
        self.analyzer = Analyzer(camera, checks)
        self.backoff = Backoff(params.backoff_initial_s, params.backoff_max_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_snapshot_mono = -1e9
        self._last_sample_mono = -1e9
        self._last_stats_mono = -1e9
        self.last_error: str = ""

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"cam:{self.camera}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the supervised loop -----------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop.is_set():
            reason, detail, had_media = Reason.EOF, "stream ended", False
            try:
                had_media = self.run_once()
            except OpenError as exc:
                reason, detail = exc.reason, str(exc)
                log.info("camera %s: cannot open (%s): %s", self.camera, reason, detail)
            except Exception as exc:  # noqa: BLE001 - one camera's failure never kills the worker
                reason = classify(exc, opening=False)
                detail = safe_message(exc, self._url)
                if reason in (Reason.ERROR, Reason.DECODE):
                    log.exception("camera %s: session failed (%s)", self.camera, reason)
                else:
                    log.info("camera %s: session ended (%s): %s", self.camera, reason, detail)
            self.last_error = reason
            self._emit(WorkerEvent(self.camera, "disconnected", self.clock.now_ms(), str(reason), detail))
            if self._stop.is_set():
                break
            if had_media:
                self.backoff.reset()
            self._stop.wait(self.backoff.next_delay())
            self.stats.on_reconnect()
            self.analyzer.reset()

    def run_once(self) -> bool:
        """One session: open, read until the stream ends or stalls. Returns whether media arrived."""
        container = self.opener.open(self._url, self.params.open)
        had_media = False
        try:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise OpenError(Reason.DECODE, "no video stream")
            self._configure_decoder(video)
            self._emit(WorkerEvent(self.camera, "connected", self.clock.now_ms()))
            time_base = video.time_base
            for packet in container.demux(video):
                if self._stop.is_set():
                    break
                if packet.size == 0:  # demuxer flush packet
                    continue
                had_media = True
                mono, ms = self.clock.monotonic(), self.clock.now_ms()
                pts_s = float(packet.pts * time_base) if packet.pts is not None and time_base else None
                self.stats.on_packet(mono, ms, packet.size, packet.is_keyframe, pts_s)
                self.analyzer.note_packet(pts_s if pts_s is not None else mono)  # low-fps check
                if self._wants_decode(packet, mono):
                    self._decode(video, packet, mono, ms)
                if self.recorder is not None:  # after decoding: muxing rescales the packet's timestamps
                    self.recorder.on_packet(packet, video, ms)
                if mono - self._last_stats_mono >= self.params.stats_every_s or self.stats.packets == 1:
                    self._last_stats_mono = mono
                    self._emit(self.stats.snapshot(mono, ms))
        finally:
            if had_media:  # the last packet's time, so an outage is dated from it, not from the last report
                self._emit(self.stats.snapshot(self.clock.monotonic(), self.clock.now_ms()))
            if self.recorder is not None:
                self.recorder.close()
            container.close()
        return had_media

    # -- decoding and checks -----------------------------------------------------------------------

    def _configure_decoder(self, video: av.video.stream.VideoStream) -> None:
        cc = video.codec_context
        cc.thread_type = "NONE"
        cc.thread_count = 1
        self.stats.codec = cc.name
        self.stats.width = cc.width or None
        self.stats.height = cc.height or None

    def _wants_decode(self, packet: av.Packet, mono: float) -> bool:
        mode = self.params.decode
        if mode == "off":
            return False
        if mode == "keyframes":
            return bool(packet.is_keyframe)
        return True  # sampled: every packet goes to the decoder, only some frames are analysed

    def _decode(self, video: Any, packet: av.Packet, mono: float, ms: int) -> None:
        try:
            frames = video.codec_context.decode(packet)
        except av.error.InvalidDataError:
            self.stats.drops += 1
            return
        for frame in frames:
            self.stats.decoded += 1
            self.stats.width, self.stats.height = frame.width, frame.height
            if self.params.decode == "sampled" and mono - self._last_sample_mono < 1.0 / self.params.sample_fps:
                continue
            self._last_sample_mono = mono
            y = _y_plane(frame)
            t = float(frame.time) if frame.time is not None else mono
            self._emit(self.analyzer.analyse(y, t, ms))
            if mono - self._last_snapshot_mono >= self.params.snapshot_interval_s:
                self._last_snapshot_mono = mono
                self._snapshot(frame, ms)

    def _snapshot(self, frame: av.VideoFrame, ms: int) -> None:
        w = self.params.snapshot_width
        h = max(2, round(frame.height * w / frame.width / 2) * 2)
        bgr = frame.reformat(width=w, height=h, format="bgr24").to_ndarray()
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.params.jpeg_quality])
        if ok:
            self.snapshots.put(self.camera, buf.tobytes(), ms)
            self._emit(SnapshotReady(self.camera, ms))

    def _emit(self, message: Any) -> None:
        self.out.put(message)


def _y_plane(frame: av.VideoFrame) -> np.ndarray:
    """The luma plane as a numpy view (no conversion); YUV frames only, others are converted."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "nv12", "gray"):
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    arr = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return arr[:, : plane.width]
