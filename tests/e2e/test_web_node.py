"""`cctv serve`, a web node: it refuses to start without the shared store and bus, and when started it shows
the state changes an ingest node publishes on Redis, and writes no camera rows of its own."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from cctv.status.messages import TOPIC_STATUS, State, StatusChange
from cctv.status.redis_bus import RedisBus
from cctv.store.models import StatusInterval
from tests.helpers.e2e import cameras, cctv_run, expect_camera
from tests.helpers.redis_server import PrivateRedis
from tests.helpers.scene import CAM1, CAM2
from tests.helpers.servers import free_port
from tests.helpers.web import WEB_CONFIG


def write_config(path: Path, **extra: object) -> Path:
    path.write_text(json.dumps({**WEB_CONFIG, **extra}))  # JSON is YAML
    return path


def test_serve_refuses_without_the_shared_store_and_bus(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.yaml")
    r = subprocess.run([sys.executable, "-m", "cctv", "serve", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "store.url, bus.url, node.secret must be set" in r.stderr and "cctv run" in r.stderr


@pytest.mark.slow
def test_a_web_node_shows_what_an_ingest_node_publishes_and_writes_nothing(tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path / "redis").start()
    db = tmp_path / "shared.sqlite3"  # the shared store (PostgreSQL between machines)
    cfg = write_config(tmp_path / "config.yaml", store={"url": f"sqlite:///{db}"}, bus={"url": redis.url},
                       node={"secret": "${CCTV_NODE_SECRET}"})
    try:
        with cctv_run(cfg, tmp_path / "web", tmp_path / "serve.log", free_port(), command="serve") as base:
            assert cameras(base)[CAM1]["state"] == "offline"  # no verdict yet: "starting"

            async def publish() -> None:
                bus = RedisBus(redis.url, "ingest-1")
                await bus.start()
                try:
                    for _ in range(100):  # until the web node has subscribed (pub/sub keeps nothing)
                        bus.publish(TOPIC_STATUS, StatusChange(CAM1, State.ONLINE, "", 1_767_225_600_000, None))
                        bus.publish(TOPIC_STATUS, StatusChange(CAM2, State.DEGRADED, "black", 1_767_225_600_000,
                                                               None))
                        await asyncio.sleep(0.2)
                        if bus.figures["sent"] >= 2 and cameras(base).get(CAM2, {}).get("state") == "degraded":
                            return
                finally:
                    await bus.stop()

            asyncio.run(publish())
            expect_camera(base, CAM1, "online", "", 30)
            expect_camera(base, CAM2, "degraded", "black", 30)
        engine = create_engine(f"sqlite:///{db}")
        with engine.connect() as conn:  # the web node wrote no interval: the owning ingest node does
            assert conn.execute(select(func.count()).select_from(StatusInterval)).scalar_one() == 0
        engine.dispose()
    finally:
        redis.stop()
