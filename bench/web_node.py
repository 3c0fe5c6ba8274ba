"""The product's node, as `cctv run` builds it, with the ingest processes replaced by the synthetic shard.

    .venv/bin/python -m bench.web_node --config CITY.json --port P [--procs 1] [--shard-module bench.synthetic_shard]

It is ``cctv run``'s own composition root (``cctv.app.cli.serve``: services, node steps, web app), called with
``shard_module`` so its ingest processes are the synthetic shard instead of RTSP readers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from cctv.app.cli import serve as cctv_serve
from cctv.config.models import Config
from cctv.logs import setup_logging

SHARD_MODULE = "bench.synthetic_shard"


async def serve(config: Config, host: str, port: int, *, procs: int, shard_module: str = SHARD_MODULE,
                log_level: str = "INFO") -> None:
    """``cctv run``'s own composition (cctv.app.cli.serve), with ``shard_module`` for its ingest processes."""
    await cctv_serve(config, host, port, ingest=True, procs=procs, log_level=log_level, shard_module=shard_module)


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
