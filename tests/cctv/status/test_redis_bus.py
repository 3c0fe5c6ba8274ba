"""The bus between nodes over a real (private) Redis: local delivery at once, other nodes' messages delivered to
the views (never to a writer) and a node's own never twice, refused messages counted, and a Redis restart survived — the bridge
reconnects, says so to the live view (reload from the store), and carries messages again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cctv.status.messages import (
    TOPIC_COUNTS,
    TOPIC_SNAPSHOT,
    TOPIC_STATUS,
    AreaCounts,
    SnapshotNews,
    SnapshotReady,
    State,
    StatusChange,
)
from cctv.status.redis_bus import PREFIX, RedisBus
from tests.helpers.eventually import aeventually
from tests.helpers.redis_server import PrivateRedis

CAM = "kota-baru/paal-lima/rt-07/cam-1"


def change(i: int) -> StatusChange:
    return StatusChange(CAM, State.OFFLINE if i % 2 else State.ONLINE, "timeout" if i % 2 else "", 1_000 + i, None)


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.stop()


async def started(url: str, node: str) -> RedisBus:
    bus = RedisBus(url, node)
    await bus.start()
    await aeventually(lambda: bus.figures["connected"], 30, f"{node} subscribed to redis")
    return bus


async def listening(*buses: RedisBus) -> None:
    for bus in buses:
        await aeventually(lambda b=bus: TOPIC_STATUS in b.figures["listening"], 30, f"{bus.node} to listen")


async def test_messages_cross_to_the_other_node_once(redis_server: PrivateRedis) -> None:
    a, b = await started(redis_server.url, "ingest-a"), await started(redis_server.url, "web-b")
    try:
        sub_a, sub_b = a.subscribe(TOPIC_STATUS, remote=True), b.subscribe(TOPIC_STATUS, TOPIC_COUNTS, remote=True)
        local_b = b.subscribe(TOPIC_STATUS)  # a writer's subscription: this node's own messages only
        await listening(a, b)
        a.publish(TOPIC_STATUS, change(1))
        a.publish(TOPIC_COUNTS, AreaCounts(1, {}))  # per-area counts are each node's own: they never cross
        assert sub_a.take() == [(TOPIC_STATUS, change(1))]  # locally at once
        await aeventually(lambda: b.figures["received"] == 1, 30, "b to receive a's change")
        assert sub_b.take() == [(TOPIC_STATUS, change(1))] and local_b.take() == []
        await aeventually(lambda: a.figures["own"] == 1, 30, "a's own echo to come back from redis")
        assert sub_a.take() == []  # ... and not be delivered again
    finally:
        await a.stop()
        await b.stop()


async def test_a_node_without_a_view_listens_to_nothing(redis_server: PrivateRedis) -> None:
    """An ingest node's subscribers (its writers) take only its own messages: Redis copies it none of the city's
    traffic; once something on it asks for another node's topic, it listens to that topic."""
    a, b = await started(redis_server.url, "ingest-a"), await started(redis_server.url, "web-b")
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        writer = a.subscribe(TOPIC_STATUS)
        view = b.subscribe(TOPIC_STATUS, remote=True)
        await listening(b)
        a.publish(TOPIC_STATUS, change(1))
        b.publish(TOPIC_STATUS, change(2))
        await aeventually(lambda: b.figures["received"] == 1, 30, "b to receive a's change")
        assert view.take() == [(TOPIC_STATUS, change(2)), (TOPIC_STATUS, change(1))]  # its own at once, then a's
        assert writer.take() == [(TOPIC_STATUS, change(1))]
        assert await client.pubsub_numsub(PREFIX + TOPIC_STATUS) == [((PREFIX + TOPIC_STATUS).encode(), 1)]
        assert a.figures["listening"] == [] and a.figures["received"] == a.figures["own"] == 0
        late = a.subscribe(TOPIC_STATUS, remote=True)  # a view started later
        await listening(a)
        b.publish(TOPIC_STATUS, change(3))
        await aeventually(lambda: late.take() == [(TOPIC_STATUS, change(3))], 30, "a to receive b's change")
    finally:
        await client.aclose()
        await a.stop()
        await b.stop()


async def test_news_published_together_travels_in_few_envelopes(redis_server: PrivateRedis) -> None:
    """A city's snapshot news (one message per camera every few seconds) is not one Redis command and one parse
    per message: what a node queued together leaves in envelopes of up to 500, in order."""
    a, b = await started(redis_server.url, "ingest-a"), await started(redis_server.url, "web-b")
    try:
        view = b.subscribe(TOPIC_SNAPSHOT, TOPIC_STATUS, remote=True, maxlen=5000)
        await aeventually(lambda: TOPIC_SNAPSHOT in b.figures["listening"], 30, "b to listen")
        news = [SnapshotReady(f"{CAM}-{i}", 1_000 + i) for i in range(1200)]
        for n in news:
            a.publish(TOPIC_SNAPSHOT, n)
        a.publish(TOPIC_STATUS, change(1))  # goes at once, and the news queued before it with it
        await aeventually(lambda: b.figures["received"] == 1201, 30, "b to receive them all")
        got = view.take()
        batches = [m for t, m in got if t == TOPIC_SNAPSHOT]  # one message per envelope for the views
        assert all(isinstance(b, SnapshotNews) for b in batches) and len(batches) == 3
        assert [n for b in batches for n in b.items] == news and (TOPIC_STATUS, change(1)) in got
        assert a.figures["envelopes_sent"] == b.figures["envelopes_received"] == 4  # 500 + 500 + 200, and 1
    finally:
        await a.stop()
        await b.stop()


async def test_garbage_on_the_channel_is_counted_and_ignored(redis_server: PrivateRedis) -> None:
    b = await started(redis_server.url, "web-b")
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        sub = b.subscribe(TOPIC_STATUS, remote=True)
        await listening(b)
        await client.publish(PREFIX + TOPIC_STATUS, b"\x80\x04 a pickle, say")
        await client.publish(PREFIX + TOPIC_STATUS, b'{"v": 1, "node": "x", "topic": "status", "m": {}}')
        await aeventually(lambda: b.figures["bad"] == 2, 30, "both refused")
        assert sub.take() == [] and b.figures["received"] == 0
    finally:
        await client.aclose()
        await b.stop()


async def test_a_redis_restart_is_survived_and_the_live_view_told_to_reload(redis_server: PrivateRedis) -> None:
    a, b = await started(redis_server.url, "ingest-a"), await started(redis_server.url, "web-b")
    reloads: list[int] = []

    async def reload() -> None:
        reloads.append(1)

    b.on_reconnect.append(reload)
    try:
        sub_b = b.subscribe(TOPIC_STATUS, remote=True)
        await listening(b)
        redis_server.stop()
        await aeventually(lambda: not b.figures["connected"], 30, "b to notice redis is gone")
        for i in range(3):
            a.publish(TOPIC_STATUS, change(i))  # never blocks; waits in the outbox
        assert a.health()["redis"]["outbox"] >= 1
        redis_server.start()
        await aeventually(lambda: reloads and b.figures["connected"], 30, "b to reconnect and reload")
        a.publish(TOPIC_STATUS, change(9))
        await aeventually(lambda: (TOPIC_STATUS, change(9)) in sub_b.take(), 30, "a change after the restart")
        assert b.figures["reconnects"] >= 1
    finally:
        await a.stop()
        await b.stop()
