"""Typed keys of what the web application keeps on ``app``."""

from __future__ import annotations

import weakref
from zoneinfo import ZoneInfo

from aiohttp import web

from cctv.app.services import Services

SERVICES = web.AppKey("services", Services)
TIMEZONE = web.AppKey("timezone", ZoneInfo)
# Open WebSockets, closed with "going away" when the app shuts down.
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet[web.WebSocketResponse])
