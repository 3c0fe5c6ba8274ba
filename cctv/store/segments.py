"""Store operations on recording segments. Writes go through the Store's one writer thread.

Rows of newly recorded segments arrive on the bus (topic ``segment``) and the store writer
(cctv/store/writer.py) adds them in batches; maintenance (reconciliation, retention) writes through
``Store.awrite``. The order of writes on the one writer thread keeps "file complete → row" and
"garbage → unlink → delete row" sequences intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, exists, func, insert, select, update

from cctv.recording import Segment
from cctv.store.db import transaction
from cctv.store.segment_models import SegmentLock, SegmentRow
from cctv.store.store import Store


@dataclass(frozen=True, slots=True)
class NewSegment:
    camera: str
    start_ms: int
    end_ms: int
    path: str
    size_bytes: int
    sha256: str
    packets: int
    node: str | None = None  # the ingest node whose disk holds it (None: the one node of ``cctv run``)


def add_segment(store: Store, seg: NewSegment, conn: Connection | None = None) -> int:
    with transaction(store.engine, conn) as conn:
        res = conn.execute(
            insert(SegmentRow).values(
                camera=seg.camera, start_ms=seg.start_ms, end_ms=seg.end_ms, path=seg.path,
                size_bytes=seg.size_bytes, sha256=seg.sha256, packets=seg.packets, garbage=False, node=seg.node,
            ).returning(SegmentRow.id)
        )
        return int(res.scalar_one())


def _locked() -> object:
    return exists().where(SegmentLock.segment_id == SegmentRow.id)


def _columns() -> tuple:
    return (SegmentRow.id, SegmentRow.camera, SegmentRow.start_ms, SegmentRow.end_ms, SegmentRow.size_bytes,
            _locked().label("locked"), SegmentRow.garbage, SegmentRow.path, SegmentRow.node)


def segments(store: Store, camera: str | None = None, since_ms: int | None = None,
             until_ms: int | None = None, include_garbage: bool = False, node: str | None = None) -> list[Segment]:
    """Segments overlapping [since_ms, until_ms), by camera then start (only ``node``'s files when given)."""
    q = select(*_columns())
    if node is not None:
        q = q.where(SegmentRow.node == node)
    if camera is not None:
        q = q.where(SegmentRow.camera == camera)
    if since_ms is not None:
        q = q.where(SegmentRow.end_ms > since_ms)
    if until_ms is not None:
        q = q.where(SegmentRow.start_ms < until_ms)
    if not include_garbage:
        q = q.where(SegmentRow.garbage.is_(False))
    q = q.order_by(SegmentRow.camera, SegmentRow.start_ms, SegmentRow.id)
    with store.engine.connect() as conn:
        return [Segment(r.id, r.camera, r.start_ms, r.end_ms, r.size_bytes, bool(r.locked), bool(r.garbage), r.path,
                        r.node) for r in conn.execute(q)]


def segment_hash(store: Store, segment_id: int) -> str | None:
    with store.engine.connect() as conn:
        return conn.execute(select(SegmentRow.sha256).where(SegmentRow.id == segment_id)).scalar()


def total_bytes(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(SegmentRow.size_bytes), 0))).scalar_one())


def mark_garbage(store: Store, ids: Sequence[int]) -> int:
    """Step 1 of a delete. Locked segments are never marked, whatever the caller asked."""
    if not ids:
        return 0
    with store.engine.begin() as conn:
        return conn.execute(
            update(SegmentRow).where(SegmentRow.id.in_(list(ids)), ~_locked()).values(garbage=True)
        ).rowcount or 0


def garbage_paths(store: Store, node: str | None = None) -> list[tuple[int, str]]:
    """Segments marked for deletion (only ``node``'s files when given: the others are on other disks)."""
    q = select(SegmentRow.id, SegmentRow.path).where(SegmentRow.garbage.is_(True))
    if node is not None:
        q = q.where(SegmentRow.node == node)
    with store.engine.connect() as conn:
        return [(r.id, r.path) for r in conn.execute(q.order_by(SegmentRow.id))]


def delete_rows(store: Store, ids: Sequence[int]) -> None:
    """Step 3 of a delete (after the files are unlinked), or dropping rows whose file is gone."""
    if ids:
        with store.engine.begin() as conn:
            conn.execute(delete(SegmentLock).where(SegmentLock.segment_id.in_(list(ids))))
            conn.execute(delete(SegmentRow).where(SegmentRow.id.in_(list(ids))))


def lock(store: Store, ids: Sequence[int], holder: str, now_ms: int) -> None:
    with store.engine.begin() as conn:
        held = set(conn.execute(select(SegmentLock.segment_id).where(
            SegmentLock.holder == holder, SegmentLock.segment_id.in_(list(ids)))).scalars())
        rows = [{"segment_id": i, "holder": holder, "since_ms": now_ms} for i in ids if i not in held]
        if rows:
            conn.execute(insert(SegmentLock), rows)


def unlock(store: Store, holder: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(SegmentLock).where(SegmentLock.holder == holder))
