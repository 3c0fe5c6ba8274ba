"""Shared fixtures. Web: ``web_services`` (real Services over tmp_path) and ``web_client`` (a real socket).
Store: ``store`` and ``bare_engine``, each on a SQLite file and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cctv.accounts.passwords import Params
from cctv.app.services import Services, build_services
from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.store import Store, make_engine
from tests.helpers.postgres import PG_URL, pg_schema

WEB_SECRET = "s3cr3t-Pa55"  # the password in one camera's URL: must never reach a response

WEB_CONFIG: dict[str, Any] = {
    "site": {"name": "Kota Jambi", "timezone": "Asia/Jakarta"},
    "kecamatan": [
        {
            "slug": "kota-baru",
            "name": "Kota Baru",
            "kelurahan": [
                {
                    "slug": "paal-lima",
                    "name": "Paal Lima",
                    "rt": [
                        {
                            "slug": "rt-07",
                            "name": "RT 07",
                            "cameras": [
                                {"slug": "cam-1", "name": "Simpang Masjid",
                                 "url": f"rtsp://admin:{WEB_SECRET}@10.0.0.7:554/sub"},
                                {"slug": "cam-2", "name": "Pos Ronda", "url": "rtsp://10.0.0.8:554/sub"},
                            ],
                        },
                        {
                            "slug": "rt-08",
                            "name": "RT 08",
                            "cameras": [{"slug": "cam-1", "name": "Gang Mawar", "url": "rtsp://10.0.0.9/sub"}],
                        },
                    ],
                },
                {
                    "slug": "simpang-tiga-sipin",
                    "name": "Simpang III Sipin",
                    "rt": [
                        {
                            "slug": "rt-01",
                            "name": "RT 01",
                            "cameras": [{"slug": "cam-1", "name": "Lapangan", "url": "rtsp://10.0.1.1/sub"}],
                        }
                    ],
                },
            ],
        },
        {
            "slug": "telanaipura",
            "name": "Telanaipura",
            "kelurahan": [
                {
                    "slug": "pematang-sulur",
                    "name": "Pematang Sulur",
                    "rt": [
                        {
                            "slug": "rt-03",
                            "name": "RT 03",
                            "cameras": [{"slug": "cam-1", "name": "Jembatan", "url": "rtsp://10.0.2.1/sub"}],
                        }
                    ],
                }
            ],
        },
    ],
}


@pytest.fixture
def web_services(tmp_path: Path) -> Iterator[Services]:
    config = Config.model_validate(WEB_CONFIG)
    clock = FakeClock()
    store = Store(f"sqlite:///{tmp_path}/t.sqlite3")
    store.migrate()
    services = build_services(config, clock=clock, store=store, data_dir=tmp_path, password_params=FAST_HASH)
    try:
        yield services
    finally:
        services.snapshots.close()
        store.close()


FAST_HASH = Params(log2_n=10, r=8, p=1)  # tests only: the default costs ~30 MiB and ~60 ms per hash
PASSWORD = "correct horse battery"  # every test account's password
ROLES = ("admin", "operator", "technician", "police", "viewer")


async def login(client: Any, username: str, password: str = PASSWORD, *, next_: str = "/") -> Any:
    """Log ``client`` in through the real form (GET for the CSRF token, then POST); returns the response."""
    html = await (await client.get("/login")).text()
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the login form"
    return await client.post("/login", data={"username": username, "password": password, "next": next_,
                                             "csrf_token": m.group(1)}, allow_redirects=False)


async def csrf_of(client: Any) -> str:
    """The session's CSRF token, as the page's <meta name="csrf-token"> shows it."""
    html = await (await client.get("/")).text()
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def add_user(svc: Services, name: str, role: str, scopes: list[str], password: str = PASSWORD) -> None:
    svc.accounts.add_user(name, password, role, scopes, svc.clock.now_ms(), svc.sites)


@pytest.fixture
async def web_server(aiohttp_server: Any, web_services: Services) -> AsyncIterator[Any]:
    """The web app over a real socket, with what a web node runs for it (roll-up history, live model, area
    aggregates: cctv/app/node.py's view steps)."""
    from cctv.app.node import Lifecycle, view_steps
    from web.app import create_app

    views = Lifecycle(view_steps(web_services))
    await views.start()
    try:
        yield await aiohttp_server(create_app(web_services))
    finally:
        await views.stop()


@pytest.fixture
async def anon_client(aiohttp_client: Any, web_server: Any) -> Any:
    """A client that has not logged in."""
    return await aiohttp_client(web_server)


@pytest.fixture
def client_as(aiohttp_client: Any, web_server: Any, web_services: Services) -> Any:
    """``await client_as(role, scope, ...)``: a new account with that role and scope, and a client logged in."""
    made = 0

    async def make(role: str, *scopes: str) -> Any:
        nonlocal made
        made += 1
        name = f"{role}{made}"
        add_user(web_services, name, role, list(scopes) or ["/"])
        client = await aiohttp_client(web_server)
        r = await login(client, name)
        assert r.status == 303, await r.text()
        return client

    return make


@pytest.fixture
async def web_client(client_as: Any) -> Any:
    """A client logged in as a city-wide admin."""
    return await client_as("admin", "/")


# -- the store, on SQLite and on PostgreSQL -----------------------------------------------------------


@pytest.fixture(name="store", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_fixture(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'cctv.sqlite3'}")
        s.migrate()
        yield s
        s.close()
        return
    with pg_schema() as engine:
        s = Store(PG_URL, engine=engine)
        s.migrate()
        try:
            yield s
        finally:
            s.close()


@pytest.fixture(name="bare_engine", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bare_engine_fixture(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """An empty database, not migrated (for testing migrations from an older revision)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'bare.sqlite3'}")
        yield engine
        engine.dispose()
        return
    with pg_schema() as engine:
        yield engine
