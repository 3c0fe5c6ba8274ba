"""Small asyncio helpers the nodes share.

``stop_task``: cancel a long-lived task and wait until it has ended — cancelling again while it runs on. One
cancel is not always enough: redis-py 8.2's asyncio client can swallow a ``CancelledError`` that arrives during
a command (reproduced: a loop of ``TIME`` and ``SET`` cancelled at random moments went on running about one time
in three hundred), and a node whose heartbeat or bus task ran on never finished stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

RECANCEL_S = 1.0


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it to end (cancelled again every RECANCEL_S while it runs on)."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_S)
    with contextlib.suppress(asyncio.CancelledError):
        task.exception()  # retrieved: an error it ended with is not reported as never retrieved
