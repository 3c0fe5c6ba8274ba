"""``GET /admin/nodes``: the nodes of the cluster (docs/nodes.md) — what ``cctv nodes`` prints, for admins and
operators with a city-wide scope: role, cameras, ingest lag, last heartbeat, version, clock offset, and whether
a node drains or sheds work. ``GET /api/nodes``: the same as JSON.

With a Redis bus the list is every live heartbeat; one node alone (``cctv run``) shows itself. Needs
``Perm.SYSTEM`` and a city-wide scope: the nodes carry cameras anywhere in the city (403 otherwise).

nodes.html context: ``nodes`` ({name, role, cameras, lag, beat, clock, version, status}), ``alone``.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from cctv.accounts.policy import Perm
from cctv.config.node import node_name
from cctv.status.nodes import NodeBeat, NodeRegistry, software_version
from cctv.status.redis_bus import RedisBus
from web.errors import CctvError
from web.views.access import render, require, services, tr

routes = web.RouteTableDef()


async def _nodes(request: web.Request) -> tuple[list[NodeBeat], bool]:
    who = require(request, Perm.SYSTEM)
    if not who.scope.is_city:
        raise CctvError(403, tr(request, "Forbidden"),
                        tr(request, "The list of nodes covers the whole city: it needs a city-wide account."))
    svc = services(request)
    if not isinstance(svc.bus, RedisBus):
        health, _failed = svc.health(log_failures=False)  # a failing probe is /healthz's to report
        now = svc.clock.now_ms()
        return [NodeBeat(node_name(svc.config.node), "all", now, now, software_version(),
                         cameras=int(health.get("workers", 0)), lag_p99_ms=health.get("lag_ms_p99"),
                         overloaded=bool(health.get("overloaded", False)))], True
    client = aioredis.Redis.from_url(svc.bus.url, socket_connect_timeout=3, socket_timeout=3)
    try:
        return await NodeRegistry(client).nodes(), False
    except (RedisError, OSError):
        raise CctvError(503, tr(request, "Service unavailable"),
                        tr(request, "The list of nodes is in Redis, which cannot be reached now.")) from None
    finally:
        await client.aclose()


@routes.get("/admin/nodes")
async def nodes_page(request: web.Request) -> web.Response:
    nodes, alone = await _nodes(request)
    now = time.time() * 1000
    rows = []
    for n in nodes:
        status = []
        if n.draining:
            status.append(tr(request, "draining"))
        if n.overloaded:
            status.append(tr(request, "overloaded: analysis reduced"))
        rows.append({
            "name": n.name,
            "role": {"all": tr(request, "all-in-one"), "ingest": tr(request, "ingest"),
                     "web": tr(request, "web")}.get(n.role, n.role),
            "cameras": n.cameras if n.role != "web" else "—",
            "lag": "—" if n.lag_p99_ms is None else f"{n.lag_p99_ms:.0f} ms",
            "beat": tr(request, "%(s)s s ago", s=round(max(0.0, (now - n.now_ms) / 1000), 1)),
            "clock": f"{n.clock_offset_ms:+d} ms",
            "version": n.version,
            "status": ", ".join(status) or tr(request, "ok"),
        })
    return render(request, "nodes.html", {"nodes": rows, "alone": alone})


@routes.get("/api/nodes")
async def nodes_api(request: web.Request) -> web.Response:
    nodes, alone = await _nodes(request)
    now = time.time() * 1000
    return web.json_response({"alone": alone, "nodes": [
        asdict(n) | {"prefers": list(n.prefers), "beat_age_s": round((now - n.now_ms) / 1000, 1)} for n in nodes]})
