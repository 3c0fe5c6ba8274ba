"""Engines and migrations. SQLite file by default (WAL), any SQLAlchemy URL by config."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).with_name("migrations")


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'cctv.sqlite3').as_posix()}"


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # a file keeps its connections (a pool: no reconnect and pragmas per transaction); ":memory:" would be a
        # new, empty database per connection, so it gets none
        memory = not parsed.database or parsed.database == ":memory:"
        pool: dict[str, Any] = {"poolclass": NullPool} if memory else {"pool_size": 4, "max_overflow": 8}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` (idempotent). "heads": every branch, so features developed side by side
    can each add a migration from the same parent (a merge revision joins them later)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


@contextlib.contextmanager
def transaction(engine: Engine, conn: Connection | None = None) -> Iterator[Connection]:
    """``conn`` as it is (the caller owns its transaction), or a new transaction on ``engine``."""
    if conn is not None:
        yield conn
        return
    with engine.begin() as new:
        yield new
