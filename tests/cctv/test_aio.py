"""stop_task: a long-lived task whose first cancel is swallowed (as redis-py 8.2's asyncio client can, mid-command)
still stops, and a task that ends with an error is stopped without a "never retrieved" report (cctv/aio.py)."""

from __future__ import annotations

import asyncio

import pytest

from cctv import aio


async def test_a_task_that_swallows_a_cancel_is_cancelled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aio, "RECANCEL_S", 0.01)
    swallowed = 0

    async def loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what a library that eats the cancel does; the loop goes on

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await asyncio.wait_for(aio.stop_task(task), 10)
    assert task.cancelled() and swallowed == 1


async def test_a_task_that_failed_or_none_is_stopped_quietly() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await aio.stop_task(task)
    await aio.stop_task(None)
    assert task.done() and isinstance(task.exception(), RuntimeError)
