"""An ingest node's internal API (web/internal.py): only a caller showing the node secret gets anything under
/internal/, and what it gets is the camera's snapshot with its version; and the web node's client
(web/node_client.py) serves what it kept while the bus announces nothing newer."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cctv.config.models import Config
from cctv.store.leases import LeaseStore
from tests.helpers.scene import CAM1, CAM2
from tests.helpers.web import WEB_CONFIG
from web.internal import create_internal_app
from web.node_client import NodeClient, NodeUnreachable

SECRET = "internal-test-secret-0123"


@pytest.fixture
def ingest_services(web_services):  # type: ignore[no-untyped-def]
    web_services.config = Config.model_validate(WEB_CONFIG | {"node": {"name": "ing-1", "secret": SECRET}})
    return web_services


async def test_only_the_node_secret_opens_the_internal_api(aiohttp_client: Any, ingest_services) -> None:  # type: ignore[no-untyped-def]
    jpeg = b"\xff\xd8" + b"x" * 200 + b"\xff\xd9"
    ingest_services.snapshots.put(CAM1, jpeg, 1_767_225_600_000)
    client = await aiohttp_client(create_internal_app(ingest_services))
    url = f"/internal/snapshot/{CAM1}.jpg"
    for headers in ({}, {"Authorization": "Bearer wrong-secret-0123456789"}, {"Authorization": SECRET}):
        r = await client.get(url, headers=headers)
        assert r.status == 401 and CAM1 not in await r.text()
    auth = {"Authorization": f"Bearer {SECRET}"}
    r = await client.get(url, headers=auth)
    assert r.status == 200 and await r.read() == jpeg and r.headers["X-Snapshot-Ms"] == "1767225600000"
    again = await client.get(url, headers=auth | {"If-None-Match": r.headers["ETag"]})
    assert again.status == 304
    assert (await client.get(f"/internal/snapshot/{CAM2}.jpg", headers=auth)).status == 404  # none here
    assert (await client.get("/internal/snapshot/no/such/rt/cam.jpg", headers=auth)).status == 404
    assert (await client.get(url + "?w=abc", headers=auth)).status == 400
    assert (await client.get("/healthz")).status == 200  # open, like a web node's
    assert (await client.get("/")).status == 404  # no pages


async def test_the_client_fetches_with_the_secret_and_keeps_it_until_the_bus_announces_newer(
        aiohttp_server: Any, ingest_services) -> None:  # type: ignore[no-untyped-def]
    snaps = ingest_services.snapshots
    snaps.put(CAM1, b"\xff\xd8first\xff\xd9", 1000)
    server = await aiohttp_server(create_internal_app(ingest_services))
    nc = NodeClient(ingest_services.store, "redis://127.0.0.1:1/0", SECRET)
    await nc.start()
    try:
        # who holds what and where: as the leases and the heartbeats would say (read every few seconds)
        nc._owners, nc._urls = {CAM1: "ing-1", CAM2: "ing-1"}, {"ing-1": str(server.make_url("")).rstrip("/")}
        nc._read_at = time.monotonic() + 3600  # noqa: SLF001
        first = await nc.snapshot(CAM1, None, None)
        assert first is not None and first.jpeg.startswith(b"\xff\xd8first") and first.t_ms == 1000
        assert await nc.snapshot(CAM1, None, 1000) is first and nc.figures["fetched"] == 1  # nothing newer
        assert await nc.snapshot(CAM1, None, 1500) is first and nc.figures["not_modified"] == 1  # asked: same
        snaps.put(CAM1, b"\xff\xd8second\xff\xd9", 2000)
        second = await nc.snapshot(CAM1, None, 2000)
        assert second is not None and second.t_ms == 2000 and nc.figures["fetched"] == 2
        assert await nc.snapshot(CAM2, None, None) is None  # its node has none yet
        await server.close()  # the node is gone: the kept picture, counted; nothing kept: the caller says so
        assert await nc.snapshot(CAM1, None, 3000) is second and nc.figures["stale_served"] == 1
        with pytest.raises(NodeUnreachable):
            await nc.snapshot(CAM2, 320, None)
    finally:
        await nc.stop()


async def test_the_client_reads_who_holds_what_again_only_when_a_node_moved_cameras(ingest_services) -> None:  # type: ignore[no-untyped-def]
    """At a city's scale the camera leases are 30,000 rows: read again when a node's cameras changed, not on
    every refresh; a node whose lease expired holds nothing, without reading them again."""
    leases = LeaseStore(ingest_services.store.engine)
    nc = NodeClient(ingest_services.store, "redis://127.0.0.1:1/0", SECRET, refresh_s=0)
    await nc.start()
    try:
        now = int(time.time() * 1000)
        leases.take("ing-1", [CAM1, CAM2], now, 60_000)
        await nc._fresh()  # noqa: SLF001
        assert nc._owners == {CAM1: "ing-1", CAM2: "ing-1"} and nc.figures["lease_reads"] == 1  # noqa: SLF001
        leases.renew("ing-1", {CAM1: 1, CAM2: 1}, now + 1, 60_000)
        await nc._fresh()  # noqa: SLF001
        assert nc.figures["lease_reads"] == 1  # renewed, nothing moved: the node leases only
        leases.release("ing-1", {CAM2: 1}, now + 2)
        await nc._fresh()  # noqa: SLF001
        assert nc._owners == {CAM1: "ing-1"} and nc.figures["lease_reads"] == 2  # noqa: SLF001
        leases.renew("ing-1", {CAM1: 1}, now - 120_000, 1_000)  # its lease expired (a clock stand-in)
        await nc._fresh()  # noqa: SLF001
        assert nc._owners == {} and nc.figures["lease_reads"] == 2  # noqa: SLF001
    finally:
        await nc.stop()
