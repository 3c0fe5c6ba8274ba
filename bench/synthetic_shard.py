"""A synthetic ingest process for the web benchmark: the real pipe, no RTSP (``python -m bench.synthetic_shard``).

Started by ``streams.shard_pool.ShardPool`` when the node is built with
``IngestNode(..., shard_module="bench.synthetic_shard")``. It speaks streams/shard.py's protocol: one
``ShardSpec`` frame on stdin; length-prefixed pickled lists of messages on its own copy of stdout (fd 1 then
points at stderr); ``ShardHealth`` every 2 s; it stops when stdin closes.

What it sends (``SyntheticCity``, a pure function of a seeded RNG and the times it is stepped at):

- every camera: ``connected`` then ``StreamStats`` with growing ``packets`` every ``stats_every_s`` (phases
  spread evenly, so a 30,000-camera city sends a steady stream, as the real pipeline does — it sends one a
  second per camera, plus a sample per analysed keyframe, so this is the lighter side of real);
- once changes are started (SIGUSR1, until SIGUSR2): ``changes_per_s`` status changes a second on random idle
  cameras, half of them through a connection loss (``disconnected``/refused, no packets until the camera has
  gone offline, then ``connected`` and packets: two changes) and half through the picture (black samples
  until it is degraded, then clean samples until it recovers: two changes); ``motion_per_s`` motion samples.

Parameters: ``$CCTV_BENCH_SYNTH`` (JSON of ``SynthParams`` fields). Progress, the actions it took (wall ms,
camera, kind) and a final report (its own CPU, how far behind its schedule it fell) are JSON lines appended
to ``$CCTV_BENCH_SYNTH_REPORT``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import json
import logging
import os
import pickle
import random
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

# project internals (update here after a module move)
from bench.child_io import stdin_reader
from cctv.status.messages import CameraSample, Reason, StreamStats, WorkerEvent
from streams.ingest.protocol import ShardHealth, ShardSpec, decode_length, encode

log = logging.getLogger("bench.synthetic_shard")

TICK_S = 0.05
HEALTH_EVERY_S = 2.0
PROGRESS_EVERY_S = 1.0
BLACK = frozenset({Reason.BLACK.value})
OK, DOWN, FLAGGED, RECOVERING = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class SynthParams:
    seed: int = 1
    stats_every_s: float = 2.0
    changes_per_s: float = 20.0  # status changes (each action makes two: bad, then good again)
    motion_per_s: float = 1.0
    sample_every_s: float = 1.0  # flagged / clean samples while a camera degrades / recovers
    offline_after_s: float = 10.0  # the node's status config: how long each bad spell must last
    degraded_after_s: float = 4.0
    recover_after_s: float = 4.0

    @property
    def offline_hold_s(self) -> float:  # no packets for longer than offline_after_s, plus a tick or two
        return self.offline_after_s + self.stats_every_s + 3.0

    @property
    def flagged_hold_s(self) -> float:
        return self.degraded_after_s + 2 * self.sample_every_s + 1.0

    @property
    def recover_hold_s(self) -> float:
        return self.recover_after_s + 2 * self.sample_every_s + 0.5


class SyntheticCity:
    """The messages of a city of cameras, produced by ``step(mono, ms)``; pure but for the seeded RNG."""

    def __init__(self, cameras: list[str] | tuple[str, ...], params: SynthParams, mono: float) -> None:
        self.cameras = list(cameras)
        self.p = params
        self.rng = random.Random(params.seed)
        n = len(self.cameras)
        self.packets = [0] * n
        self.mode = [OK] * n
        self.flag_end = [0.0] * n
        self.rec_end = [0.0] * n
        self.total_packets = 0
        self._t0 = mono
        self._slots = 0  # stats slots emitted; slot s is camera s % n, due at t0 + s * stats_every_s / n
        self._heap: list[tuple[float, int, int, str]] = []
        self._seq = 0
        self._next_change: float | None = None
        self._next_motion: float | None = None
        self.actions: list[tuple[int, str, str]] = []  # (wall ms, camera, kind) not yet taken by the caller
        self.counts = {"down": 0, "up": 0, "flag": 0, "clear": 0, "motion": 0, "stats": 0, "samples": 0,
                       "skipped_busy": 0}

    # -- control -------------------------------------------------------------------------------------

    def start_changes(self, mono: float) -> None:
        self._next_change = mono
        self._next_motion = mono + (1 / self.p.motion_per_s if self.p.motion_per_s > 0 else 0)

    def stop_changes(self) -> None:
        self._next_change = self._next_motion = None

    @property
    def changing(self) -> bool:
        return self._next_change is not None

    @property
    def down(self) -> int:
        return sum(1 for m in self.mode if m == DOWN)

    # -- the messages --------------------------------------------------------------------------------

    def step(self, mono: float, ms: int) -> list[Any]:
        out: list[Any] = []
        self._stats(mono, ms, out)
        while self._heap and self._heap[0][0] <= mono:
            _, _, j, kind = heapq.heappop(self._heap)
            getattr(self, f"_on_{kind}")(j, mono, ms, out)
        if self._next_change is not None and self.p.changes_per_s > 0:
            every = 2 / self.p.changes_per_s  # one action = two changes
            while self._next_change <= mono:
                self._start_action(mono, ms, out)
                self._next_change += every
        if self._next_motion is not None and self.p.motion_per_s > 0:
            while self._next_motion <= mono:
                j = self._idle_camera()
                if j is not None:
                    self.counts["motion"] += 1
                    out.append(self._sample(j, ms, motion=True))
                self._next_motion += 1 / self.p.motion_per_s
        return out

    def _stats(self, mono: float, ms: int, out: list[Any]) -> None:
        n = len(self.cameras)
        if not n:
            return
        due = int((mono - self._t0) * n / self.p.stats_every_s) + 1
        self._slots = max(self._slots, due - n)  # far behind: each camera once, not a burst of old slots
        per = max(1, round(12.5 * self.p.stats_every_s))
        for s in range(self._slots, due):
            j = s % n
            if self.mode[j] == DOWN:
                continue
            if self.packets[j] == 0:
                out.append(WorkerEvent(self.cameras[j], "connected", ms))
            self.packets[j] += per
            self.total_packets += per
            out.append(self._stream_stats(j, ms))
        self._slots = due

    def _stream_stats(self, j: int, ms: int) -> StreamStats:
        self.counts["stats"] += 1
        pk = self.packets[j]
        return StreamStats(self.cameras[j], ms, 12.5, 512_000.0, 2.0, ms, 0, pk, pk // 25, pk // 25, 0,
                           1280, 720, "h264", "keyframes")

    def _sample(self, j: int, ms: int, *, flags: frozenset[str] = frozenset(), motion: bool = False) -> CameraSample:
        self.counts["samples"] += 1
        if flags:
            return CameraSample(self.cameras[j], ms, 0.0, False, 4.0, 1.0, 0.1, flags)
        return CameraSample(self.cameras[j], ms, 9.5 if motion else 0.2, motion, 112.0, 41.0, 3.0)

    def _idle_camera(self) -> int | None:
        n = len(self.cameras)
        for _ in range(32):
            j = self.rng.randrange(n)
            if self.mode[j] == OK and self.packets[j]:
                return j
        self.counts["skipped_busy"] += 1
        return None

    def _schedule(self, due: float, j: int, kind: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, j, kind))

    def _start_action(self, mono: float, ms: int, out: list[Any]) -> None:
        j = self._idle_camera()
        if j is None:
            return
        if self.rng.random() < 0.5:
            self.mode[j] = DOWN
            self._took(ms, j, "down")
            out.append(WorkerEvent(self.cameras[j], "disconnected", ms, Reason.REFUSED.value, "connection refused"))
            self._schedule(mono + self.p.offline_hold_s, j, "up")
        else:
            self.mode[j] = FLAGGED
            self.flag_end[j] = mono + self.p.flagged_hold_s
            self.rec_end[j] = self.flag_end[j] + self.p.recover_hold_s
            self._took(ms, j, "flag")
            self._on_sample(j, mono, ms, out)

    def _took(self, ms: int, j: int, kind: str) -> None:
        self.counts[kind] += 1
        self.actions.append((ms, self.cameras[j], kind))

    def _on_up(self, j: int, mono: float, ms: int, out: list[Any]) -> None:
        self.mode[j] = OK
        self._took(ms, j, "up")
        out.append(WorkerEvent(self.cameras[j], "connected", ms))
        self.packets[j] += 1
        self.total_packets += 1
        out.append(self._stream_stats(j, ms))

    def _on_sample(self, j: int, mono: float, ms: int, out: list[Any]) -> None:
        if mono < self.flag_end[j]:
            out.append(self._sample(j, ms, flags=BLACK))
        else:
            if self.mode[j] == FLAGGED:
                self.mode[j] = RECOVERING
                self._took(ms, j, "clear")
            out.append(self._sample(j, ms))
        nxt = mono + self.p.sample_every_s
        if nxt < self.rec_end[j]:
            self._schedule(nxt, j, "sample")
        else:
            self.mode[j] = OK


# -- the process -------------------------------------------------------------------------------------


class _Lag:
    """How late each tick of the schedule ran, in ms."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def add(self, ms: float) -> None:
        if len(self.values) < 200_000:
            self.values.append(ms)

    def summary(self) -> dict[str, Any]:
        v = sorted(self.values)
        if not v:
            return {"ticks": 0}
        def q(x: float) -> float:
            return round(v[min(len(v) - 1, int(x * (len(v) - 1)))], 1)
        return {"ticks": len(v), "lag_ms_p50": q(0.5), "lag_ms_p99": q(0.99), "lag_ms_max": round(v[-1], 1),
                "behind": v[-1] > 1000 or q(0.99) > 250}


class _Process:
    def __init__(self, spec: ShardSpec, params: SynthParams, report: str | None) -> None:
        self.spec = spec
        self.city = SyntheticCity(spec.cameras, params, time.monotonic())
        self.params = params
        self.report_path = report
        self.lag = _Lag()
        self.messages = self.frames = self.bytes = 0
        self._cpu0, self._mono0 = time.process_time(), time.monotonic()  # until changes start: since start
        self._window: dict[str, Any] = {}
        self.stopping = False

    def _write(self, record: dict[str, Any]) -> None:
        if self.report_path:
            with open(self.report_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def start(self) -> None:
        if not self.city.changing:
            self.lag = _Lag()
            self._cpu0, self._mono0 = time.process_time(), time.monotonic()
            self.city.start_changes(time.monotonic())
            log.info("synthetic shard: changes started (%g/s)", self.params.changes_per_s)

    def stop(self) -> None:
        if self.city.changing:
            self.city.stop_changes()
            self._window = self.summary()
            self._write({"event": "window", **self._window})

    def summary(self) -> dict[str, Any]:
        wall = max(1e-9, time.monotonic() - self._mono0)
        return {
            "pid": os.getpid(), "cameras": len(self.city.cameras), "seconds": round(wall, 1),
            "cpu_pct": round(100 * (time.process_time() - self._cpu0) / wall, 1),
            "messages": self.messages, "frames": self.frames, "bytes": self.bytes,
            **self.city.counts, **self.lag.summary(),
        }

    def health(self) -> ShardHealth:
        c = self.city
        return ShardHealth(self.spec.index, os.getpid(), len(c.cameras), len(c.cameras) - c.down,
                           c.total_packets, c.counts["samples"], c.counts["up"], 0, 0, 0,
                           [], {}, {"native": len(c.cameras), "ffmpeg": 0})

    async def send(self, writer: asyncio.StreamWriter, batch: list[Any]) -> None:
        frame = encode(batch)
        self.messages += len(batch)
        self.frames += 1
        self.bytes += len(frame)
        writer.write(frame)
        await writer.drain()  # a main process that does not read makes this shard late, and it says so

    async def run(self, writer: asyncio.StreamWriter) -> None:
        self._write({"event": "started", "pid": os.getpid(), "cameras": len(self.city.cameras),
                     "params": dataclasses.asdict(self.params)})
        start = time.monotonic()
        next_health = next_progress = start
        k = 0
        while not self.stopping:
            k += 1
            due = start + k * TICK_S
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = time.monotonic()
            if self.city.changing:
                self.lag.add((now - due) * 1000)
            batch = self.city.step(now, int(time.time() * 1000))
            if now >= next_health:
                batch.append(self.health())
                next_health += HEALTH_EVERY_S
            if batch:
                await self.send(writer, batch)
            if now >= next_progress:
                next_progress += PROGRESS_EVERY_S
                if self.city.actions:
                    self._write({"event": "actions", "items": self.city.actions})
                    self.city.actions = []
                if self.city.changing:
                    self._write({"event": "progress", **self.summary()})
        await self.send(writer, [self.health()])  # a whole last frame: the parent reads until EOF


def _read_spec() -> ShardSpec:
    raw = sys.stdin.buffer.read(4)
    spec = pickle.loads(sys.stdin.buffer.read(decode_length(raw)))  # noqa: S301 - our own parent, over a pipe
    if not isinstance(spec, ShardSpec):
        raise SystemExit("bench.synthetic_shard: expected a ShardSpec on stdin")
    return spec


def params_for(spec: ShardSpec, env: dict[str, str]) -> SynthParams:
    st = spec.config.get("status", {})
    fields = {k: st[k] for k in ("offline_after_s", "degraded_after_s", "recover_after_s") if k in st}
    return SynthParams(**{**fields, **json.loads(env.get("CCTV_BENCH_SYNTH") or "{}")})


async def _amain(spec: ShardSpec, frames_fd: int) -> None:
    loop = asyncio.get_running_loop()
    proc = _Process(spec, params_for(spec, dict(os.environ)), os.environ.get("CCTV_BENCH_SYNTH_REPORT"))
    for sig in (signal.SIGINT, signal.SIGTERM):  # as the real shard: the parent closes stdin to stop us
        loop.add_signal_handler(sig, lambda: None)
    loop.add_signal_handler(signal.SIGUSR1, proc.start)
    loop.add_signal_handler(signal.SIGUSR2, proc.stop)
    w_transport, w_protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(loop), os.fdopen(frames_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    reader = await stdin_reader()
    task = asyncio.create_task(proc.run(writer))
    await reader.read()  # EOF: stop after the tick in flight
    proc.stopping = True
    try:
        await asyncio.wait_for(task, 10.0)
    except TimeoutError:
        log.warning("synthetic shard: the parent stopped reading; leaving a frame unfinished")
    proc.stop()
    proc._write({"event": "stopped", **proc.summary()})
    writer.close()


def main() -> None:
    frames_fd = os.dup(1)
    os.dup2(2, 1)
    spec = _read_spec()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_amain(spec, frames_fd))


if __name__ == "__main__":
    main()
