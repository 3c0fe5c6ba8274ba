"""Node heartbeats in a real (private) Redis: listed while fresh, gone by themselves after their ttl or at once on
a clean leave, each with its clock offset against Redis; `cctv nodes` prints them (cctv/status/nodes.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cctv.status.nodes import KEY, NodeBeat, NodeRegistry
from tests.helpers.redis_server import PrivateRedis
from tests.helpers.web import WEB_CONFIG


@pytest.fixture
def redis_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.stop()


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_beats_are_listed_expire_by_themselves_and_leave_at_once(redis_server: PrivateRedis) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    reg = NodeRegistry(client, ttl_s=0.5)
    try:
        await reg.beat(NodeBeat("ingest-1", "ingest", now_ms(), now_ms(), cameras=300, lag_p99_ms=40.0,
                                capacity=400, prefers=("kota-baru",)))
        await reg.beat(NodeBeat("web-1", "web", now_ms(), now_ms() + 5_000))  # a clock 5 s fast
        await client.set(KEY + "garbage", b"not json")  # unreadable: skipped, not fatal
        nodes = {n.name: n for n in await reg.nodes()}
        assert set(nodes) == {"ingest-1", "web-1"}
        assert nodes["ingest-1"].cameras == 300 and nodes["ingest-1"].prefers == ("kota-baru",)
        assert abs(nodes["ingest-1"].clock_offset_ms) < 1_000 and 4_000 < nodes["web-1"].clock_offset_ms < 6_000
        await reg.leave("web-1")
        assert [n.name for n in await reg.nodes()] == ["ingest-1"]
        await asyncio.sleep(0.7)  # no beat within the ttl: the node is gone, nobody had to say so
        assert await reg.nodes() == []
    finally:
        await client.aclose()
    with pytest.raises(ValueError, match="ttl"):
        NodeRegistry(client, ttl_s=0)


def test_cctv_nodes_prints_the_live_nodes(redis_server: PrivateRedis, tmp_path: Path) -> None:
    async def beat() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        await NodeRegistry(client, ttl_s=60).beat(NodeBeat("ingest-7", "ingest", now_ms(), now_ms(), cameras=12))
        await client.aclose()

    asyncio.run(beat())
    cfg = tmp_path / "config.yaml"
    cfg.write_text(json.dumps({**WEB_CONFIG, "bus": {"url": redis_server.url}}))
    r = subprocess.run([sys.executable, "-m", "cctv", "nodes", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "ingest-7" in r.stdout and "1 node(s) alive" in r.stdout
    j = subprocess.run([sys.executable, "-m", "cctv", "nodes", "--config", str(cfg), "--json"],
                       capture_output=True, text=True, timeout=60)
    [node] = [json.loads(line) for line in j.stdout.splitlines()]
    assert node["name"] == "ingest-7" and node["cameras"] == 12 and node["beat_age_s"] < 30
    # maintenance: the flag every node reads (a node not alive is told it applies when it starts)
    drain = subprocess.run([sys.executable, "-m", "cctv", "nodes", "--config", str(cfg), "drain", "ingest-7"],
                           capture_output=True, text=True, timeout=60)
    assert drain.returncode == 0 and "ingest-7 draining" in drain.stdout and "not alive" not in drain.stdout

    async def draining() -> bool:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            return await NodeRegistry(client).draining("ingest-7")
        finally:
            await client.aclose()

    assert asyncio.run(draining())
    undrain = subprocess.run([sys.executable, "-m", "cctv", "nodes", "undrain", "ingest-7", "--config", str(cfg)],
                             capture_output=True, text=True, timeout=60)
    assert undrain.returncode == 0 and not asyncio.run(draining())
    bad = subprocess.run([sys.executable, "-m", "cctv", "nodes", "--config", str(cfg), "drain", "no such/name"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "is not a node name" in bad.stderr
    cfg.write_text(json.dumps(WEB_CONFIG))
    alone = subprocess.run([sys.executable, "-m", "cctv", "nodes", "--config", str(cfg)], capture_output=True,
                           text=True, timeout=60)
    assert alone.returncode == 2 and "bus.url is not set" in alone.stderr
