"""An ingest process: a share of this node's cameras on one asyncio event loop (``python -m streams.ingest.shard``).

Started by ``streams.ingest.pool.ShardPool``; reads one ``ShardSpec`` frame on stdin, then ``Assign`` frames
when its share of cameras changes (cameras taken away stop and are reported ``Released``; new ones start);
writes message frames on its own copy of stdout (fd 1 then points at stderr, so a stray print cannot corrupt
the stream), and logs to stderr. It stops when stdin closes — the parent's way of saying stop, and what happens when the parent
dies — finishing open recording segments first.

Cameras the native RTSP client reads (RTSP over TCP) share the event loop; others get a PyAV worker thread.
Everything goes up through one :class:`~cctv.status.channel.Channel`: connection events and recorded segments
on its keep lane (never dropped: they are few, and losing one would mislead the status or the index), samples,
stats and snapshots on its bounded, drop-oldest, counted lane — in the order they happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import sys
import time
from pathlib import Path
from typing import Any

from cctv.clock import SystemClock
from cctv.config.models import Config
from cctv.sites import CameraSite, Sites
from cctv.status.channel import Channel, droppable_bound
from cctv.status.messages import Reason, Snapshot, WorkerEvent
from streams.camera.backoff import Backoff
from streams.camera.breaker import AuthBreaker
from streams.camera.native import NativeCamera
from streams.camera.opener import PyAVRtspOpener
from streams.camera.params import check_params, config_cameras, worker_params
from streams.camera.pipeline import CameraPipeline
from streams.camera.thread_worker import CameraWorker
from streams.ingest.lag import LagHistogram
from streams.ingest.protocol import Assign, Released, ShardHealth, ShardSpec, decode_length, encode
from streams.ingest.shed import PROBE_S, Shedder
from streams.recording.segment_writer import SegmentRecorder
from streams.recording.writer_thread import SegmentWriterThread
from streams.rtsp.session import SessionParams

log = logging.getLogger("streams.ingest.shard")

HEALTH_EVERY_S = 2.0
WRITER_DRAIN_S = 1.5  # at stop: queued packets written for this long, then dropped; segments always finished
RECEIVING_WITHIN_S = 5.0


def uses_native(cam: CameraSite, config: Config) -> bool:
    ing = config.ingest
    return ing.client == "native" and ing.transport == "tcp" and cam.url.lower().startswith("rtsp://")


class Shard:
    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        self.config = Config.model_validate(spec.config)
        self.clock = SystemClock()
        self.sites = {c.path: c for c in Sites(self.config).cameras}
        self.models = config_cameras(self.config)
        bound_for = max(len(spec.cameras), self.config.node.capacity or 0, 1)
        self.out: Channel[Any] = Channel(droppable_bound(self.config.ingest.queue_size, bound_for))
        self.lag = LagHistogram()
        self.shed = Shedder()
        self.native: dict[str, NativeCamera] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.threads: dict[str, CameraWorker] = {}
        self._removing: dict[str, asyncio.Task[None]] = {}
        self.errors = 0
        self.refused = 0  # cameras an Assign named that the inventory does not have (or has disabled)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        # every disk step of recording, for all cameras of this process (native and PyAV ones alike)
        self.writer = SegmentWriterThread(self.config.recording.writer_queue_packets)

    # -- cameras -----------------------------------------------------------------------------------

    @property
    def cameras(self) -> set[str]:
        return set(self.native) | set(self.threads)

    def _add(self, path: str) -> None:
        """Start watching ``path`` (on the loop)."""
        cam = self.sites.get(path)
        if cam is None or not cam.enabled:
            self.refused += 1
            log.warning("ingest process %d: camera %s is not in the inventory (or disabled); not started",
                        self.spec.index, path)
            return
        cfg, ing, rec = self.config, self.config.ingest, self.config.recording
        wp = worker_params(cfg, cam.decode)
        recorder = (SegmentRecorder(cam.path, Path(self.spec.recordings_root), self._important, rec.segment_s,
                                    rec.disk_full_retry_s, writer=self.writer)
                    if rec.enabled and cam.record else None)
        checks = check_params(cfg, self.models.get(cam.path))
        if uses_native(cam, cfg):
            pipeline = CameraPipeline(cam.path, wp.pipeline(), checks, self._emit, self._snapshot, self.clock,
                                      recorder, self.lag, self.shed)
            native = NativeCamera(
                cam.path, cam.url, SessionParams(ing.connect_timeout_s, ing.stall_timeout_s), pipeline,
                self._emit, self.clock, Backoff(ing.backoff_initial_s, ing.backoff_max_s),
                AuthBreaker(ing.auth_failures_to_open, ing.auth_retry_s),
            )
            self.native[path] = native
            self.tasks[path] = asyncio.create_task(self._run_native(native), name=f"cam:{path}")
        else:
            worker = self._thread_worker(cam.path, cam.url, wp, checks, recorder)
            self.threads[path] = worker
            worker.start()

    async def _remove(self, path: str) -> None:
        """Stop watching ``path``: its session closes and its segment is queued to be finished; then say so."""
        native, task = self.native.pop(path, None), self.tasks.pop(path, None)
        if native is not None:
            native.stop()
        if task is not None:
            _, pending = await asyncio.wait([task], timeout=3.0)
            for t in pending:
                t.cancel()
                await asyncio.wait([t], timeout=1.0)
        worker = self.threads.pop(path, None)
        if worker is not None:
            worker.stop()
            await asyncio.get_running_loop().run_in_executor(None, worker.join, 3.0)
        self._important(Released(path))

    async def assign(self, cameras: tuple[str, ...]) -> None:
        """Watch exactly ``cameras`` from now on: stop the others (in parallel), start the new ones."""
        wanted = set(cameras)
        for path in sorted(self.cameras - wanted):
            if path not in self._removing:
                self._removing[path] = asyncio.create_task(self._remove(path), name=f"stop:{path}")
        for path in sorted(wanted - self.cameras):
            pending = self._removing.get(path)
            if pending is not None:  # taken away and given back at once: the old session ends first
                await pending
            self._add(path)
        self._removing = {p: t for p, t in self._removing.items() if not t.done()}

    def _thread_worker(self, path: str, url: str, wp: Any, checks: Any, recorder: Any) -> CameraWorker:
        return CameraWorker(path, url, PyAVRtspOpener(), wp, checks, self.out, None, self.clock, recorder,
                            on_snapshot=self._snapshot, lag=self.lag, shed=self.shed)

    async def _run_native(self, cam: NativeCamera) -> None:
        await cam.run()
        if cam.unsupported and not self._stopping and self.native.get(cam.camera) is cam:
            # e.g. an MJPEG camera: FFmpeg's client reads it
            p = cam.pipeline
            worker = self._thread_worker(cam.camera, cam._url, worker_params(self.config, p.params.decode),
                                         p.analyzer.params, p.recorder)
            del self.native[cam.camera]
            self.tasks.pop(cam.camera, None)
            self.threads[cam.camera] = worker
            worker.start()

    def _emit(self, message: Any) -> None:
        if isinstance(message, WorkerEvent):
            if message.kind == "disconnected" and not self._stopping and message.reason != Reason.EOF:
                self.errors += 1
            self._important(message)
        else:
            self.out.put(message)

    def _important(self, message: Any) -> None:
        self.out.put_keep(message)  # from the loop or (NewSegment, WorkerEvent) a worker thread

    def _snapshot(self, camera: str, jpeg: bytes, ms: int) -> None:
        self.out.put(Snapshot(camera, ms, jpeg))

    # -- running -----------------------------------------------------------------------------------

    async def run(self, writer: asyncio.StreamWriter, stdin: asyncio.StreamReader) -> None:
        self._loop = asyncio.get_running_loop()
        self.out.bind(self._loop)
        self.writer.start()
        for path in self.spec.cameras:
            self._add(path)
        log.info("ingest process %d: %d cameras (%d native, %d ffmpeg)", self.spec.index,
                 len(self.native) + len(self.threads), len(self.native), len(self.threads))
        uplink = asyncio.create_task(self._uplink(writer), name="uplink")
        health = asyncio.create_task(self._health(), name="health")
        probe = asyncio.create_task(self._probe_loop(), name="loop-probe")
        await self._commands(stdin)  # until EOF: the parent wants us to stop (or is gone)
        self._stopping = True
        for c in self.native.values():
            c.stop()
        cams = list(self.tasks.values()) + list(self._removing.values())
        if cams:
            await asyncio.wait(cams, timeout=3.0)
        for t in cams:
            t.cancel()
        for w in self.threads.values():
            w.stop()
        await asyncio.get_running_loop().run_in_executor(None, self._join_threads)
        if cams:  # a cancelled camera queues the finish of its segment as it unwinds
            await asyncio.wait(cams, timeout=1.0)
        # every recorder has queued its finish: write and finish it all before the rows go up and we exit
        await asyncio.get_running_loop().run_in_executor(None, self.writer.close, WRITER_DRAIN_S)
        health.cancel()
        probe.cancel()
        self.out.put(self.health())
        self.out.close()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await asyncio.wait_for(uplink, 5.0)

    async def _commands(self, stdin: asyncio.StreamReader) -> None:
        """``Assign`` frames from the parent until its end of the pipe closes."""
        while True:
            try:
                head = await stdin.readexactly(4)
                body = await stdin.readexactly(decode_length(head))
            except asyncio.IncompleteReadError:
                return
            msg = pickle.loads(body)  # noqa: S301 - from our own parent process over a pipe
            if isinstance(msg, Assign):
                try:
                    await self.assign(msg.cameras)
                except Exception:  # noqa: BLE001 - the cameras it could start run; the next Assign retries
                    log.exception("ingest process %d: applying a new share of cameras failed", self.spec.index)
            else:
                log.error("ingest process %d: unexpected %s from the parent; ignored", self.spec.index,
                          type(msg).__name__)

    def _join_threads(self) -> None:
        deadline = time.monotonic() + 3.0
        for w in self.threads.values():
            w.join(max(0.0, deadline - time.monotonic()))

    async def _uplink(self, writer: asyncio.StreamWriter) -> None:
        """Everything the channel holds, one frame at a time, until it is closed and empty."""
        while batch := await self.out.get_batch():
            writer.write(encode(batch))
            await writer.drain()

    async def _probe_loop(self) -> None:
        """How late this process's loop runs: what the shedder decides from."""
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(PROBE_S)
            now = loop.time()
            self.shed.observe((now - t0 - PROBE_S) * 1000.0, now)

    async def _health(self) -> None:
        while True:
            self.out.put(self.health())
            await asyncio.sleep(HEALTH_EVERY_S)

    def health(self) -> ShardHealth:
        now = time.monotonic()
        pipes = [c.pipeline for c in self.native.values()] + [w.pipeline for w in self.threads.values()]
        stats = [p.stats for p in pipes]
        recs = [p.recorder.stats for p in pipes if p.recorder is not None]
        return ShardHealth(
            index=self.spec.index,
            pid=os.getpid(),
            cameras=len(pipes),
            receiving=sum(1 for s in stats if s.last_packet_mono is not None
                          and now - s.last_packet_mono <= RECEIVING_WITHIN_S),
            packets=sum(s.packets for s in stats),
            samples=sum(p.samples for p in pipes),
            reconnects=sum(s.reconnects for s in stats),
            errors=self.errors,
            auth_breakers_open=sum(1 for c in self.native.values() if c.breaker.open),
            dropped=self.out.dropped,
            lag_counts=list(self.lag.counts),
            recording={
                "cameras": len(recs),
                "segments": sum(r.segments for r in recs),
                "dropped_packets": sum(r.dropped_packets for r in recs),
                "errors": sum(r.errors for r in recs),
                "queue_dropped": sum(r.queue_dropped for r in recs),
                "queue_overflows": sum(r.queue_overflows for r in recs),
                "queue_packets": self.writer.queued_packets,
                "paused": sorted({p.camera for p in pipes if p.recorder is not None and p.recorder.stats.paused}),
            },
            clients={"native": len(self.native), "ffmpeg": len(self.threads)},
            shed=self.shed.report(),
        )


def _read_exact(fd: int, n: int) -> bytes:
    """Exactly ``n`` bytes from ``fd``, unbuffered: what follows the spec (``Assign`` frames) stays in the pipe for
    the event loop to read."""
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise SystemExit("streams.ingest.shard: stdin closed before a whole ShardSpec arrived")
        out += chunk
    return out


def _read_spec() -> ShardSpec:
    body = _read_exact(0, decode_length(_read_exact(0, 4)))
    spec = pickle.loads(body)  # noqa: S301 - from our own parent process over a pipe
    if not isinstance(spec, ShardSpec):
        raise SystemExit("streams.ingest.shard: expected a ShardSpec on stdin")
    return spec


async def _amain(spec: ShardSpec, frames_fd: int) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # the parent decides; it closes our stdin to stop us
        loop.add_signal_handler(sig, lambda: None)
    w_transport, w_protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(loop), os.fdopen(frames_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await Shard(spec).run(writer, reader)
    writer.close()


def main() -> None:
    from cctv.logs import setup_logging

    frames_fd = os.dup(1)
    os.dup2(2, 1)  # print() and C libraries writing to stdout land in the log, not in the frame stream
    spec = _read_spec()
    setup_logging(spec.log_level)
    asyncio.run(_amain(spec, frames_fd))


if __name__ == "__main__":
    main()
