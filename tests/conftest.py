"""Shared fixtures. Web: ``web_services`` (real Services over tmp_path) and ``web_client`` (a real socket).
Store: ``store`` and ``bare_engine``, each on a SQLite file and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cctv.app.services import Services, build_services
from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.store import Store, make_engine

# before any helper is imported: their asserts then report what they compared, as the tests' own do
pytest.register_assert_rewrite("tests.helpers")

from tests.helpers.postgres import PG_URL, pg_schema  # noqa: E402
from tests.helpers.web import FAST_HASH, WEB_CONFIG, add_user, login  # noqa: E402


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
