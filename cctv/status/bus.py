"""Publish/subscribe: the only fan-out of a node's data path (DESIGN.md, "Data flow").

Topics and what travels on each are listed in :mod:`cctv.status.messages`. Each subscription is a
:class:`~cctv.status.channel.Channel`: messages of the topics in ``KEEP_TOPICS`` (state changes, motion, segment
rows) are never dropped; the others (snapshots, stats, counts) are bounded, drop-oldest and counted on the
subscription. A subscription may carry an ``accept`` predicate, evaluated at publish time, so a subscriber
interested in a few cameras never has the rest queued for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from cctv.status.channel import Channel
from cctv.status.messages import KEEP_TOPICS

Accept = Callable[[str, Any], bool]


class Subscription:
    def __init__(self, bus: InProcessBus, topics: frozenset[str], maxlen: int, accept: Accept | None,
                 remote: bool = False) -> None:
        self._bus = bus
        self.topics = topics
        self.accept = accept
        self.remote = remote  # also what other nodes published (cctv/status/redis_bus.py)
        self.channel: Channel[tuple[str, Any]] = Channel(maxlen)
        self._ready: deque[tuple[str, Any]] = deque()  # taken from the channel, not yet handed out

    @property
    def dropped(self) -> int:
        return self.channel.dropped

    @property
    def closed(self) -> bool:
        return self.channel.closed

    def _offer(self, topic: str, message: Any) -> None:
        if self.accept is not None and not self.accept(topic, message):
            return
        if topic in KEEP_TOPICS:
            self.channel.put_keep((topic, message))
        else:
            self.channel.put((topic, message))

    async def get_batch(self) -> list[tuple[str, Any]]:
        """Everything queued, in order; [] once closed and drained."""
        if self._ready:
            out = list(self._ready)
            self._ready.clear()
            return out
        return await self.channel.get_batch()

    async def get(self) -> tuple[str, Any]:
        """Next message; after ``close()`` the queued ones are still delivered, then StopAsyncIteration."""
        if not self._ready:
            self._ready.extend(await self.channel.get_batch())
            if not self._ready:
                raise StopAsyncIteration
        return self._ready.popleft()

    def get_nowait(self) -> tuple[str, Any] | None:
        if not self._ready:
            self._ready.extend(self.channel.take())
        return self._ready.popleft() if self._ready else None

    def take(self) -> list[tuple[str, Any]]:
        """Everything queued now (possibly [])."""
        out = list(self._ready)
        self._ready.clear()
        return out + self.channel.take()

    def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        return await self.get()

    def close(self) -> None:
        if not self.channel.closed:
            self._bus._unsubscribe(self)
            self.channel.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus(Protocol):
    def publish(self, topic: str, message: Any) -> None: ...

    def subscribe(self, *topics: str, maxlen: int = 1000, accept: Accept | None = None,
                  remote: bool = False) -> Subscription: ...

    @property
    def dropped(self) -> int:
        """Messages dropped so far because a subscriber fell behind."""
        ...

    @property
    def subscriptions(self) -> int: ...


class InProcessBus:
    """The embedded default. ``publish`` must be called on the event loop's thread."""

    def __init__(self) -> None:
        self._by_topic: dict[str, list[Subscription]] = {}
        self._subs: list[Subscription] = []
        self.published: dict[str, int] = {}
        self._dropped_closed = 0  # drops of subscriptions already closed, so the total never shrinks

    def publish(self, topic: str, message: Any) -> None:
        self.published[topic] = self.published.get(topic, 0) + 1
        for sub in self._by_topic.get(topic, ()):
            sub._offer(topic, message)

    def deliver_remote(self, topic: str, message: Any) -> None:
        """What another node published: only to the subscriptions that asked for it (``remote=True``: the
        views). Writers never get it — the node that owns a camera writes its rows."""
        for sub in self._by_topic.get(topic, ()):
            if sub.remote:
                sub._offer(topic, message)

    def subscribe(self, *topics: str, maxlen: int = 1000, accept: Accept | None = None,
                  remote: bool = False) -> Subscription:
        """``remote``: also deliver what other nodes publish (a view of the whole city); off for anything that
        writes, so a row is written once, by the node that owns the camera."""
        if not topics:
            raise ValueError("subscribe to at least one topic")
        sub = Subscription(self, frozenset(topics), maxlen, accept, remote)
        with_loop(sub)
        self._subs.append(sub)
        for t in sub.topics:
            self._by_topic.setdefault(t, []).append(sub)
        return sub

    def has_subscribers(self, topic: str) -> bool:
        """Whether anything listens on ``topic`` (a producer skips building messages nobody reads)."""
        return bool(self._by_topic.get(topic))

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            for t in sub.topics:
                self._by_topic[t].remove(sub)
            self._dropped_closed += sub.dropped

    @property
    def dropped(self) -> int:
        return self._dropped_closed + sum(s.dropped for s in self._subs)

    @property
    def subscriptions(self) -> int:
        return len(self._subs)


def with_loop(sub: Subscription) -> None:
    """Bind the subscription's channel to the running loop, when there is one (wake-ups come from it)."""
    with contextlib.suppress(RuntimeError):
        sub.channel.bind(asyncio.get_running_loop())
