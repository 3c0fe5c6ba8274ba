"""Runs this node's ingest processes, restarts the ones that die, and turns their messages into local events.

Cameras are dealt to ``n`` processes in config order (balanced to within one camera); on an ingest node among
many, cameras come and go while running (``set_cameras``: a new camera goes to the process with the fewest, a
camera taken away stops in its process, which says ``Released`` when its session is closed). Each process is
supervised: when it exits unasked, its cameras are reported disconnected (reason ``error``, "ingest process
exited"), the segments it may have left half-written are reconciled, and it is started again after a backoff.
Everything a process sends lands in the node's channel for the status machine (connection events on its
never-dropped lane, stats and samples on its bounded one), the snapshot store, or — segment rows — the bus
(``on_segment``), whose store writer indexes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cctv.clock import Clock
from cctv.config.models import Config
from cctv.status.channel import Channel
from cctv.status.messages import Reason, Snapshot, SnapshotReady, WorkerEvent
from cctv.status.snapshots import SnapshotStore
from cctv.store.segments import NewSegment
from streams.camera.backoff import Backoff
from streams.ingest.lag import EDGES_MS, percentile
from streams.ingest.protocol import Assign, Released, ShardHealth, ShardSpec, decode_length, encode

log = logging.getLogger(__name__)

CAMERAS_PER_PROC_MIN = 50
SILENT_S = 3.0  # a process reports its health every 2 s: this long without a frame, it stands still
HUNG_S = 60.0  # this long: it is hung; killed and restarted


def default_procs(cameras: int, cores: int | None = None) -> int:
    """One process per core, but no more than one per 50 cameras (a process costs ~60 MB and a core's share)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, -(-cameras // CAMERAS_PER_PROC_MIN)))


def deal(cameras: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(cameras[i::n]) for i in range(n)]


class ShardProcess:
    def __init__(self, index: int, cameras: tuple[str, ...]) -> None:
        self.index = index
        self.cameras: set[str] = set(cameras)  # what it watches (or will, once restarted)
        self.releasing: set[str] = set()  # taken away, not yet reported stopped
        self.proc: asyncio.subprocess.Process | None = None
        self.exits: list[int | None] = []
        self.health: ShardHealth | None = None
        self.lag_before_restart = [0] * len(EDGES_MS)
        self.totals_before_restart = {"samples": 0, "errors": 0, "packets": 0, "reconnects": 0}
        self.heard_mono: float | None = None  # when its last frame arrived (it sends its health every 2 s)
        self.excused_to_mono = 0.0  # its silence is excused for its cameras up to here
        self.stalls = 0
        self.stalled_s = 0.0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self.proc.stdin is not None


class ShardPool:
    """``dynamic``: an ingest node among many — ``procs`` processes from the start, cameras given and taken
    while running with :meth:`set_cameras` (``on_released`` hears when a camera taken away has stopped)."""

    def __init__(
        self,
        config: Config,
        cameras: list[str],
        procs: int,
        recordings_root: Path,
        channel: Channel[Any],
        snapshots: SnapshotStore,
        on_segment: Callable[[NewSegment], object],
        clock: Clock,
        reconcile: Callable[[tuple[str, ...]], Any] | None = None,
        log_level: str = "INFO",
        shard_module: str = "streams.ingest.shard",
        *,
        dynamic: bool = False,
        on_released: Callable[[str], object] | None = None,
    ) -> None:
        n = max(1, procs) if dynamic else (max(1, min(procs, len(cameras))) if cameras else 0)
        self.dump = config.model_dump(mode="json")
        self.recordings_root = str(recordings_root)
        self.log_level = log_level
        self.shards = [ShardProcess(i, share) for i, share in enumerate(deal(cameras, n))]
        self.channel = channel
        self.snapshots = snapshots
        self.on_segment = on_segment
        self.on_released = on_released
        self.clock = clock
        self.reconcile = reconcile
        self.shard_module = shard_module  # what each process runs (`python -m`): a benchmark's synthetic shard
        self.restarts = 0
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def cameras(self) -> list[str]:
        """Every camera the processes watch (or are about to), in no particular order."""
        return [c for s in self.shards for c in s.cameras]

    def set_cameras(self, cameras: Iterable[str]) -> None:
        """Watch exactly ``cameras`` from now on: each camera taken away stops in its process (then
        ``on_released``), each new one goes to the process with the fewest; the others stay where they are."""
        wanted = set(cameras)
        changed: set[int] = set()
        for s in self.shards:
            gone = s.cameras - wanted
            if gone:
                s.cameras -= gone
                changed.add(s.index)
                if s.running:
                    s.releasing |= gone
                else:  # nothing runs them now: stopped already
                    for cam in sorted(gone):
                        self._released(s, cam)
        have = {c for s in self.shards for c in s.cameras}
        for cam in sorted(wanted - have):
            # back where it is still stopping (never two sessions to one camera), else the least loaded
            s = next((x for x in self.shards if cam in x.releasing), None) or min(
                self.shards, key=lambda x: (len(x.cameras), x.index))
            s.releasing.discard(cam)
            s.cameras.add(cam)
            changed.add(s.index)
        for i in sorted(changed):
            self._send_assign(self.shards[i])

    def _send_assign(self, shard: ShardProcess) -> None:
        if shard.running:
            assert shard.proc is not None and shard.proc.stdin is not None
            with contextlib.suppress(ConnectionError, RuntimeError):  # it is exiting: restarted with its set
                shard.proc.stdin.write(encode(Assign(tuple(sorted(shard.cameras)))))

    def _released(self, shard: ShardProcess, camera: str) -> None:
        shard.releasing.discard(camera)
        if self.on_released is not None and camera not in shard.cameras:
            self.on_released(camera)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._supervise(s), name=f"ingest-proc-{s.index}")
                       for s in self.shards]

    async def stop(self, timeout: float = 8.0) -> None:
        """Close every process's stdin (they finish their segments and exit), then wait; kill what lingers."""
        self._stopping = True
        for s in self.shards:
            if s.proc is not None and s.proc.stdin is not None:
                with contextlib.suppress(Exception):
                    s.proc.stdin.close()
        done, pending = await asyncio.wait(self._tasks, timeout=timeout) if self._tasks else (set(), set())
        for s in self.shards:
            if s.proc is not None and s.proc.returncode is None:
                log.warning("ingest process %d did not stop in %g s; killing it", s.index, timeout)
                with contextlib.suppress(ProcessLookupError):
                    s.proc.kill()
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def _supervise(self, shard: ShardProcess) -> None:
        backoff = Backoff(1.0, 30.0)
        while not self._stopping:
            ran_well = await self._run_once(shard)
            if self._stopping:
                break
            self.restarts += 1
            code = shard.exits[-1] if shard.exits else None
            log.error("ingest process %d (%d cameras) exited with code %s; restarting", shard.index,
                      len(shard.cameras), code)
            for cam in sorted(shard.releasing):  # its sessions ended with it
                self._released(shard, cam)
            now = self.clock.now_ms()
            for cam in sorted(shard.cameras):
                self.channel.put_keep(WorkerEvent(cam, "disconnected", now, Reason.ERROR,
                                             f"ingest process exited (code {code}); restarting"))
            if self.reconcile is not None:
                try:
                    await self.reconcile(tuple(sorted(shard.cameras)))
                except Exception:  # noqa: BLE001 - start-up reconciliation will retry
                    log.exception("reconciling the recordings of ingest process %d failed", shard.index)
            if ran_well:
                backoff.reset()
            await asyncio.sleep(backoff.next_delay())

    async def _run_once(self, shard: ShardProcess) -> bool:
        """Run the process until it exits; True when it ran long enough to count as healthy."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.shard_module,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
            limit=1 << 20,
        )
        shard.proc = proc
        started = self.clock.monotonic()
        shard.heard_mono = started  # its silence counts from its start
        if shard.health is not None:  # keep the cumulative figures across restarts
            shard.lag_before_restart = [a + b for a, b in zip(shard.lag_before_restart, shard.health.lag_counts,
                                                               strict=False)]
            for k in shard.totals_before_restart:
                shard.totals_before_restart[k] += getattr(shard.health, k)
            shard.health = None
        assert proc.stdin is not None and proc.stdout is not None
        spec = ShardSpec(shard.index, self.dump, tuple(sorted(shard.cameras)), self.recordings_root,
                         self.log_level)
        try:
            proc.stdin.write(encode(spec))
            await proc.stdin.drain()
            if self._stopping:
                proc.stdin.close()
            await self._read(shard, proc.stdout)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, pickle.UnpicklingError) as exc:
            log.error("ingest process %d: broken message stream (%s)", shard.index, exc)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        code = await proc.wait()
        shard.exits.append(code)
        return self.clock.monotonic() - started > 30.0

    async def _read(self, shard: ShardProcess, stdout: asyncio.StreamReader) -> None:
        while True:
            try:
                head = await stdout.readexactly(4)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise
                return  # clean EOF
            body = await stdout.readexactly(decode_length(head))
            shard.heard_mono = self.clock.monotonic()
            for msg in pickle.loads(body):  # noqa: S301 - our own child process
                self._handle(shard, msg)

    def _handle(self, shard: ShardProcess, msg: Any) -> None:
        if isinstance(msg, Snapshot):
            self.snapshots.put(msg.camera, msg.jpeg, msg.t_ms)
            self.channel.put(SnapshotReady(msg.camera, msg.t_ms))
        elif isinstance(msg, NewSegment):
            self.on_segment(msg)
        elif isinstance(msg, ShardHealth):
            shard.health = msg
        elif isinstance(msg, WorkerEvent):
            self.channel.put_keep(msg)  # never dropped, on this side of the pipe either
        elif isinstance(msg, Released):
            self._released(shard, msg.camera)
        else:
            self.channel.put(msg)

    # -- a process that stands still ------------------------------------------------------------------

    def silent(self, now_mono: float) -> list[tuple[ShardProcess, float]]:
        """The running processes that sent nothing for ``SILENT_S`` or more (overloaded, paused), each with the
        part of its silence not excused yet (the whole of it, from its last frame): that time is the node's,
        not its cameras'. A process silent for ``HUNG_S`` is killed — the supervisor restarts it and reports
        its cameras disconnected (reason ``error``): a hung process is the node's fault, and says so."""
        out = []
        for s in self.shards:
            if not s.running or s.heard_mono is None or now_mono - s.heard_mono < SILENT_S:
                continue
            quiet = now_mono - s.heard_mono
            start = max(s.heard_mono, s.excused_to_mono)
            if s.excused_to_mono <= s.heard_mono:
                s.stalls += 1
                log.warning("ingest process %d sent nothing for %.1f s (overloaded or paused): its %d cameras "
                            "are not blamed for it", s.index, quiet, len(s.cameras))
            if now_mono > start:
                out.append((s, now_mono - start))
                s.stalled_s += now_mono - start
                s.excused_to_mono = now_mono
            if quiet >= HUNG_S and s.proc is not None:
                log.error("ingest process %d sent nothing for %.0f s: killing it (it is restarted)", s.index, quiet)
                with contextlib.suppress(ProcessLookupError):
                    s.proc.kill()
                s.heard_mono = None
        return out

    # -- figures -----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        hs = [(s, s.health) for s in self.shards]
        lag = [0] * len(EDGES_MS)
        totals = {"samples": 0, "errors": 0, "packets": 0, "reconnects": 0}
        for s, h in hs:
            lag = [a + b for a, b in zip(lag, s.lag_before_restart, strict=False)]
            for k in totals:
                totals[k] += s.totals_before_restart[k]
            if h is not None:
                lag = [a + b for a, b in zip(lag, h.lag_counts, strict=False)]
                for k in totals:
                    totals[k] += getattr(h, k)
        live = [h for _, h in hs if h is not None]
        rec = [h.recording for h in live]
        return {
            "procs": len(self.shards),
            "procs_alive": sum(1 for s in self.shards if s.proc is not None and s.proc.returncode is None),
            "proc_restarts": self.restarts,
            "proc_pids": [s.proc.pid if s.proc is not None and s.proc.returncode is None else None
                          for s in self.shards],
            "workers": sum(len(s.cameras) for s in self.shards),
            "releasing": sum(len(s.releasing) for s in self.shards),
            "proc_stalls": sum(s.stalls for s in self.shards),  # a process that sent nothing for SILENT_S
            "proc_stalled_s": round(sum(s.stalled_s for s in self.shards), 1),
            "cameras_receiving": sum(h.receiving for h in live),
            "samples_analysed": totals["samples"],
            "packets": totals["packets"],
            "reconnects": totals["reconnects"],
            "errors": totals["errors"],
            "auth_breakers_open": sum(h.auth_breakers_open for h in live),
            "proc_channel_dropped": sum(h.dropped for h in live),
            "lag_edges_ms": [e if e != float("inf") else None for e in EDGES_MS],
            "lag_hist_ms": lag,
            "lag_ms_p50": _finite(percentile(lag, 0.5)),
            "lag_ms_p99": _finite(percentile(lag, 0.99)),
            "clients": {k: sum(h.clients.get(k, 0) for h in live) for k in ("native", "ffmpeg")},
            "recording_cameras": sum(r.get("cameras", 0) for r in rec),
            "recording_segments": sum(r.get("segments", 0) for r in rec),
            "recording_dropped_packets": sum(r.get("dropped_packets", 0) for r in rec),
            "recording_errors": sum(r.get("errors", 0) for r in rec),
            "recording_queue_dropped": sum(r.get("queue_dropped", 0) for r in rec),
            "recording_queue_overflows": sum(r.get("queue_overflows", 0) for r in rec),
            "recording_queue_packets": sum(r.get("queue_packets", 0) for r in rec),
            "recording_paused": self.recording_paused(),
            # a node that bends (streams/ingest/shed.py): the worst process's level, and the work it skipped
            "shed_level": self.shed_level,
            "overloaded": self.shed_level > 0,
            "shed_keyframes": sum(h.shed.get("skipped_keyframes", 0) for h in live),
            "shed_snapshots": sum(h.shed.get("skipped_snapshots", 0) for h in live),
            "loop_delay_ms_max": max((h.shed.get("loop_delay_ms_max", 0.0) for h in live), default=0.0),
        }

    @property
    def shed_level(self) -> int:
        """The highest shed level among the processes' last reports (streams/ingest/shed.py): 0, not shedding."""
        return max((s.health.shed.get("shed_level", 0) for s in self.shards if s.health is not None), default=0)

    def recording_paused(self) -> list[str]:
        """Cameras whose recording is paused right now (disk full), from the ingest processes' last reports."""
        live = [s.health for s in self.shards if s.health is not None]
        return sorted({c for h in live for c in h.recording.get("paused", [])})


def _finite(x: float | None) -> float | None:
    return None if x is None or x == float("inf") else x
