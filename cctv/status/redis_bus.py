"""The bus of a node among many: the in-process bus, bridged to the other nodes over Redis pub/sub.

Local subscribers see every local message at once, exactly as on :class:`~cctv.status.bus.InProcessBus`. The
topics in :data:`cctv.status.wire.CROSSING` (state changes, motion, snapshot news, stream stats) also go to
Redis, as JSON (cctv/status/wire.py), and what other nodes publish there is delivered to the local subscribers
that asked for it (``subscribe(..., remote=True)``: the live model, roll-up history, socket hub) — never to a
writer, so each row is written once, by the node that owns the camera (a node never re-delivers its own). A node
listens only to the topics something on it takes from other nodes: an ingest node, which has no view, listens
to none, so Redis does not copy the whole city's traffic to each of a hundred ingest nodes.

Redis pub/sub is at most once, and that is all it is trusted with: every row (intervals, events, segments) goes
from the owning node to the store directly. Publishing never waits: messages for Redis queue in a bounded
outbox (drop-oldest, counted) and leave in envelopes of many (cctv/status/wire.py): a state change or motion
goes at once, with whatever else is queued; snapshot news and stats wait up to ``LINGER_S`` for company. When
the connection is lost the bridge reconnects with backoff, and once it is back it calls the ``on_reconnect``
callbacks (the live model reloads from the store), so no tile stays wrong after a Redis restart. Figures on ``/healthz`` (``redis``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cctv.aio import stop_task
from cctv.redact import redact_url
from cctv.status.bus import Accept, InProcessBus, Subscription
from cctv.status.messages import TOPIC_SNAPSHOT, TOPIC_STATS, SnapshotNews
from cctv.status.wire import BATCH_MAX, CROSSING, WireError, check, decode, encode

log = logging.getLogger(__name__)

PREFIX = "cctv:"  # channel = PREFIX + topic
OUTBOX = 50_000
BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
PING_S = 5.0
SEND_MAX = 2000  # messages per pipeline
LAZY = frozenset({TOPIC_SNAPSHOT, TOPIC_STATS})  # may wait LINGER_S for company; state changes and motion never wait
LINGER_S = 0.25


class RedisBus(InProcessBus):
    def __init__(self, url: str, node: str, *, outbox: int = OUTBOX) -> None:
        super().__init__()
        self.url = url
        self.node = node
        self._outbox: deque[tuple[str, Any]] = deque()  # (topic, message), encoded when sent
        self._linger: asyncio.TimerHandle | None = None
        self._outbox_max = outbox
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None
        self.on_reconnect: list[Callable[[], Awaitable[None]]] = []
        self.figures: dict[str, Any] = {"sent": 0, "received": 0, "outbox_dropped": 0, "bad": 0, "own": 0,
                                        "reconnects": 0, "connected": False, "withheld": 0, "listening": [],
                                        "envelopes_sent": 0, "envelopes_received": 0}
        self._listen_changed = asyncio.Event()  # a subscription asked for another node's topic
        self._links: dict[str, bool] = {"send": False}  # and "receive" once it listens: connected = all up
        # an ingest node's: True for a camera's message the other nodes must not see (its lease may be gone)
        self.withhold: Callable[[str], bool] | None = None

    # -- publishing --------------------------------------------------------------------------------------

    def publish(self, topic: str, message: Any) -> None:
        super().publish(topic, message)
        if topic in CROSSING:
            camera = getattr(message, "camera", None)
            if camera is not None and self.withhold is not None and self.withhold(camera):
                self.figures["withheld"] += 1  # e.g. a node that woke from a pause: its leases may be taken
                return
            try:
                check(topic, message)
            except WireError:
                log.exception("redis bus: cannot send a %s on %s", type(message).__name__, topic)
                return
            self._outbox.append((topic, message))
            self._trim()
            if topic not in LAZY:
                self._wake.set()
            elif self._linger is None:  # news that may wait a moment rides with others in one envelope
                self._linger = asyncio.get_running_loop().call_later(LINGER_S, self._wake.set)

    def _trim(self) -> None:
        """The outbox's bound: the oldest go first, counted."""
        while len(self._outbox) > self._outbox_max:
            self._outbox.popleft()
            self.figures["outbox_dropped"] += 1

    def subscribe(self, *topics: str, maxlen: int = 1000, accept: Accept | None = None,
                  remote: bool = False) -> Subscription:
        sub = super().subscribe(*topics, maxlen=maxlen, accept=accept, remote=remote)
        if remote and not set(topics) & set(CROSSING) <= set(self.figures["listening"]):
            self._listen_changed.set()
        return sub

    def _remote_topics(self) -> list[str]:
        """The crossing topics some subscription here takes from other nodes."""
        return [t for t in CROSSING if any(s.remote for s in self._by_topic.get(t, ()))]

    # -- running -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._send_forever(), name="redis-bus-send"),
                       asyncio.create_task(self._receive_forever(), name="redis-bus-receive")]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            await stop_task(t)  # a cancel that redis-py swallowed is sent again (cctv/aio.py)
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def health(self) -> dict[str, Any]:
        return {"redis": {**self.figures, "outbox": len(self._outbox)}}

    def _connect(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url, socket_connect_timeout=3, socket_timeout=None,
                                       health_check_interval=5)

    async def _send_forever(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:  # idle, a ping every PING_S: a node that only publishes still says whether it reaches redis
            # a timer, not asyncio.wait_for: on 3.11 a cancel that meets the event being set is swallowed by
            # wait_for, and a stopping node's sender ran on for ever (seen with 100 buses in bench/city.py)
            ping = loop.call_later(PING_S if self._links["send"] else 0.0, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                ping.cancel()
            self._wake.clear()
            if self._linger is not None:
                self._linger.cancel()
                self._linger = None
            try:
                if self._client is None:
                    self._client = self._connect()
                if not self._outbox:
                    await self._client.ping()
                    self._link("send", True)
                while self._outbox:
                    batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), SEND_MAX))]
                    envelopes = self._envelopes(batch)
                    pipe = self._client.pipeline(transaction=False)
                    for channel, data in envelopes:
                        pipe.publish(channel, data)
                    try:
                        await pipe.execute()
                    except (RedisError, OSError):
                        self._outbox.extendleft(reversed(batch))  # not sent: try again, still bounded
                        self._trim()
                        raise
                    self.figures["sent"] += len(batch)
                    self.figures["envelopes_sent"] += len(envelopes)
                    self._link("send", True)
                attempt = 0
            except (RedisError, OSError) as exc:
                self._link("send", False)
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                log.warning("redis bus: cannot publish to %s (%s); retrying in %.1f s", redact_url(self.url),
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                self._wake.set()

    def _envelopes(self, batch: list[tuple[str, Any]]) -> list[tuple[str, bytes]]:
        """(channel, envelope) for ``batch``: its messages grouped by topic, each topic's in order."""
        by_topic: dict[str, list[Any]] = {}
        for topic, message in batch:
            by_topic.setdefault(topic, []).append(message)
        return [(PREFIX + topic, encode(self.node, topic, *ms[i : i + BATCH_MAX]))
                for topic, ms in by_topic.items() for i in range(0, len(ms), BATCH_MAX)]

    async def _receive_forever(self) -> None:
        attempt, lost = 0, False
        while True:
            if not self._remote_topics():  # nothing here takes other nodes' messages (yet)
                await self._listen_changed.wait()
                continue
            client = self._connect()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                have: list[str] = []
                await self._listen(pubsub, have)
                self._link("receive", True)
                if lost:
                    self.figures["reconnects"] += 1
                    log.warning("redis bus: connected again to %s; reloading the live view", redact_url(self.url))
                    for callback in self.on_reconnect:
                        await callback()
                attempt, lost = 0, False
                while True:
                    if self._listen_changed.is_set():
                        await self._listen(pubsub, have)
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        self._deliver(msg["data"])
            except (RedisError, OSError) as exc:
                self._link("receive", False)
                lost = True
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                log.warning("redis bus: lost %s (%s); reconnecting in %.1f s", redact_url(self.url),
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    def _link(self, name: str, up: bool) -> None:
        self._links[name] = up
        self.figures["connected"] = all(self._links.values())

    async def _listen(self, pubsub: Any, have: list[str]) -> None:
        """Subscribe ``pubsub`` (which listens to ``have``) to every crossing topic a subscription here takes
        from other nodes; a topic once listened to stays."""
        self._listen_changed.clear()
        new = [t for t in self._remote_topics() if t not in have]
        if new:
            await pubsub.subscribe(*(PREFIX + t for t in new))
            have.extend(new)
        self.figures["listening"] = list(have)

    def _deliver(self, data: bytes) -> None:
        try:
            node, topic, messages = decode(data)
        except WireError as exc:
            self.figures["bad"] += 1
            if self.figures["bad"] <= 10 or self.figures["bad"] % 1000 == 0:
                log.warning("redis bus: refused a message (%s); %d so far", exc, self.figures["bad"])
            return
        if node == self.node:
            self.figures["own"] += len(messages)
            return
        self.figures["received"] += len(messages)
        self.figures["envelopes_received"] += 1
        if topic == TOPIC_SNAPSHOT:  # the views take a whole envelope of snapshot news as one message
            self.deliver_remote(topic, SnapshotNews(tuple(messages)))
            return
        for message in messages:
            self.deliver_remote(topic, message)

