"""``cctv nodes``: the live nodes from their heartbeats in Redis (cctv/status/nodes.py), as a table or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, TypeVar

from cctv.redact import redact_url

T = TypeVar("T")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from cctv.app.cli import add_config_arg

    p = sub.add_parser("nodes", help="the live nodes: role, cameras, lag, last heartbeat, version, clock offset")
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object per node")
    p.set_defaults(func=cmd_nodes)
    p_sub = p.add_subparsers(dest="nodes_command", metavar="ACTION")
    for action, text in (("drain", "maintenance: NODE gives its cameras to the other ingest nodes, gradually"),
                         ("undrain", "NODE takes cameras again")):
        a = p_sub.add_parser(action, help=text)
        a.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help="as for `cctv nodes`")
        a.add_argument("node", metavar="NODE", help="the node's name (node.name in its config)")
        a.set_defaults(func=cmd_drain, draining=action == "drain")


def _bus_url_or_exit(config, command: str) -> str | None:  # type: ignore[no-untyped-def]
    if not config.bus.url:
        print(f"{command}: bus.url is not set: one node alone (`cctv run`) has no registry", file=sys.stderr)
        return None
    return str(config.bus.url)


def _registry_call(url: str, command: str, fn: Callable[[Any], Awaitable[T]]) -> T | None:
    """``fn(registry)`` on a registry over ``url``; None, with the reason printed, when Redis cannot be reached."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    from cctv.status.nodes import NodeRegistry

    async def call() -> T:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=3)
        try:
            return await fn(NodeRegistry(client))
        finally:
            await client.aclose()

    try:
        return asyncio.run(call())
    except (RedisError, OSError) as exc:
        print(f"{command}: cannot reach {redact_url(url)}: {exc}", file=sys.stderr)
        return None


def cmd_drain(args: argparse.Namespace) -> int:
    from cctv.config.cli import load_or_exit
    from cctv.config.node import NODE_NAME_RE

    command = f"cctv nodes {'drain' if args.draining else 'undrain'}"
    config = load_or_exit(args.config, command)[1]
    url = _bus_url_or_exit(config, command)
    if url is None:
        return 2
    import re

    if not re.match(NODE_NAME_RE, args.node):
        print(f"{command}: {args.node!r} is not a node name (letters, digits, '.', '_', '-')", file=sys.stderr)
        return 2

    async def write(reg: Any) -> list[str]:
        await reg.set_draining(args.node, args.draining)
        return [n.name for n in await reg.nodes()]

    alive = _registry_call(url, command, write)
    if alive is None:
        return 1
    state = "draining: its cameras move to the other ingest nodes" if args.draining else "takes cameras again"
    note = "" if args.node in alive else " (not alive now: it applies when it starts)"
    print(f"node {args.node} {state}{note}")
    return 0


def cmd_nodes(args: argparse.Namespace) -> int:
    from cctv.config.cli import load_or_exit

    config = load_or_exit(args.config, "cctv nodes")[1]
    url = _bus_url_or_exit(config, f"cctv nodes: {args.config}")
    if url is None:
        return 2
    nodes = _registry_call(url, "cctv nodes", lambda reg: reg.nodes())
    if nodes is None:
        return 1
    now = time.time() * 1000
    if args.json:
        for n in nodes:
            print(json.dumps(asdict(n) | {"beat_age_s": round((now - n.now_ms) / 1000, 1)}))
        return 0
    print(f"{'node':<24} {'role':<7} {'cameras':>7} {'lag p99':>8} {'beat':>6} {'clock':>8}  version")
    for n in nodes:
        lag = "-" if n.lag_p99_ms is None else f"{n.lag_p99_ms:.0f} ms"
        flags = " draining" if n.draining else ""
        print(f"{n.name:<24} {n.role:<7} {n.cameras:>7} {lag:>8} {(now - n.now_ms) / 1000:>5.1f}s "
              f"{n.clock_offset_ms:>+6d}ms  {n.version}{flags}")
    print(f"{len(nodes)} node(s) alive")
    return 0
