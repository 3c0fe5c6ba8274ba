"""``/admin/nodes`` and ``/api/nodes`` (web/views/nodes_page.py): the nodes for a city-wide account with the
system permission — one node alone shows itself; with a Redis bus, every live heartbeat — and a refusal for
anyone else."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from cctv.status.nodes import NodeBeat, NodeRegistry
from cctv.status.redis_bus import RedisBus
from tests.helpers.redis_server import PrivateRedis
from tests.helpers.scene import CAM1


async def test_anonymous_callers_are_sent_to_log_in(anon_client: Any) -> None:
    assert (await anon_client.get("/api/nodes")).status == 401
    r = await anon_client.get("/admin/nodes", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")


async def test_one_node_alone_shows_itself_to_city_wide_system_accounts(client_as: Any) -> None:
    admin = await client_as("admin")
    page = await admin.get("/admin/nodes")
    html = await page.text()
    assert page.status == 200 and "cctv run" in html and "/admin/nodes" in html  # and in the top bar
    body = await (await admin.get("/api/nodes")).json()
    assert body["alone"] is True and [n["role"] for n in body["nodes"]] == ["all"]
    kecamatan = CAM1.split("/")[0]
    for client in (await client_as("technician", kecamatan), await client_as("viewer"), await client_as("police")):
        for url in ("/admin/nodes", "/api/nodes"):
            assert (await client.get(url)).status == 403
        assert "/admin/nodes" not in await (await client.get("/")).text()


async def test_with_a_redis_bus_every_live_heartbeat_is_listed(client_as: Any, web_services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    redis = PrivateRedis(tmp_path / "redis").start()
    try:
        client = aioredis.Redis.from_url(redis.url)
        reg = NodeRegistry(client, ttl_s=30)
        now = web_services.clock.now_ms()
        await reg.beat(NodeBeat("ingest-a", "ingest", now, now, cameras=120, lag_p99_ms=50.0, draining=True))
        await reg.beat(NodeBeat("web-1", "web", now, now))
        web_services.bus = RedisBus(redis.url, "web-1")  # read only for its URL here
        admin = await client_as("admin")
        html = await (await admin.get("/admin/nodes?lang=en")).text()
        assert "ingest-a" in html and "web-1" in html and "draining" in html and "50 ms" in html
        body = await (await admin.get("/api/nodes")).json()
        assert body["alone"] is False and [n["name"] for n in body["nodes"]] == ["ingest-a", "web-1"]
        await client.aclose()
        redis.stop()
        assert (await admin.get("/api/nodes")).status == 503  # Redis gone: said, not a traceback
    finally:
        redis.stop()
