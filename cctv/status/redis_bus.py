"""The bus of a node among many: the in-process bus, bridged to the other nodes over Redis pub/sub.

Local subscribers see every local message at once, exactly as on :class:`~cctv.status.bus.InProcessBus`. The
topics in :data:`cctv.status.wire.CROSSING` (state changes, motion, snapshot news, stream stats) also go to
Redis, as JSON (cctv/status/wire.py), and what other nodes publish there is delivered to the local subscribers
that asked for it (``subscribe(..., remote=True)``: the live model, roll-up history, socket hub) — never to a
writer, so each row is written once, by the node that owns the camera (a node never re-delivers its own).

Redis pub/sub is at most once, and that is all it is trusted with: every row (intervals, events, segments) goes
from the owning node to the store directly. Publishing never waits: messages for Redis queue in a bounded
outbox (drop-oldest, counted). When the connection is lost the bridge reconnects with backoff, and once it is
back it calls the ``on_reconnect`` callbacks (the live model reloads from the store), so no tile stays wrong
after a Redis restart. Figures on ``/healthz`` (``redis``).
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

from cctv.redact import redact_url
from cctv.status.bus import InProcessBus
from cctv.status.wire import CROSSING, WireError, decode, encode

log = logging.getLogger(__name__)

PREFIX = "cctv:"  # channel = PREFIX + topic
OUTBOX = 50_000
BACKOFF_S = (0.5, 1.0, 2.0, 5.0)


class RedisBus(InProcessBus):
    def __init__(self, url: str, node: str, *, outbox: int = OUTBOX) -> None:
        super().__init__()
        self.url = url
        self.node = node
        self._outbox: deque[tuple[str, bytes]] = deque()  # (channel, envelope)
        self._outbox_max = outbox
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None
        self.on_reconnect: list[Callable[[], Awaitable[None]]] = []
        self.figures = {"sent": 0, "received": 0, "outbox_dropped": 0, "bad": 0, "own": 0, "reconnects": 0,
                        "connected": False, "withheld": 0}
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
                data = encode(self.node, topic, message)
            except WireError:
                log.exception("redis bus: cannot send a %s on %s", type(message).__name__, topic)
                return
            self._outbox.append((PREFIX + topic, data))
            self._trim()
            self._wake.set()

    def _trim(self) -> None:
        """The outbox's bound: the oldest go first, counted."""
        while len(self._outbox) > self._outbox_max:
            self._outbox.popleft()
            self.figures["outbox_dropped"] += 1

    # -- running -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._send_forever(), name="redis-bus-send"),
                       asyncio.create_task(self._receive_forever(), name="redis-bus-receive")]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
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
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._client is None:
                    self._client = self._connect()
                while self._outbox:
                    batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), 500))]
                    pipe = self._client.pipeline(transaction=False)
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    try:
                        await pipe.execute()
                    except (RedisError, OSError):
                        self._outbox.extendleft(reversed(batch))  # not sent: try again, still bounded
                        self._trim()
                        raise
                    self.figures["sent"] += len(batch)
                attempt = 0
            except (RedisError, OSError) as exc:
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                log.warning("redis bus: cannot publish to %s (%s); retrying in %.1f s", redact_url(self.url),
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                self._wake.set()

    async def _receive_forever(self) -> None:
        attempt, lost = 0, False
        while True:
            client = self._connect()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*(PREFIX + t for t in CROSSING))
                self.figures["connected"] = True
                if lost:
                    self.figures["reconnects"] += 1
                    log.warning("redis bus: connected again to %s; reloading the live view", redact_url(self.url))
                    for callback in self.on_reconnect:
                        await callback()
                attempt, lost = 0, False
                while True:
                    msg = await pubsub.get_message(timeout=5.0)
                    if msg is not None and msg.get("type") == "message":
                        self._deliver(msg["data"])
            except (RedisError, OSError) as exc:
                self.figures["connected"] = False
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

    def _deliver(self, data: bytes) -> None:
        try:
            node, topic, message = decode(data)
        except WireError as exc:
            self.figures["bad"] += 1
            if self.figures["bad"] <= 10 or self.figures["bad"] % 1000 == 0:
                log.warning("redis bus: refused a message (%s); %d so far", exc, self.figures["bad"])
            return
        if node == self.node:
            self.figures["own"] += 1
            return
        self.figures["received"] += 1
        self.deliver_remote(topic, message)

