"""A web node's live model follows an ingest node's state changes over a real (private) Redis, and after Redis
restarts it reads the store again, so a change it missed while Redis was down is not lost on its pages."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from cctv.app.node import Lifecycle, bus_steps, view_steps
from cctv.app.services import build_services
from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.status.messages import TOPIC_STATUS, State, StatusChange
from cctv.status.nodes import NodeRegistry
from cctv.status.redis_bus import RedisBus
from cctv.store import Store
from tests.helpers.eventually import aeventually
from tests.helpers.redis_server import PrivateRedis
from tests.helpers.scene import CAM1, T0
from tests.helpers.web import FAST_HASH, WEB_CONFIG


async def _names(client: aioredis.Redis) -> list[str]:
    return [n.name for n in await NodeRegistry(client).nodes()]


async def test_a_web_node_follows_changes_over_redis_and_reloads_after_a_restart(tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path / "redis").start()
    store = Store(f"sqlite:///{tmp_path / 'shared.sqlite3'}")  # the shared store (PostgreSQL in production)
    store.migrate()
    config = Config.model_validate({**WEB_CONFIG, "bus": {"url": redis.url}, "node": {"name": "web-1"}})
    web = build_services(config, clock=FakeClock(T0), store=store, data_dir=tmp_path / "web",
                         bus=RedisBus(redis.url, "web-1"), password_params=FAST_HASH)
    ingest_bus = RedisBus(redis.url, "ingest-1")
    lifecycle = Lifecycle([*bus_steps(web), *view_steps(web)])
    await lifecycle.start()
    await ingest_bus.start()
    try:
        assert [s.name for s in lifecycle.steps][:2] == ["bus", "node-heartbeat"]
        client = aioredis.Redis.from_url(redis.url)
        beats = await aeventually(lambda: _names(client), 30, "the web node's heartbeat")
        await client.aclose()
        assert beats == ["web-1"]
        await aeventually(lambda: web.bus.figures["connected"] and ingest_bus.figures["connected"], 30,
                          "both nodes subscribed")
        writer = web.bus.subscribe(TOPIC_STATUS)  # as a writer subscribes: this node's own messages only
        ingest_bus.publish(TOPIC_STATUS, StatusChange(CAM1, State.OFFLINE, "timeout", T0 + 1_000, None))
        await aeventually(lambda: web.live.get(CAM1).state == "offline", 30, "the web node to see the change")
        assert writer.take() == []  # another node's change is never written here: its owner writes it

        redis.stop()
        await aeventually(lambda: not web.bus.figures["connected"], 30, "the web node to notice")
        # meanwhile the ingest node writes the next change to the store (rows never travel on the bus)
        store.apply_status_change(StatusChange(CAM1, State.OFFLINE, "timeout", T0 + 1_000, None))
        store.apply_status_change(StatusChange(CAM1, State.DEGRADED, "black", T0 + 5_000, State.OFFLINE))
        redis.start()
        await aeventually(lambda: web.live.get(CAM1).state == "degraded", 30,
                          "the web node to reload from the store after reconnecting")
        assert web.live.get(CAM1).reason == "black" and web.bus.figures["reconnects"] >= 1
        health = {k: v for probe in web.health_probes for k, v in probe().items()}
        assert health["redis"]["connected"] and redis.url not in str(health)
    finally:
        await ingest_bus.stop()
        await lifecycle.stop()
        web.snapshots.close()
        store.close()
        redis.stop()
