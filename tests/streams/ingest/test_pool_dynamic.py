"""An ingest node among many takes and gives cameras while its processes run (streams/ingest/pool.py,
``dynamic``): a camera given starts in the least loaded process, a camera taken away stops and is reported
released, a killed process comes back with the share it had at the time — real simulator, real RTSP."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from cctv.clock import SystemClock
from cctv.config import load_config
from cctv.status.channel import Channel
from cctv.status.messages import WorkerEvent
from cctv.status.snapshots import SnapshotStore
from streams.ingest.pool import ShardPool
from streams.sim import SimulatorProcess
from tests.helpers.city import camera_paths, write_city
from tests.helpers.eventually import aeventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]


def test_cameras_come_and_go_while_the_processes_run(tmp_path: Path) -> None:
    if why := gst_rtsp_missing():
        pytest.skip(why)
    a, b, c, d = camera_paths(4)
    cfg_path = write_city(tmp_path, free_port(), free_port(), 4, extra="recording: {enabled: false}")
    config = load_config(cfg_path)
    with SimulatorProcess(config, tmp_path / "cache", tmp_path / "truth.jsonl"):
        asyncio.run(_scenario(config, tmp_path, a, b, c, d))


async def _scenario(config, tmp_path: Path, a: str, b: str, c: str, d: str) -> None:  # type: ignore[no-untyped-def]
    channel: Channel[object] = Channel(1000)
    channel.bind(asyncio.get_running_loop())
    released: list[str] = []
    connected: dict[str, int] = {}
    pool = ShardPool(config, [], 2, tmp_path / "rec", channel, SnapshotStore(tmp_path / "snaps"), lambda s: None,
                     SystemClock(), dynamic=True, on_released=released.append)

    async def pump() -> None:
        while batch := await channel.get_batch():
            for m in batch:
                if isinstance(m, WorkerEvent) and m.kind == "connected":
                    connected[m.camera] = connected.get(m.camera, 0) + 1

    reader = asyncio.create_task(pump())
    await pool.start()
    try:
        assert len(pool.shards) == 2 and pool.cameras == []  # processes from the start, no camera yet
        pool.set_cameras([a, b, c])
        await aeventually(lambda: {a, b, c} <= set(connected), 30, "a, b and c connected")
        assert sorted(len(s.cameras) for s in pool.shards) == [1, 2]  # spread over both processes
        home_of_b = next(s for s in pool.shards if b in s.cameras)

        pool.set_cameras([b, c, d])  # a taken away, d given
        await aeventually(lambda: released == [a] and d in connected, 30, "a released and d connected")
        assert sorted(pool.cameras) == [b, c, d] and b in home_of_b.cameras  # b never moved
        assert pool.health()["releasing"] == 0

        victim = home_of_b
        assert victim.proc is not None
        before = connected[b]
        os.kill(victim.proc.pid, signal.SIGKILL)
        await aeventually(lambda: connected[b] > before, 30, "b back after its process was killed")
        assert b in victim.cameras and pool.restarts == 1

        pool.set_cameras([])
        await aeventually(lambda: sorted(released) == sorted([a, b, c, d]), 30, "every camera released")
        assert pool.health()["workers"] == 0 and pool.health()["procs_alive"] == 2
    finally:
        await pool.stop()
        channel.close()
        await reader
