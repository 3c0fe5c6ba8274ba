"""Alembic environment: runs on the connection the Store hands over (``config.attributes['connection']``)."""

from alembic import context

from cctv.store import segment_models  # noqa: F401  (tables defined beside models.py)
from cctv.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through cctv.store.db.migrate
    raise RuntimeError("run migrations through `cctv db upgrade`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
