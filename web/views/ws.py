"""``GET /ws?area=PATH``: live updates for the cameras of one area ("" or absent = the city).

One bus subscription per socket (bounded: the bus drops the oldest when the socket falls behind), closed
when the socket closes. Messages (see docs/web.md): ``hello``, ``status``, ``snapshot``, ``snapshots``,
``motion``, ``error``. Texts meant for the page (state label, reason in words, since) come in the socket's
language.

The page may say which cameras it shows: ``{"type": "watch", "cameras": [PATH, ...]}`` (at most
``MAX_WATCH``). From then on snapshot news is sent for those cameras only, gathered into one ``snapshots``
message per ``SNAPSHOT_EVERY_S`` — a wall of 64 tiles over a city of thousands of cameras gets one small
message a second, not a message per snapshot of every camera. Status and motion are sent for every camera of
the area, at once (counts and colours must not wait). Paths outside the area or the scope are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

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
from web.i18n import format_ms, gettext, iso_utc, lang_of
from web.i18n_labels import reason_text, state_label
from web.keys import TIMEZONE, WEBSOCKETS
from web.views.common import area_counts, area_or_404, require, scope_of, services

log = logging.getLogger(__name__)

HEARTBEAT_S = 20.0
QUEUE = 512
MAX_WATCH = 256
SNAPSHOT_EVERY_S = 1.0
MAX_CLIENT_MESSAGE = 64 * 1024

routes = web.RouteTableDef()


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    require(request, Perm.LIVE)  # no login: 401, a role without live pictures: 403, before the upgrade
    area = area_or_404(request, request.query.get("area", ""))  # unknown or out of scope: 404
    svc = services(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_CLIENT_MESSAGE)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    sub = svc.bus.subscribe(TOPIC_STATUS, TOPIC_SNAPSHOT, TOPIC_MOTION, maxlen=QUEUE)
    tasks: list[asyncio.Task[None]] = []
    try:
        fmt = _Formatter(request, svc, area, scope_of(request))
        await ws.send_json({"type": "hello", "area": area.path, "counts": fmt.counts().as_dict()})
        tasks.append(asyncio.create_task(_forward(ws, sub, fmt)))
        tasks.append(asyncio.create_task(_flush_snapshots(ws, fmt)))
        async for msg in ws:  # ends when the socket closes
            if msg.type == WSMsgType.TEXT:
                error = fmt.client_message(msg.data)
                if error is not None:
                    await ws.send_json({"type": "error", "detail": error})
    except ConnectionResetError:
        log.debug("websocket for area %r went away", area.path)
    finally:
        sub.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
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


async def _flush_snapshots(ws: web.WebSocketResponse, fmt: _Formatter) -> None:
    """Every SNAPSHOT_EVERY_S: one ``snapshots`` message with the latest version of each watched camera."""
    try:
        while not ws.closed:
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            if fmt.pending:
                batch, fmt.pending = fmt.pending, {}
                await ws.send_json({"type": "snapshots", "cameras": batch})
    except ConnectionResetError:
        pass


class _Formatter:
    """Turns bus messages into the socket's JSON, dropping cameras outside the subscribed area."""

    def __init__(self, request: web.Request, svc: Services, area: Area, scope: Scope) -> None:
        self.svc = svc
        self.area = area
        self.scope = scope  # checked on every message: nothing about a camera outside it is ever sent
        self.request = request
        self.lang = lang_of(request)
        self.tz = request.app[TIMEZONE]
        self.watch: frozenset[str] | None = None  # None: the page never said; every snapshot, one by one
        self.pending: dict[str, int] = {}  # watched camera -> latest snapshot t_ms not yet sent

    def client_message(self, text: str) -> str | None:
        """Act on what the page sent; an error text (in the socket's language) when it makes no sense."""
        try:
            m = json.loads(text)
        except ValueError:
            return gettext(self.lang, "Unknown WebSocket message (%(why)s); accepted: watch.", why="JSON")
        if not isinstance(m, dict) or m.get("type") != "watch":
            return gettext(self.lang, "Unknown WebSocket message (%(why)s); accepted: watch.", why="type")
        cams = m.get("cameras")
        if not isinstance(cams, list) or not all(isinstance(c, str) for c in cams) or len(cams) > MAX_WATCH:
            return gettext(self.lang, "watch.cameras must be a list of camera paths (at most %(n)s).", n=MAX_WATCH)
        self.watch = frozenset(c for c in cams if self._visible(c))
        self.pending = {c: t for c, t in self.pending.items() if c in self.watch}
        return None

    def _visible(self, camera: str) -> bool:
        return is_within(camera, self.area.path) and self.scope.covers(camera)

    def message(self, topic: str, m: Any) -> dict[str, Any] | None:
        camera = getattr(m, "camera", None)
        if not isinstance(camera, str) or not self._visible(camera):
            return None
        if topic == TOPIC_STATUS and isinstance(m, StatusChange):
            return self.status(m)
        if topic == TOPIC_SNAPSHOT and isinstance(m, SnapshotReady):
            if self.watch is None:
                return {"type": "snapshot", "camera": m.camera, "t_ms": m.t_ms}
            if m.camera in self.watch:
                self.pending[m.camera] = m.t_ms
            return None
        if topic == TOPIC_MOTION and isinstance(m, MotionChange):
            return {
                "type": "motion",
                "camera": m.camera,
                "motion": m.motion,
                "score": m.score,
                "t_ms": m.t_ms,
            }
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
            "state_label": state_label(self.lang, state),
            "reason_text": reason_text(state, m.reason, self.lang),
            "since_text": format_ms(m.since_ms, self.tz, self.lang),
            "counts": self.counts().as_dict(),
            "child_counts": child_counts,
        }


async def close_all(app: web.Application) -> None:
    """on_shutdown: tell every open socket the server is going away."""
    for ws in list(app[WEBSOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
