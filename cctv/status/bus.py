"""Publish/subscribe between the parts of a node (and, later, between nodes through Redis).

Topics are short strings: ``status`` (StatusChange), ``snapshot`` (camera path), ``stats`` (StreamStats),
``sample`` (CameraSample, node-local only). A subscriber gets a bounded queue; when it falls behind, the
oldest message is dropped and counted on the subscription, never silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, bus: InProcessBus, topics: frozenset[str], maxlen: int) -> None:
        self._bus = bus
        self.topics = topics
        self._items: deque[tuple[str, Any]] = deque()
        self._maxlen = maxlen
        self._event = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _offer(self, topic: str, message: Any) -> None:
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self.dropped += 1
        self._items.append((topic, message))
        self._event.set()

    async def get(self) -> tuple[str, Any]:
        """Next message; after ``close()`` the queued ones are still delivered, then StopAsyncIteration."""
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._event.clear()
            await self._event.wait()
        return self._items.popleft()

    def get_nowait(self) -> tuple[str, Any] | None:
        return self._items.popleft() if self._items else None

    def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        return await self.get()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._unsubscribe(self)
            self._event.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus(Protocol):
    def publish(self, topic: str, message: Any) -> None: ...

    def subscribe(self, *topics: str, maxlen: int = 1000) -> Subscription: ...

    @property
    def dropped(self) -> int:
        """Messages dropped so far because a subscriber fell behind."""
        ...

    @property
    def subscriptions(self) -> int: ...


class InProcessBus:
    """The embedded default. ``publish`` must be called on the event loop's thread."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.published = 0
        self._dropped_closed = 0  # drops of subscriptions already closed, so the total never shrinks

    def publish(self, topic: str, message: Any) -> None:
        self.published += 1
        for sub in self._subs:
            if topic in sub.topics:
                sub._offer(topic, message)

    def subscribe(self, *topics: str, maxlen: int = 1000) -> Subscription:
        if not topics:
            raise ValueError("subscribe to at least one topic")
        sub = Subscription(self, frozenset(topics), maxlen)
        self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._dropped_closed += sub.dropped

    @property
    def dropped(self) -> int:
        return self._dropped_closed + sum(s.dropped for s in self._subs)

    @property
    def subscriptions(self) -> int:
        return len(self._subs)
