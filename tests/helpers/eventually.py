"""Deadline polls: wait until a condition holds, never for a fixed time, and fail saying what was awaited.

``eventually`` for plain tests and threads, ``aeventually`` inside a running event loop (its sleeps let the
tasks under test run). Both call ``fn`` at once, then every ``every`` seconds, return its first truthy value,
and after ``timeout`` seconds raise AssertionError naming ``what`` and ``fn``'s last value. ``what`` is a
string, or a function giving one (called only at the failure, so it can say what the state was by then).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

What = str | Callable[[], str]


def _timed_out(timeout: float, what: What, last: object) -> AssertionError:
    said = what() if callable(what) else what
    return AssertionError(f"timed out after {timeout:g}s waiting for {said}; last: {last!r}")


def eventually(fn: Callable[[], T], timeout: float, what: What, every: float = 0.2) -> T:
    """Poll ``fn`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what, last)
        time.sleep(every)


async def aeventually(fn: Callable[[], T | Awaitable[T]], timeout: float, what: What, every: float = 0.05) -> T:
    """``eventually`` for async tests: ``fn`` may be a plain function or return an awaitable (awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what, last)
        await asyncio.sleep(every)
