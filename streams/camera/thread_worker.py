"""A supervised thread per camera over FFmpeg's demuxer (PyAV): files, UDP, codecs the native client lacks.

RTSP over TCP — the default — goes through the native asyncio client instead (``streams.rtsp``,
``streams.ingest.shard``); this path is for what that client does not speak, and for `cctv analyze`-style reads of
files. ``run()`` loops over ``run_once()``; a failure is classified (reason code), logged, reported as a
``WorkerEvent``, and followed by an exponential backoff with jitter (reset after a session that delivered
media). The stall watchdog here is PyAV's read timeout (a per-I/O interrupt callback: fine for a few cameras,
the reason the native client exists — docs/ingest.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cctv.analysis.analyzer import CheckParams
from cctv.clock import Clock
from cctv.redact import redact_url
from cctv.status.channel import Channel
from cctv.status.messages import Reason, SnapshotReady, WorkerEvent
from cctv.status.snapshots import SnapshotStore
from streams.camera.backoff import Backoff
from streams.camera.opener import OpenError, OpenParams, StreamOpener, classify, safe_message
from streams.camera.pipeline import CameraPipeline, PipelineParams, Shed
from streams.ingest.lag import LagHistogram
from streams.recording.segment_writer import SegmentRecorder

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
    extra: dict[str, Any] = field(default_factory=dict)

    def pipeline(self) -> PipelineParams:
        return PipelineParams(self.decode, self.sample_fps, self.stats_every_s, self.snapshot_width,
                              self.snapshot_interval_s, self.jpeg_quality)


class CameraWorker:
    def __init__(
        self,
        camera: str,
        url: str,
        opener: StreamOpener,
        params: WorkerParams,
        checks: CheckParams,
        out: Channel[Any],
        snapshots: SnapshotStore | None,
        clock: Clock,
        recorder: SegmentRecorder | None = None,
        on_snapshot: Callable[[str, bytes, int], None] | None = None,
        lag: LagHistogram | None = None,
        shed: Shed | None = None,
    ) -> None:
        self.camera = camera
        self._url = url  # secret: never logged; use self.url_redacted
        self.url_redacted = redact_url(url)
        self.opener = opener
        self.params = params
        self.out = out
        self.snapshots = snapshots
        self.clock = clock
        self.pipeline = CameraPipeline(camera, params.pipeline(), checks, self._emit,
                                       on_snapshot or self._store_snapshot, clock, recorder, lag, shed)
        self.backoff = Backoff(params.backoff_initial_s, params.backoff_max_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str = ""

    @property
    def stats(self):  # type: ignore[no-untyped-def]
        return self.pipeline.stats

    @property
    def recorder(self) -> SegmentRecorder | None:
        return self.pipeline.recorder

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
            self.pipeline.reconnecting()

    def run_once(self) -> bool:
        """One session: open, read until the stream ends or stalls. Returns whether media arrived."""
        container = self.opener.open(self._url, self.params.open)
        had_media = False
        try:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise OpenError(Reason.DECODE, "no video stream")
            cc = video.codec_context
            cc.thread_type = "NONE"
            cc.thread_count = 1
            self.pipeline.begin(cc, video, cc.name, cc.width, cc.height)
            self._emit(WorkerEvent(self.camera, "connected", self.clock.now_ms()))
            time_base = video.time_base
            for packet in container.demux(video):
                if self._stop.is_set():
                    break
                if packet.size == 0:  # demuxer flush packet
                    continue
                had_media = True
                pts_s = float(packet.pts * time_base) if packet.pts is not None and time_base else None
                self.pipeline.on_packet(packet, pts_s)
        finally:
            self.pipeline.end(had_media)
            container.close()
        return had_media

    def _store_snapshot(self, camera: str, jpeg: bytes, ms: int) -> None:
        if self.snapshots is not None:
            self.snapshots.put(camera, jpeg, ms)
            self._emit(SnapshotReady(camera, ms))

    def _emit(self, message: Any) -> None:
        if isinstance(message, WorkerEvent):
            self.out.put_keep(message)  # a lost connection event would be a wrong state
        else:
            self.out.put(message)
