"""``GET /ws?area=PATH``: live updates for the cameras of one area ("" or absent = the city).

The socket registers a :class:`~web.socket_hub.SocketFeed` with the process's hub (one bus subscription for
every socket); what reaches its queue is already filtered to its area and scope. Messages (docs/web.md):
``hello``, ``status``, ``motion``, ``counts``, ``snapshot``, ``snapshots``, ``resync``, ``error``; each
carries ``seq``. Texts meant for the page come in the socket's language.

The page may say which cameras it shows: ``{"type": "watch", "cameras": [PATH, ...]}`` (at most
``MAX_WATCH``). From then on snapshot news is sent for those cameras only, gathered into one ``snapshots``
message per ``SNAPSHOT_EVERY_S``. ``{"type": "resync"}`` asks for a fresh snapshot of the area (a page that
saw a gap in ``seq``). Paths outside the area or the scope are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from cctv.accounts.policy import Perm
from web.i18n import gettext, lang_of
from web.keys import SOCKET_HUB, TIMEZONE, WEBSOCKETS
from web.socket_hub import MAX_WATCH, SocketFeed, SocketHub
from web.views.access import area_or_404, require, scope_of

log = logging.getLogger(__name__)

HEARTBEAT_S = 20.0
SNAPSHOT_EVERY_S = 1.0
MAX_CLIENT_MESSAGE = 64 * 1024

routes = web.RouteTableDef()


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    require(request, Perm.LIVE)  # no login: 401, a role without live pictures: 403, before the upgrade
    area = area_or_404(request, request.query.get("area", ""))  # unknown or out of scope: 404
    hub = request.app[SOCKET_HUB]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_CLIENT_MESSAGE)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    feed = SocketFeed(area, scope_of(request), lang_of(request), request.app[TIMEZONE])
    hub.register(feed)  # before the hello: what changes after it is queued, nothing falls in between
    tasks: list[asyncio.Task[None]] = []
    try:
        await _send(ws, feed, hub.snapshot(feed, "hello"))
        tasks.append(asyncio.create_task(_forward(ws, feed, hub)))
        tasks.append(asyncio.create_task(_flush_snapshots(ws, feed)))
        async for msg in ws:  # ends when the socket closes
            if msg.type == WSMsgType.TEXT:
                error = client_message(feed, msg.data)
                if error is not None:
                    await _send(ws, feed, {"type": "error", "detail": error})
    except ConnectionResetError:
        log.debug("websocket for area %r went away", area.path)
    finally:
        hub.unregister(feed)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        request.app[WEBSOCKETS].discard(ws)
    return ws


async def _send(ws: web.WebSocketResponse, feed: SocketFeed, message: dict[str, Any]) -> None:
    await ws.send_json({**message, "seq": feed.next_seq()})


async def _forward(ws: web.WebSocketResponse, feed: SocketFeed, hub: SocketHub) -> None:
    try:
        while not ws.closed:
            await feed.wake.wait()
            feed.wake.clear()
            if feed.resync:
                feed.resync = False
                hub.resyncs += 1
                await _send(ws, feed, hub.snapshot(feed, "resync"))
                continue
            while feed.queue and not feed.resync:
                await _send(ws, feed, feed.queue.popleft())
    except ConnectionResetError:
        pass
    except Exception:
        log.exception("websocket forwarding failed")
        await ws.close(code=WSCloseCode.INTERNAL_ERROR)


async def _flush_snapshots(ws: web.WebSocketResponse, feed: SocketFeed) -> None:
    """Every SNAPSHOT_EVERY_S: one ``snapshots`` message with the latest version of each watched camera."""
    try:
        while not ws.closed:
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            if feed.pending:
                batch, feed.pending = feed.pending, {}
                feed.offer({"type": "snapshots", "cameras": batch})
    except ConnectionResetError:
        pass


def client_message(feed: SocketFeed, text: str) -> str | None:
    """Act on what the page sent; an error text (in the socket's language) when it makes no sense."""
    try:
        m = json.loads(text)
    except ValueError:
        return gettext(feed.lang, "Unknown WebSocket message (%(why)s); accepted: watch, resync.", why="JSON")
    if not isinstance(m, dict):
        return gettext(feed.lang, "Unknown WebSocket message (%(why)s); accepted: watch, resync.", why="type")
    if m.get("type") == "resync":
        feed.resync = True
        feed.queue.clear()
        feed.wake.set()
        return None
    if m.get("type") != "watch":
        return gettext(feed.lang, "Unknown WebSocket message (%(why)s); accepted: watch, resync.", why="type")
    cams = m.get("cameras")
    if not isinstance(cams, list) or not all(isinstance(c, str) for c in cams) or len(cams) > MAX_WATCH:
        return gettext(feed.lang, "watch.cameras must be a list of camera paths (at most %(n)s).", n=MAX_WATCH)
    feed.set_watch(frozenset(c for c in cams if feed.visible(c)))
    return None


async def close_all(app: web.Application) -> None:
    """on_shutdown: tell every open socket the server is going away."""
    for ws in list(app[WEBSOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
