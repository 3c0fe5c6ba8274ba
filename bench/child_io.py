"""What a benchmark's child process (bench/ws_clients.py, bench/city_ingest.py, bench/synthetic_shard.py) shares:
its parent talks to it over stdin (lines; end of input: stop) and reads JSON lines on its stdout; a child run
from a JSON plan writes its per-event lines to the plan's ``out`` file."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO


async def stdin_reader() -> asyncio.StreamReader:
    """This process's stdin as an asyncio stream (on the running loop)."""
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def emit(record: dict[str, Any]) -> None:
    """One JSON line to the parent, at once."""
    print(json.dumps(record), flush=True)


def plan_main(run: Callable[[dict[str, Any], TextIO], Awaitable[None]]) -> int:
    """``run(plan, out)`` on a new loop: the plan read from the JSON file named by argv[1], ``out`` its ``out``
    file opened for writing."""
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    with open(plan["out"], "w", encoding="utf-8", buffering=1 << 16) as out:
        asyncio.run(run(plan, out))  # type: ignore[arg-type]
    return 0
