"""The one channel type of the data path: bounded where loss is harmless, never dropping what would mislead.

Items are kept in arrival order. Each is put either on the *keep* lane (connection events, state changes,
motion changes, segment rows: never dropped anywhere on their way) or on the *drop* lane (samples, snapshots,
stream stats: bounded; when full, the oldest droppable item goes and is counted). A consumer takes everything
queued at once, in the order it came (keep items are never moved ahead of older droppable ones, so a stale
packet count never lands after the disconnect it preceded).

Thread-safe: producers may be worker threads or the event loop; the consumer is one coroutine (``get_batch``)
or a synchronous drain (``take``). The keep lane has no bound of its own — what is on it is few by nature
(a few messages per camera per hour) — but its high-water mark is exported, so a backlog is visible.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Channel(Generic[T]):
    def __init__(self, maxlen: int, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self._items: deque[tuple[bool, T]] = deque()  # (keep, item)
        self._droppable = 0
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.dropped = 0  # droppable items lost to the bound (or put after close)
        self.put_count = 0
        self.kept = 0  # keep-lane items accepted
        self.keep_high_water = 0  # the most keep-lane items ever queued at once
        self._keep_queued = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> None:
        """A droppable item. From any thread; never blocks."""
        self._put(item, False)

    def put_keep(self, item: T) -> None:
        """An item that must not be lost. From any thread; never blocks. After ``close()``: ``RuntimeError``."""
        self._put(item, True)

    def _put(self, item: T, keep: bool) -> None:
        with self._lock:
            if self._closed:
                if keep:
                    raise RuntimeError("put_keep on a closed channel: the item would be lost")
                self.dropped += 1
                return
            self._items.append((keep, item))
            self.put_count += 1
            if keep:
                self.kept += 1
                self._keep_queued += 1
                self.keep_high_water = max(self.keep_high_water, self._keep_queued)
            else:
                self._droppable += 1
                if self._droppable > self._maxlen:
                    self._drop_oldest_droppable()
            waiter, self._waiter = self._waiter, None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_wake, waiter)

    def _drop_oldest_droppable(self) -> None:
        i = 0
        while self._items[i][0]:  # keep items at the front are few: this walks past them
            i += 1
        del self._items[i]
        self._droppable -= 1
        self.dropped += 1

    def close(self) -> None:
        """No more items; the queued ones are still delivered, then ``get_batch`` returns []."""
        with self._lock:
            self._closed = True
            waiter, self._waiter = self._waiter, None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_wake, waiter)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def keep_queued(self) -> int:
        return self._keep_queued

    def take(self) -> list[T]:
        """Everything queued now, in order (possibly [])."""
        with self._lock:
            return self._take_locked()

    def _take_locked(self) -> list[T]:
        items = [item for _, item in self._items]
        self._items.clear()
        self._droppable = 0
        self._keep_queued = 0
        return items

    async def get_batch(self) -> list[T]:
        """Wait until at least one item is there (or the channel is closed and empty: []) and take them all."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        while True:
            with self._lock:
                if self._items:
                    return self._take_locked()
                if self._closed:
                    return []
                fut: asyncio.Future[None] = loop.create_future()
                self._waiter = fut
            await fut


def droppable_bound(queue_size: int, cameras: int) -> int:
    """The droppable lane's bound for a channel that carries ``cameras``' samples and stats: ``queue_size`` × 8,
    and never less than four messages per camera, so a burst of one round of every camera's stats (the shard
    pipe delivers them in frames of hundreds) is not dropped — a dropped stats message is a missed sign of life."""
    return max(queue_size * 8, 4 * cameras)


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
