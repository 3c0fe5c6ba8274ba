"""The composition root's command line: `cctv run | ingest | serve | check-config | sim | db` and the features'
commands.

With cctv/app/services.py (what is built) and cctv/app/node.py (in which order it starts and stops), the only
part of ``cctv`` that imports ``streams`` and ``web``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("cctv")


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, metavar="FILE", help="config file (default: $CCTV_CONFIG or ./config.yaml)")


def load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Load the config named by --config (or the default); exit 2 with the issues when it is invalid."""
    from cctv.config.cli import load_or_exit

    return load_or_exit(args.config, f"cctv {args.command}")[1]


def open_services(config):  # type: ignore[no-untyped-def]
    """The node's services on a migrated store (``store.url``, or the embedded SQLite file)."""
    from cctv.app.services import build_services
    from cctv.clock import SystemClock
    from cctv.store import Store, default_url

    data_dir = Path(config.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(config.store.url or default_url(data_dir))
    store.migrate()
    bus = None
    if config.bus.url:  # a node among many: the bus reaches the other nodes over Redis (docs/nodes.md)
        from cctv.config.node import node_name
        from cctv.status.redis_bus import RedisBus

        bus = RedisBus(config.bus.url, node_name(config.node))
    return build_services(config, clock=SystemClock(), store=store, data_dir=data_dir, bus=bus)


# -- cctv run ------------------------------------------------------------------------------------------


def shared_settings_missing(config) -> list[str]:  # type: ignore[no-untyped-def]
    """What a node among many (``cctv serve``, ``cctv ingest``) needs and ``config`` lacks."""
    return [k for k, v in (("store.url", config.store.url), ("bus.url", config.bus.url),
                           ("node.secret", config.node.secret)) if not v]


async def run_until_signalled(services, lifecycle, app, host: str, port: int, banner: str) -> None:  # type: ignore[no-untyped-def]
    """Start ``lifecycle``, serve ``app`` on host:port, print ``banner``; at SIGTERM/SIGINT close the sockets,
    stop the lifecycle in reverse and close the store."""
    from aiohttp import web

    from cctv.app.gc_pauses import GcPauses

    pauses = GcPauses()
    pauses.install()
    services.health_probes.append(pauses.health)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await lifecycle.start()
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        pauses.freeze_started()
        services.rollup.on_warm.append(pauses.freeze_loaded)  # a reload's rows and figures: frozen as well
        print(banner, flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()  # sockets closed, no request in flight
        await lifecycle.stop()  # ingest first, then the writers drain (and, one node alone, intervals close)
        services.snapshots.close()
        services.store.close()
        pauses.uninstall()


def cmd_serve(args: argparse.Namespace) -> int:
    """``cctv serve``: a web node. It sees the cameras through the shared store and the Redis bus, so both must
    be configured; it writes no camera rows itself."""
    from cctv.logs import setup_logging

    setup_logging(args.log_level)
    config = load(args)
    missing = shared_settings_missing(config)
    if missing:
        print(f"cctv serve: {args.config}: {', '.join(missing)} must be set: a web node shares the store "
              "(PostgreSQL) and the bus (Redis) with the ingest nodes, and fetches their pictures with the node "
              "secret (docs/nodes.md). For one machine, use `cctv run`.", file=sys.stderr)
        return 2
    host = args.host or config.web.host
    port = args.port or config.web.port
    try:
        asyncio.run(serve(config, host, port, ingest=False, log_level=args.log_level, web_node=True))
    except OSError as exc:
        print(f"cctv serve: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """``cctv ingest``: an ingest node among many. Its cameras follow the leases it holds in the shared store;
    who is alive comes from the heartbeats on the Redis bus — both must be configured."""
    from cctv.logs import setup_logging

    setup_logging(args.log_level)
    config = load(args)
    missing = shared_settings_missing(config)
    if missing:
        print(f"cctv ingest: {args.config}: {', '.join(missing)} must be set: an ingest node shares the store "
              "(PostgreSQL: leases, rows) and the bus (Redis: who is alive) with the other nodes, and answers "
              "web nodes that show the node secret (docs/nodes.md). For one machine, use `cctv run`.",
              file=sys.stderr)
        return 2
    host = args.host or "127.0.0.1"
    port = args.port or config.web.port
    try:
        asyncio.run(ingest_node(config, host, port, procs=args.ingest_procs, log_level=args.log_level))
    except OSError as exc:
        print(f"cctv ingest: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


async def ingest_node(config, host: str, port: int, *, procs: int | None = None,  # type: ignore[no-untyped-def]
                      log_level: str = "INFO") -> None:
    """``cctv ingest``: the ingest node's steps started in order, its internal HTTP server (``/healthz``) up,
    then all stopped in reverse at SIGTERM/SIGINT."""
    from cctv.app.node import Lifecycle, ingest_node_steps
    from cctv.config.node import node_name
    from streams.ingest.node import IngestNode
    from web.internal import create_internal_app

    services = open_services(config)
    node = IngestNode(services, procs, log_level, cluster=True)
    internal_url = config.node.internal_url or f"http://{host}:{port}"
    lifecycle = Lifecycle(ingest_node_steps(services, node, internal_url))
    await run_until_signalled(
        services, lifecycle, create_internal_app(services), host, port,
        f"Kota Tangguh CCTV ingest node {node_name(config.node)}: {len(services.sites.cameras)} cameras in the "
        f"inventory, health on http://{host}:{port}/healthz")


def cmd_run(args: argparse.Namespace) -> int:
    from cctv.logs import setup_logging

    setup_logging(args.log_level)
    config = load(args)
    host = args.host or config.web.host
    port = args.port or config.web.port
    try:
        asyncio.run(serve(config, host, port, ingest=not args.no_ingest, procs=args.ingest_procs,
                          log_level=args.log_level))
    except OSError as exc:
        print(f"cctv run: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


async def serve(config, host: str, port: int, *, ingest: bool, procs: int | None = None,  # type: ignore[no-untyped-def]
                log_level: str = "INFO", shard_module: str = "streams.ingest.shard", web_node: bool = False) -> None:
    """``cctv run``: the node's steps (cctv/app/node.py) started in order, the web served, then all stopped in
    reverse. ``shard_module`` is what each ingest process runs (a benchmark's synthetic shard). ``web_node``:
    ``cctv serve``, a web node among many (no ingest, no writers)."""
    from cctv.accounts.users import ensure_admin
    from cctv.app.node import Lifecycle, Step, node_steps, web_node_steps
    from web.app import create_app

    services = open_services(config)
    ensure_admin(services.accounts, services.clock.now_ms(), audit=services.audit.append)
    ingest_step = None
    if ingest:
        from streams.ingest.node import IngestNode

        node = IngestNode(services, procs, log_level, shard_module)
        ingest_step = Step("ingest", node.start, node.stop)
    lifecycle = Lifecycle(web_node_steps(services) if web_node else node_steps(services, ingest_step))
    client = None
    if web_node:
        from web.node_client import NodeClient

        client = NodeClient(services.store, config.bus.url, config.node.secret)
        # exports read each segment from the ingest node that recorded it (checked against its hash)
        services.exports.locate = client.locator(services.exports.exports_dir / ".segments",
                                                 services.exports.recordings)
    await run_until_signalled(
        services, lifecycle, create_app(services, client), host, port,
        f"Kota Tangguh CCTV: {len(services.sites.cameras)} cameras, serving on http://{host}:{port}/")


# -- cctv db -------------------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    from cctv.store import Store, default_url
    from cctv.store.db import current_revisions, head_revisions

    config = load(args)
    store = Store(config.store.url or default_url(Path(config.data_dir)))
    try:
        if args.db_command == "upgrade":
            store.migrate()
        cur, heads = sorted(current_revisions(store.engine)), sorted(head_revisions())
        print(f"schema revision: {', '.join(cur) or 'none'} (latest: {', '.join(heads)})")
    finally:
        store.close()
    return 0


# -- entry ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cctv", description="Kota Tangguh CCTV: city-wide RT camera monitoring")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="ingest + web in one process (embedded default)")
    add_config_arg(run)
    run.add_argument("--host", default=None, help="listen address (default: web.host from config)")
    run.add_argument("--port", type=int, default=None, help="listen port (default: web.port from config)")
    run.add_argument("--no-ingest", action="store_true", help="serve the web only")
    run.add_argument("--ingest-procs", type=int, default=None, metavar="N",
                     help="ingest processes to spread the cameras over (default: ingest.procs, 0 = one per core)")
    run.add_argument("--log-level", default=os.environ.get("CCTV_LOG_LEVEL", "INFO"))
    run.set_defaults(func=cmd_run)

    srv = sub.add_parser("serve", help="a web node among many: pages, API, sockets (needs store.url and bus.url)")
    add_config_arg(srv)
    srv.add_argument("--host", default=None, help="listen address (default: web.host from config)")
    srv.add_argument("--port", type=int, default=None, help="listen port (default: web.port from config)")
    srv.add_argument("--log-level", default=os.environ.get("CCTV_LOG_LEVEL", "INFO"))
    srv.set_defaults(func=cmd_serve)

    ing = sub.add_parser("ingest", help="an ingest node among many: watches the cameras it holds leases for "
                         "(needs store.url and bus.url)")
    add_config_arg(ing)
    ing.add_argument("--host", default=None, help="listen address of its /healthz (default: 127.0.0.1)")
    ing.add_argument("--port", type=int, default=None, help="port of its /healthz (default: web.port from config)")
    ing.add_argument("--ingest-procs", type=int, default=None, metavar="N",
                     help="ingest processes (default: ingest.procs, 0 = one per core)")
    ing.add_argument("--log-level", default=os.environ.get("CCTV_LOG_LEVEL", "INFO"))
    ing.set_defaults(func=cmd_ingest)

    db = sub.add_parser("db", help="database schema")
    add_config_arg(db)
    db.add_argument("db_command", choices=["upgrade", "current"])
    db.set_defaults(func=cmd_db)

    from cctv.config.cli import register as register_config
    from streams.camera.analyze import register as register_analyze
    from streams.sim.cli import register as register_sim

    register_config(sub)
    from cctv.accounts.cli import register as register_users

    register_users(sub)
    register_sim(sub)
    register_analyze(sub)
    from cctv.evidence.cli import register as register_evidence

    register_evidence(sub)
    from cctv.app.nodes_cli import register as register_nodes

    register_nodes(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
