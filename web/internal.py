"""An ingest node's own HTTP server (``cctv ingest``): what the other nodes and the operators' monitoring ask it.

Never a page: browsers talk to web nodes only (docs/nodes.md). Today it answers ``/healthz`` (the node's role,
name and ingest figures); the internal API for snapshots, recordings and clips — authenticated with the node
secret — joins it here.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from cctv.app.services import Services
from cctv.config.node import node_name
from web.keys import SERVICES

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    ingest: dict[str, Any] = {}
    probe_errors = 0
    for probe in svc.health_probes:
        try:
            ingest.update(probe())
        except Exception:  # noqa: BLE001 - counted in the answer
            probe_errors += 1
            log.exception("health probe %r failed", probe)
    return web.json_response({"status": "ok", "role": "ingest", "node": node_name(svc.config.node),
                              "bus_dropped": svc.bus.dropped, "probe_errors": probe_errors, "ingest": ingest})


def create_internal_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    return app
