"""Which nodes are alive: each node's heartbeat in Redis (``cctv:node:<name>``, expiring), listed by any node.

A heartbeat says who the node is (role, version, since when), what it carries (cameras, ingest lag) and what
assignment needs to know about it (capacity, preferred areas, draining). It expires after ``ttl_s`` unless
renewed: a node that stops, crashes or is cut off vanishes from the list by itself, with no coordinator. Each
beat also records the node's clock against Redis's own (``TIME``), so ``cctv nodes`` shows every node's clock
offset — leases and intervals are dated by the nodes' clocks, and a skewed one must be visible.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import redis.asyncio as aioredis

KEY = "cctv:node:"
DRAIN_KEY = "cctv:drain:"  # set by `cctv nodes drain NAME`: that ingest node gives its cameras away (maintenance)


def software_version() -> str:
    try:
        return version("kota-tangguh-cctv")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class NodeBeat:
    name: str
    role: str  # "all" (cctv run), "ingest", "web"
    started_ms: int
    now_ms: int  # the node's clock when it beat
    version: str = field(default_factory=software_version)
    cameras: int = 0  # cameras it watches now
    lag_p99_ms: float | None = None  # its ingest lag, when it ingests
    capacity: int | None = None
    prefers: tuple[str, ...] = ()
    draining: bool = False
    overloaded: bool = False  # it sheds analysis to keep up (streams/ingest/shed.py)
    soft_capacity: int | None = None  # overloaded: the cameras it asks to keep (assignment's soft cap)
    internal_url: str | None = None  # an ingest node's internal API, for the web nodes (node.internal_url)
    clock_offset_ms: int = 0  # now_ms − Redis's clock at the beat (set by the registry)


class NodeRegistry:
    def __init__(self, client: aioredis.Redis, ttl_s: float = 10.0) -> None:
        if ttl_s <= 0:
            raise ValueError(f"heartbeat ttl must be > 0 s, got {ttl_s}")
        self.client = client
        self.ttl_ms = int(ttl_s * 1000)

    async def beat(self, beat: NodeBeat) -> None:
        sec, usec = await self.client.time()
        redis_ms = int(sec) * 1000 + int(usec) // 1000
        data = asdict(beat) | {"clock_offset_ms": beat.now_ms - redis_ms, "prefers": list(beat.prefers)}
        await self.client.set(KEY + beat.name, json.dumps(data), px=self.ttl_ms)

    async def leave(self, name: str) -> None:
        """A clean stop: gone from the list at once, not after the ttl."""
        await self.client.delete(KEY + name)

    async def set_draining(self, name: str, draining: bool) -> None:
        """Maintenance mode for ``name``: its cameras move to the other nodes, gradually; undone by False."""
        if draining:
            await self.client.set(DRAIN_KEY + name, "1")
        else:
            await self.client.delete(DRAIN_KEY + name)

    async def draining(self, name: str) -> bool:
        return bool(await self.client.exists(DRAIN_KEY + name))

    async def nodes(self) -> list[NodeBeat]:
        """Every node whose heartbeat has not expired, by name; a heartbeat that cannot be read is skipped."""
        keys = sorted([k async for k in self.client.scan_iter(match=KEY + "*", count=500)])
        out = []
        for raw in await self.client.mget(keys) if keys else []:
            beat = _read(raw)
            if beat is not None:
                out.append(beat)
        return sorted(out, key=lambda b: b.name)


def _read(raw: Any) -> NodeBeat | None:
    if raw is None:
        return None  # expired between the scan and the read
    try:
        d = json.loads(raw)
        d["prefers"] = tuple(d.get("prefers") or ())
        return NodeBeat(**d)
    except (ValueError, TypeError):
        return None
