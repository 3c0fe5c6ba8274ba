"""Typed keys of everything the web application keeps on ``app`` (no other module defines one)."""

from __future__ import annotations

import weakref
from zoneinfo import ZoneInfo

from aiohttp import web

from cctv.accounts.login_limit import LoginLimiter
from cctv.app.services import Services
from cctv.audit.query import ChainChecker
from web.node_alert_cache import OpenNodeAlerts
from web.node_client import NodeClient
from web.socket_hub import SocketHub
from web.views.tech_csv import CsvLines

SERVICES = web.AppKey("services", Services)
TIMEZONE = web.AppKey("timezone", ZoneInfo)
# Open WebSockets, closed with "going away" when the app shuts down.
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet[web.WebSocketResponse])
# Every /ws of this process behind one bus subscription (web/socket_hub.py), started and stopped with the app.
SOCKET_HUB = web.AppKey("socket_hub", SocketHub)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
# The audit log's hash chain, checked at most once a minute for the audit page.
AUDIT_CHAIN = web.AppKey("audit_chain", ChainChecker)
# The open node alerts for the banner of every page, read at most every few seconds.
OPEN_NODE_ALERTS = web.AppKey("open_node_alerts", OpenNodeAlerts)
# A web node among many: the way to the ingest nodes' internal APIs (snapshots, later recordings and clips).
NODE_CLIENT = web.AppKey("node_client", NodeClient)
# Each camera's line of the technician's CSV, kept while what it says holds (web/views/tech_csv.py).
TECH_CSV = web.AppKey("tech_csv", CsvLines)
