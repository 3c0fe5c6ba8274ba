"""Reading ``/ws`` like live.js does: every message's ``seq`` must follow the previous one's."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import aiohttp

_seq: weakref.WeakKeyDictionary[aiohttp.ClientWebSocketResponse, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


async def receive(ws: aiohttp.ClientWebSocketResponse, *types: str, timeout: float = 5) -> dict[str, Any]:
    """The next message (its ``seq`` checked and removed) of one of ``types`` — by default any type but
    ``counts``, which the area aggregates send on their own clock. Messages passed over are kept: ``seen(ws)``."""
    seen = _seq.setdefault(ws, [])
    while True:
        m = await asyncio.wait_for(ws.receive_json(), timeout=timeout)
        seq = m.pop("seq", None)
        expected = len(seen) + 1
        assert seq == expected, f"message {m.get('type')!r} has seq {seq}, expected {expected}"
        seen.append(m)
        if (m["type"] in types) if types else m["type"] != "counts":
            return m


def seen(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every message received on ``ws`` so far, in order, passed over or not."""
    return list(_seq.get(ws, []))
