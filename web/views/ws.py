"""``GET /ws?area=PATH``: live updates for the cameras of one area ("" or absent = the city).

One bus subscription per socket (bounded: the bus drops the oldest when the socket falls behind), closed
when the socket closes. Messages (see docs/web.md): ``hello``, ``status``, ``snapshot``, ``motion``.
Texts meant for the page (state label, reason in words, since) come in the socket's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSCloseCode, web

from cctv.auth import Perm, Scope
from cctv.bus import Subscription
from cctv.messages import (
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATUS,
    MotionChange,
    SnapshotReady,
    StatusChange,
)
from cctv.rollup import Counts
from cctv.services import Services
from cctv.sites import Area, is_within
from web.i18n import format_ms, iso_utc, lang_of, reason_text, translate
from web.keys import TIMEZONE, WEBSOCKETS
from web.views.common import area_counts, area_or_404, require, scope_of, services

log = logging.getLogger(__name__)

HEARTBEAT_S = 20.0
QUEUE = 512

routes = web.RouteTableDef()


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    require(request, Perm.LIVE)  # no login: 401, a role without live pictures: 403, before the upgrade
    area = area_or_404(request, request.query.get("area", ""))  # unknown or out of scope: 404
    svc = services(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    sub = svc.bus.subscribe(TOPIC_STATUS, TOPIC_SNAPSHOT, TOPIC_MOTION, maxlen=QUEUE)
    pump: asyncio.Task[None] | None = None
    try:
        fmt = _Formatter(request, svc, area, scope_of(request))
        await ws.send_json({"type": "hello", "area": area.path, "counts": fmt.counts().as_dict()})
        pump = asyncio.create_task(_forward(ws, sub, fmt))
        async for _ in ws:  # the page sends nothing we act on; this ends when the socket closes
            pass
    except ConnectionResetError:
        log.debug("websocket for area %r went away", area.path)
    finally:
        sub.close()
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        request.app[WEBSOCKETS].discard(ws)
    return ws


async def _forward(ws: web.WebSocketResponse, sub: Subscription, fmt: _Formatter) -> None:
    try:
        async for topic, message in sub:
            out = fmt.message(topic, message)
            if out is not None:
                await ws.send_json(out)
    except ConnectionResetError:
        pass
    except Exception:
        log.exception("websocket forwarding failed")
        await ws.close(code=WSCloseCode.INTERNAL_ERROR)


class _Formatter:
    """Turns bus messages into the socket's JSON, dropping cameras outside the subscribed area."""

    def __init__(self, request: web.Request, svc: Services, area: Area, scope: Scope) -> None:
        self.svc = svc
        self.area = area
        self.scope = scope  # checked on every message: nothing about a camera outside it is ever sent
        self.request = request
        self.lang = lang_of(request)
        self.tz = request.app[TIMEZONE]

    def message(self, topic: str, m: Any) -> dict[str, Any] | None:
        camera = getattr(m, "camera", None)
        if not isinstance(camera, str) or not is_within(camera, self.area.path) or not self.scope.covers(camera):
            return None
        if topic == TOPIC_STATUS and isinstance(m, StatusChange):
            return self.status(m)
        if topic == TOPIC_SNAPSHOT and isinstance(m, SnapshotReady):
            return {"type": "snapshot", "camera": m.camera, "t_ms": m.t_ms}
        if topic == TOPIC_MOTION and isinstance(m, MotionChange):
            return {"type": "motion", "camera": m.camera, "motion": m.motion, "score": m.score, "t_ms": m.t_ms}
        return None

    def counts(self) -> Counts:
        return area_counts(self.request, self.area)

    def status(self, m: StatusChange) -> dict[str, Any]:
        live = self.svc.live
        child_counts = {}
        for child in self.area.children:  # only the child that holds the camera changed
            if is_within(m.camera, child):
                child_counts[child] = live.counts(child).as_dict()
                break
        state = str(m.state)
        return {
            "type": "status",
            "camera": m.camera,
            "state": state,
            "reason": m.reason,
            "since": iso_utc(m.since_ms),
            "since_ms": m.since_ms,
            "state_label": translate(f"state.{state}", self.lang),
            "reason_text": reason_text(state, m.reason, self.lang),
            "since_text": format_ms(m.since_ms, self.tz, self.lang),
            "counts": self.counts().as_dict(),
            "child_counts": child_counts,
        }


async def close_all(app: web.Application) -> None:
    """on_shutdown: tell every open socket the server is going away."""
    for ws in list(app[WEBSOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
