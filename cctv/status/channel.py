"""A bounded, thread-safe channel from blocking threads to the asyncio loop.

When the consumer falls behind, the oldest item is dropped and counted: a producer never blocks,
and nothing is dropped silently (``dropped`` is exported in stats and on /healthz).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class DropOldestChannel(Generic[T]):
    def __init__(self, maxlen: int, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0
        self.put_count = 0
        self._closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def put(self, item: T) -> None:
        """Called from any thread. Never blocks."""
        with self._lock:
            if self._closed:
                self.dropped += 1
                return
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.put_count += 1
            waiter = self._waiter
            self._waiter = None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_wake, waiter)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiter = self._waiter
            self._waiter = None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_wake, waiter)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def drain(self) -> list[T]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            return items

    async def get_batch(self) -> list[T]:
        """Wait until at least one item is there (or the channel closes) and take them all."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        while True:
            with self._lock:
                if self._items:
                    items = list(self._items)
                    self._items.clear()
                    return items
                if self._closed:
                    return []
                fut: asyncio.Future[None] = loop.create_future()
                self._waiter = fut
            await fut


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
