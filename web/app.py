"""The composition root of the web application: ``create_app(services)``.

Everything the views need comes from ``Services`` (stored under ``keys.SERVICES``); templates come from
``web/templates`` with autoescape on, static files from ``web/static`` (nothing from a CDN: control rooms are
often offline). Templates translate with ``jinja2.ext.i18n``: the request's ``_``/``ngettext``/``pgettext`` come
from the context processor ``web.i18n.i18n_context`` (never a global swapped per request). Middlewares,
outermost first: the language (``?lang=`` → cookie), aiohttp_jinja2's context processors (so that every page,
error pages too, has the request's gettext), the one error handler, then security (session, CSRF, login
required: web/security.py).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from cctv.accounts.login_limit import LoginLimiter
from cctv.app.services import Services
from cctv.audit.query import ChainChecker
from web.errors import error_middleware
from web.i18n import LANGS, i18n_context, lang_middleware, translations
from web.keys import (
    AUDIT_CHAIN,
    LIMITER,
    NODE_CLIENT,
    OPEN_NODE_ALERTS,
    SERVICES,
    SOCKET_HUB,
    TECH_CSV,
    TIMEZONE,
    WEBSOCKETS,
)
from web.node_alert_cache import OpenNodeAlerts
from web.node_banner import node_alert_middleware
from web.node_client import NodeClient
from web.security import security_middleware
from web.socket_hub import SocketHub
from web.views import (
    alerts,
    api,
    audit_page,
    clip_files,
    clips,
    node_alerts,
    nodes_page,
    pages,
    playback,
    snapshots,
    tech,
    wall,
    ws,
)
from web.views import auth as auth_views
from web.views.tech_csv import CsvLines

HERE = Path(__file__).parent


def area_url(path: str) -> str:
    return f"/area/{path}" if path else "/"


def camera_url(path: str) -> str:
    return f"/camera/{path}"


async def _socket_hub(app: web.Application) -> AsyncIterator[None]:
    """The hub lives as long as the app: every socket it serves is closed before it stops."""
    hub = app[SOCKET_HUB]
    await hub.start()
    yield
    await hub.stop()


def create_app(services: Services, node_client: NodeClient | None = None) -> web.Application:
    """``node_client``: a web node among many (``cctv serve``) — snapshots come from the ingest nodes."""
    app = web.Application(
        middlewares=[lang_middleware, aiohttp_jinja2.context_processors_middleware, error_middleware,
                     security_middleware, node_alert_middleware]
    )
    app[aiohttp_jinja2.APP_CONTEXT_PROCESSORS_KEY] = (i18n_context,)
    for lang in LANGS:  # load (or compile) every catalogue now: a broken .po fails the start, not a page
        translations(lang)
    app[SERVICES] = services
    app[LIMITER] = LoginLimiter(services.clock, services.config.auth)
    app[TIMEZONE] = ZoneInfo(services.config.site.timezone)
    app[SOCKET_HUB] = SocketHub(services, app[TIMEZONE])
    app[TECH_CSV] = CsvLines(app[TIMEZONE])
    app[WEBSOCKETS] = weakref.WeakSet()
    app[OPEN_NODE_ALERTS] = OpenNodeAlerts()
    if node_client is not None:
        app[NODE_CLIENT] = node_client
        services.health_probes.append(node_client.health)

        async def start_client(_: web.Application) -> None:
            await node_client.start()

        async def stop_client(_: web.Application) -> None:
            await node_client.stop()

        app.on_startup.append(start_client)
        app.on_cleanup.append(stop_client)

    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.newstyle_gettext = True  # type: ignore[attr-defined]  # _('%(n)s', n=1); i18n_context gives the callables
    env.globals.update(area_url=area_url, camera_url=camera_url, langs=LANGS)

    app.add_routes(auth_views.routes)
    app.add_routes(playback.routes)  # before pages: /camera/{path:.*} would take /camera/PATH/vod.m3u8
    app.add_routes(pages.routes)
    app.add_routes(wall.routes)
    app.add_routes(api.routes)
    app.add_routes(snapshots.routes)
    app.add_routes(ws.routes)
    app.add_routes(tech.routes)
    app.add_routes(alerts.routes)
    app.add_routes(node_alerts.routes)
    app.add_routes(nodes_page.routes)
    app.add_routes(clips.routes)
    app.add_routes(clip_files.routes)
    app.add_routes(audit_page.routes)
    app[AUDIT_CHAIN] = ChainChecker(services.audit)
    app.router.add_static("/static/", HERE / "static", name="static")
    app.on_shutdown.append(ws.close_all)
    app.cleanup_ctx.append(_socket_hub)
    return app
