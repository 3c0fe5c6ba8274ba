"""A web node's way to what stays on the ingest nodes (docs/nodes.md, "What stays on the owner").

Who has a camera is the lease table (``camera_leases``: the node named, while that node's lease in
``node_leases`` is live); where that node is, its heartbeat (``internal_url``). Both are read at most every
``refresh_s``, only when asked: the node leases (a few rows) each time, the camera leases only when a node's
cameras changed since (its ``moved_ms``) — not 30,000 rows every 2 s. A snapshot is
fetched from the owner's internal API (web/internal.py) with the node secret and kept per (camera, width):
while the bus has announced nothing newer for the camera (the live model's ``snapshot_ms``), the kept copy is
served without asking; otherwise the owner is asked with ``If-None-Match``. When the owner cannot be reached
the kept copy is served (a picture a little old beats none); without one the caller says so.

Recordings: a segment row names the node whose disk holds it (``segments.node``). Playback streams it from that
node (``open_segment``); an export copies it first (``locator``: for the export runner's threads) and checks
its SHA-256 against the row as for a local file. A node that is down makes its part *unavailable*, said so by
name — never "not recorded".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cctv.status.nodes import NodeRegistry
from cctv.status.snapshots import StoredSnapshot
from cctv.store.leases import LeaseStore

log = logging.getLogger(__name__)

REFRESH_S = 2.0
CACHE_BYTES = 64 << 20
TIMEOUT_S = 3.0


class NodeUnreachable(Exception):
    """The ingest node that has the camera did not answer (or nobody holds the camera now)."""


class NodeClient:
    def __init__(self, store: Any, bus_url: str, secret: str | None, refresh_s: float = REFRESH_S,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.store = store
        self.leases = LeaseStore(store.engine)
        self.bus_url = bus_url
        self._auth = {"Authorization": f"Bearer {secret}"} if secret else {}
        self.refresh_s = refresh_s
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[str, int | None], StoredSnapshot] = OrderedDict()
        self._cached = 0
        self._owners: dict[str, str] = {}  # camera → the live node holding it
        self._held: dict[str, str] = {}  # camera → the node named by its lease, live or not
        self._moved: dict[str, int] | None = None  # node → when its cameras last changed, at the last reading
        self._urls: dict[str, str] = {}
        self._read_at = -1e9
        self._lock = asyncio.Lock()
        self.session: aiohttp.ClientSession | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._redis: aioredis.Redis | None = None
        self.figures = {"fetched": 0, "not_modified": 0, "served_cached": 0, "unreachable": 0, "stale_served": 0,
                        "lease_reads": 0}

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        self._redis = aioredis.Redis.from_url(self.bus_url, socket_connect_timeout=3, socket_timeout=3)

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self._redis is not None:
            await self._redis.aclose()

    # -- who has what, where ------------------------------------------------------------------------------

    async def owner_url(self, camera: str) -> str | None:
        """The internal API of the node that holds ``camera`` now, or None."""
        await self._fresh()
        node = self._owners.get(camera)
        return self._urls.get(node) if node is not None else None

    async def node_url(self, node: str) -> str | None:
        """The internal API of ``node`` if it is alive now, else None."""
        await self._fresh()
        return self._urls.get(node)

    async def _fresh(self) -> None:
        """Read the leases and the heartbeats again when the last reading is ``refresh_s`` old."""
        async with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_s:
                await self._refresh()

    async def _refresh(self) -> None:
        now_ms = int(time.time() * 1000)
        try:
            nodes = await self.store.aread(self.leases.nodes)
            moved = {n: m for n, (_e, m) in nodes.items()}
            if moved != self._moved:  # a node took or gave cameras: read who holds what again (else a few rows)
                self._held = await self.store.aread(self.leases.held_by)
                self._moved = moved
                self.figures["lease_reads"] += 1
            live = {n for n, (expires, _m) in nodes.items() if expires > now_ms}
            self._owners = {c: n for c, n in self._held.items() if n in live}
        except Exception as exc:  # noqa: BLE001 - the last answer stays
            log.warning("node client: cannot read the leases (%s)", type(exc).__name__)
        try:
            assert self._redis is not None
            beats = await NodeRegistry(self._redis).nodes()
            self._urls = {b.name: b.internal_url.rstrip("/") for b in beats if b.internal_url}
        except (RedisError, OSError) as exc:
            log.warning("node client: cannot read the live nodes (%s)", type(exc).__name__)
        self._read_at = time.monotonic()

    # -- snapshots ---------------------------------------------------------------------------------------

    async def snapshot(self, camera: str, width: int | None, newest_ms: int | None) -> StoredSnapshot | None:
        """The camera's snapshot at ``width`` (None: as stored); None when its node has none. Raises
        NodeUnreachable when its node cannot be asked and nothing is kept."""
        key = (camera, width)
        kept = self._cache.get(key)
        if kept is not None and newest_ms is not None and kept.t_ms >= newest_ms:
            self._cache.move_to_end(key)
            self.figures["served_cached"] += 1
            return kept
        try:
            got = await self._fetch(camera, width, kept)
        except NodeUnreachable:
            self.figures["unreachable"] += 1
            if kept is not None:
                self.figures["stale_served"] += 1
                return kept
            raise
        if got is None:
            self._drop(key)
        elif got is not kept:
            self._keep(key, got)
        return got

    async def _fetch(self, camera: str, width: int | None, kept: StoredSnapshot | None) -> StoredSnapshot | None:
        base = await self.owner_url(camera)
        if base is None or self.session is None:
            raise NodeUnreachable(f"no node holds {camera} now")
        headers = dict(self._auth)
        if kept is not None:
            headers["If-None-Match"] = f'"{kept.etag}"'
        url = f"{base}/internal/snapshot/{camera}.jpg" + (f"?w={width}" if width else "")
        try:
            async with self.session.get(url, headers=headers) as r:
                if r.status == 304 and kept is not None:
                    self.figures["not_modified"] += 1
                    return kept
                if r.status == 404:
                    return None
                if r.status != 200:
                    raise NodeUnreachable(f"{base} answered {r.status}")
                body = await r.read()
                etag = r.headers.get("ETag", "").strip('"')
                t_ms = int(r.headers.get("X-Snapshot-Ms", "0") or 0)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise NodeUnreachable(f"{base}: {type(exc).__name__}") from None
        self.figures["fetched"] += 1
        return StoredSnapshot(body, t_ms, etag)

    # -- recordings ---------------------------------------------------------------------------------------

    async def open_segment(self, node: str, segment_id: int) -> aiohttp.ClientResponse:
        """The response of ``node`` for a segment (the caller reads and releases it). Raises NodeUnreachable
        when the node is not alive or does not answer; a 404 is the caller's to read."""
        base = await self.node_url(node)
        if base is None or self.session is None:
            raise NodeUnreachable(f"node {node} is not alive")
        try:
            return await self.session.get(f"{base}/internal/segment/{segment_id}", headers=self._auth,
                                          timeout=aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT_S,
                                                                        sock_read=30))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise NodeUnreachable(f"node {node}: {type(exc).__name__}") from None

    async def fetch_segment(self, node: str, segment_id: int, dest: Path) -> None:
        """Copy a segment from ``node`` into ``dest`` (written beside, then renamed)."""
        part = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        r = await self.open_segment(node, segment_id)
        try:
            if r.status != 200:
                raise NodeUnreachable(f"node {node} answered {r.status} for segment {segment_id}")
            with part.open("wb") as f:
                async for chunk in r.content.iter_chunked(1 << 16):
                    await asyncio.to_thread(f.write, chunk)
            part.replace(dest)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise NodeUnreachable(f"node {node}: {type(exc).__name__}") from None
        finally:
            r.release()
            part.unlink(missing_ok=True)

    def locator(self, cache: Path, local_root: Path) -> Callable[[Any], Path]:
        """For the export runner's threads: where a segment's file is — fetched from the node that recorded
        it into ``cache`` (its hash is checked against the row by the export). Raises ExportError naming the
        node when it cannot be reached: its part is unavailable now, never "not recorded"."""
        from cctv.evidence.export import ExportError
        from cctv.evidence.manifest import iso_ms

        def locate(seg: Any) -> Path:
            if seg.node is None:
                return local_root / seg.path
            dest = cache / seg.node / f"{seg.id}.mp4"
            if dest.is_file():
                return dest
            assert self.loop is not None
            try:
                asyncio.run_coroutine_threadsafe(self.fetch_segment(seg.node, seg.id, dest), self.loop).result(300)
            except NodeUnreachable:
                raise ExportError(
                    f"the recording of {seg.camera} from {iso_ms(seg.start_ms)} is on node {seg.node}, which "
                    "cannot be reached now: export again when it is back") from None
            return dest

        return locate

    def _keep(self, key: tuple[str, int | None], snap: StoredSnapshot) -> None:
        self._drop(key)
        self._cache[key] = snap
        self._cached += len(snap.jpeg)
        while self._cached > self.cache_bytes and self._cache:
            _, old = self._cache.popitem(last=False)
            self._cached -= len(old.jpeg)

    def _drop(self, key: tuple[str, int | None]) -> None:
        old = self._cache.pop(key, None)
        if old is not None:
            self._cached -= len(old.jpeg)

    def health(self) -> dict[str, Any]:
        return {"node_client": {**self.figures, "cached_bytes": self._cached, "owners": len(self._owners),
                                "nodes": len(self._urls)}}
