"""The product's node, as `cctv run` builds it, with the ingest processes replaced by the synthetic shard.

    .venv/bin/python -m bench.web_node --config CITY.json --port P [--procs 1] [--shard-module bench.synthetic_shard]

``serve`` composes exactly what ``cctv.cli._serve`` composes (services, admin account, web app, CoreRuntime,
IngestNode in the app's cleanup_ctx, in that order), and differs only in ``IngestNode(shard_module=...)``.
Keep the two in step: every import of project internals is in the block below, so a module move is one edit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

# -- project internals: the only place this module names them (cctv/cli.py, services, runtime are moving to
#    cctv/app/; update these lines after the move) ------------------------------------------------------
from cctv.cli import build_services
from cctv.config.models import Config
from cctv.logs import setup_logging
from cctv.runtime import CoreRuntime
from cctv.users import ensure_admin
from streams.node import IngestNode
from web.app import create_app

SHARD_MODULE = "bench.synthetic_shard"


async def serve(config: Config, host: str, port: int, *, procs: int, shard_module: str = SHARD_MODULE,
                log_level: str = "INFO") -> None:
    """``cctv.cli._serve(config, host, port, ingest=True, procs=procs)`` with ``shard_module``."""
    services = build_services(config)
    ensure_admin(services.accounts, services.clock.now_ms(), audit=services.audit.append)
    app = create_app(services)
    core = CoreRuntime(services)

    async def core_ctx(_app: web.Application) -> AsyncIterator[None]:
        await core.start()
        yield
        await core.stop()

    app.cleanup_ctx.append(core_ctx)
    node = IngestNode(services, procs, log_level, shard_module=shard_module)

    async def ingest_ctx(_app: web.Application) -> AsyncIterator[None]:
        await node.start()
        yield
        await node.stop()

    app.cleanup_ctx.append(ingest_ctx)  # cleanup runs in reverse: ingest stops before the writer

    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        print(f"bench node: {len(services.live.cameras())} cameras, serving on http://{host}:{port}/", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        services.store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True, help="city config (JSON or YAML)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--procs", type=int, default=1, help="ingest processes (synthetic shards)")
    ap.add_argument("--shard-module", default=SHARD_MODULE)
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    setup_logging(args.log_level)
    config = Config.model_validate(json.loads(args.config.read_text()))
    asyncio.run(serve(config, args.host, args.port, procs=args.procs, shard_module=args.shard_module,
                      log_level=args.log_level))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
