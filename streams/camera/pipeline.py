"""What happens to one camera's packets, whichever client read them (native RTSP or PyAV).

Per packet: statistics from the packet alone; the decode policy (keyframes | sampled | off); for an analysed
frame the checks, a snapshot at most every ``snapshot_interval_s`` and the sample's lag; then recording by
stream copy. Everything leaves through ``emit`` (a bounded, drop-oldest, counted channel upstream). Under
overload the process's shedder (streams/ingest/shed.py) thins the analysed keyframes and the snapshots; never
the statistics or the recording.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import av
import cv2
import numpy as np

from cctv.analysis.analyzer import Analyzer, CheckParams
from cctv.clock import Clock
from streams.camera.stats import PacketStats
from streams.ingest.lag import LagHistogram
from streams.recording.segment_writer import SegmentRecorder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PipelineParams:
    decode: str = "keyframes"  # keyframes | sampled | off
    sample_fps: float = 2.0
    stats_every_s: float = 1.0
    snapshot_width: int = 320
    snapshot_interval_s: float = 2.0
    jpeg_quality: int = 70


class Shed(Protocol):
    """What the pipeline asks of its process's shedder (streams/ingest/shed.py)."""

    level: int
    skipped_snapshots: int

    @property
    def snapshot_factor(self) -> int: ...

    def take_keyframe(self, count: int) -> bool: ...


class CameraPipeline:
    def __init__(
        self,
        camera: str,
        params: PipelineParams,
        checks: CheckParams,
        emit: Callable[[Any], None],
        on_snapshot: Callable[[str, bytes, int], None],
        clock: Clock,
        recorder: SegmentRecorder | None = None,
        lag: LagHistogram | None = None,
        shed: Shed | None = None,
    ) -> None:
        self.camera = camera
        self.shed = shed  # the ingest process's: how much analysis and how many snapshots it affords now
        self.params = params
        self.emit = emit
        self.on_snapshot = on_snapshot
        self.clock = clock
        self.recorder = recorder
        self.lag = lag
        self.stats = PacketStats(camera, params.decode)
        self.analyzer = Analyzer(camera, checks)
        self.samples = 0
        self._decoder: Any = None
        self._template: Any = None
        self._last_snapshot_mono = -1e9
        self._last_skip_mono = -1e9
        self._keyframes = 0
        self._last_sample_mono = -1e9
        self._last_stats_mono = -1e9
        self._lag_base: float | None = None

    # -- session -----------------------------------------------------------------------------------

    def begin(self, decoder: Any, template: Any, codec: str | None, width: int | None, height: int | None) -> None:
        """A session starts: ``decoder`` has ``decode(packet)``; ``template`` is what the recorder copies."""
        self._decoder, self._template = decoder, template
        self.stats.codec = codec
        self.stats.width, self.stats.height = width or None, height or None
        self._lag_base = None

    def end(self, had_media: bool) -> None:
        if had_media:  # the last packet's time, so an outage is dated from it, not from the last report
            self.emit(self.stats.snapshot(self.clock.monotonic(), self.clock.now_ms()))
        if self.recorder is not None:
            self.recorder.close()
        self._decoder = None

    def reconnecting(self) -> None:
        self.stats.on_reconnect()
        self.analyzer.reset()

    # -- packets -----------------------------------------------------------------------------------

    def on_packet(self, packet: av.Packet, pts_s: float | None) -> None:
        mono, ms = self.clock.monotonic(), self.clock.now_ms()
        key = bool(packet.is_keyframe)
        self.stats.on_packet(mono, ms, packet.size, key, pts_s)
        self.analyzer.note_packet(pts_s if pts_s is not None else mono)  # low-fps check
        mode = self.params.decode
        shed = self.shed
        if shed is not None and shed.level > 0 and mode == "sampled":
            mode = "keyframes"  # the first thing shed: frames between keyframes
        if key:
            self._keyframes += 1
        if mode == "sampled" or (mode == "keyframes" and key and (shed is None or shed.take_keyframe(self._keyframes))):
            self._decode(packet, mono, ms, pts_s)
        if self.recorder is not None:  # after decoding: muxing rescales the packet's timestamps
            self.recorder.on_packet(packet, self._template, ms)
        if mono - self._last_stats_mono >= self.params.stats_every_s or self.stats.packets == 1:
            self._last_stats_mono = mono
            self.emit(self.stats.snapshot(mono, ms))

    def _decode(self, packet: av.Packet, mono: float, ms: int, pts_s: float | None) -> None:
        try:
            frames = self._decoder.decode(packet)
        except (av.error.InvalidDataError, av.error.ValueError, ValueError):
            self.stats.drops += 1
            return
        for frame in frames:
            self.stats.decoded += 1
            self.stats.width, self.stats.height = frame.width, frame.height
            key = self.params.decode == "keyframes" or bool(frame.key_frame)
            # sampled: every keyframe (the frozen check compares keyframes only) and frames 1/sample_fps apart
            if not key and mono - self._last_sample_mono < 1.0 / self.params.sample_fps:
                continue
            self._last_sample_mono = mono
            t = float(frame.time) if frame.time is not None else (pts_s if pts_s is not None else mono)
            self.emit(self.analyzer.analyse(y_plane(frame), t, ms, key))
            self.samples += 1
            if self.lag is not None and pts_s is not None:
                self._note_lag(pts_s)
            every = self.params.snapshot_interval_s
            if mono - self._last_snapshot_mono >= every * (self.shed.snapshot_factor if self.shed else 1):
                self._last_snapshot_mono = mono
                self._snapshot(frame, ms)
            elif self.shed is not None and min(mono - self._last_snapshot_mono, mono - self._last_skip_mono) >= every:
                self._last_skip_mono = mono
                self.shed.skipped_snapshots += 1  # one a level-0 node would have made

    def _note_lag(self, pts_s: float) -> None:
        """Lag: how much later than its least-delayed frame this frame's analysis finished (docs/ingest.md)."""
        offset = self.clock.monotonic() - pts_s
        if self._lag_base is None or offset < self._lag_base:
            self._lag_base = offset
        assert self.lag is not None
        self.lag.add((offset - self._lag_base) * 1000.0)

    def _snapshot(self, frame: av.VideoFrame, ms: int) -> None:
        w = max(2, self.params.snapshot_width // 2 * 2)
        h = max(2, round(frame.height * w / frame.width / 2) * 2)
        bgr = small_bgr(frame, w, h)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.params.jpeg_quality])
        if ok:
            self.on_snapshot(self.camera, buf.tobytes(), ms)


def y_plane(frame: av.VideoFrame) -> np.ndarray:
    """The luma plane as a numpy view (no conversion); YUV frames only, others are converted."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "nv12", "gray"):
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    arr = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return arr[:, : plane.width]


def small_bgr(frame: av.VideoFrame, w: int, h: int) -> np.ndarray:
    """The frame scaled to ``w`` × ``h`` (even) in BGR, for a snapshot JPEG. A 4:2:0 frame is scaled plane by
    plane by OpenCV (area averaging) and converted at the small size: about a quarter of what swscale's
    ``reformat`` cost per snapshot, which was a quarter of a 300-camera node's CPU (py-spy, bench/fullload.py)."""
    if frame.format.name not in ("yuv420p", "yuvj420p") or frame.width % 2 or frame.height % 2:
        return frame.reformat(width=w, height=h, format="bgr24").to_ndarray()
    full = frame.format.name == "yuvj420p" or frame.color_range == 2  # JPEG range: 0-255, not 16-235
    y, u, v = (_plane(frame, i) for i in range(3))
    if full:  # OpenCV's full-range conversion takes interleaved Y, Cr, Cb at one size
        size = (w, h)
        ycrcb = cv2.merge([cv2.resize(y, size, interpolation=cv2.INTER_AREA),
                           cv2.resize(v, size, interpolation=cv2.INTER_AREA),
                           cv2.resize(u, size, interpolation=cv2.INTER_AREA)])
        return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)
    planes = [cv2.resize(p, size, interpolation=cv2.INTER_AREA).reshape(-1)
              for p, size in ((y, (w, h)), (u, (w // 2, h // 2)), (v, (w // 2, h // 2)))]
    return cv2.cvtColor(np.concatenate(planes).reshape(h * 3 // 2, w), cv2.COLOR_YUV2BGR_I420)


def _plane(frame: av.VideoFrame, i: int) -> np.ndarray:
    p = frame.planes[i]
    return np.frombuffer(p, dtype=np.uint8).reshape(p.height, p.line_size)[:, : p.width]
