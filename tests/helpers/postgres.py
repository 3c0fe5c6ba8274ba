"""PostgreSQL for the store tests: its URL, and a fresh schema per test (dropped afterwards). The ``store`` and
``bare_engine`` fixtures (tests/conftest.py) run the same tests on a SQLite file and on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text

PG_URL = os.environ.get("CCTV_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"


def _require_pg() -> None:
    why = _pg_available()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)  # CI starts PostgreSQL: its absence there is a failure, not a skip
        pytest.skip(why)


@contextmanager
def pg_schema() -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL schema (dropped afterwards); skips the test where there is none."""
    _require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
