"""Clip requests in the store. Writes run on the store's one writer thread (``Store.awrite`` /
``Store.submit_write``); reads anywhere.

Every state change is a compare-and-set on the state the caller saw (``cctv.evidence.requests.check`` decided it was
allowed from there): two approvers clicking at once, or a close racing an export, leave one winner and a clear
409 for the other. Locks on segments (``segment_locks``, holder ``clip-request:<id>``) are taken and released
in the same transaction as the state change that needs them, so a crash never leaves an approved request
unlocked or a closed one holding segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from cctv.evidence.requests import (
    LOCKED_STATES,
    ClipCamera,
    ClipError,
    ClipRequest,
    NewRequest,
    State,
    holder,
    not_found,
)
from cctv.store.clip_models import ClipCameraRow, ClipRequestRow
from cctv.store.segment_models import SegmentLock, SegmentRow

_REQ_COLS = (
    ClipRequestRow.id,
    ClipRequestRow.state,
    ClipRequestRow.requester,
    ClipRequestRow.requester_id,
    ClipRequestRow.case_ref,
    ClipRequestRow.reason,
    ClipRequestRow.start_ms,
    ClipRequestRow.end_ms,
    ClipRequestRow.created_ms,
    ClipRequestRow.decided_by,
    ClipRequestRow.decided_ms,
    ClipRequestRow.comment,
    ClipRequestRow.export_node,
    ClipRequestRow.progress_pct,
    ClipRequestRow.error,
    ClipRequestRow.exported_ms,
    ClipRequestRow.closed_by,
    ClipRequestRow.closed_ms,
)
_CAM_COLS = (
    ClipCameraRow.request_id,
    ClipCameraRow.position,
    ClipCameraRow.camera,
    ClipCameraRow.clip_file,
    ClipCameraRow.clip_sha256,
    ClipCameraRow.clip_size_bytes,
    ClipCameraRow.manifest_file,
    ClipCameraRow.manifest_sha256,
    ClipCameraRow.actual_start_ms,
    ClipCameraRow.actual_end_ms,
)


@dataclass(frozen=True, slots=True)
class ExportedFiles:
    """What the export made of one camera of a request."""

    position: int
    clip_file: str
    clip_sha256: str
    clip_size_bytes: int
    manifest_file: str
    manifest_sha256: str
    actual_start_ms: int
    actual_end_ms: int


class ClipStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reads -------------------------------------------------------------------------------------------

    def get(self, request_id: int) -> ClipRequest | None:
        found = self._load(select(*_REQ_COLS).where(ClipRequestRow.id == request_id))
        return found[0] if found else None

    def find(
        self,
        *,
        requester_id: int | None = None,
        states: Iterable[State] | None = None,
        limit: int | None = None,
    ) -> list[ClipRequest]:
        """Requests, newest first (filter by requester or states; callers filter by scope)."""
        q = select(*_REQ_COLS)
        if requester_id is not None:
            q = q.where(ClipRequestRow.requester_id == requester_id)
        if states is not None:
            q = q.where(ClipRequestRow.state.in_([str(s) for s in states]))
        q = q.order_by(ClipRequestRow.id.desc())
        if limit is not None:
            q = q.limit(limit)
        return self._load(q)

    def locked_segments(self, request_id: int) -> list[int]:
        with self.engine.connect() as conn:
            return sorted(
                conn.execute(
                    select(SegmentLock.segment_id).where(SegmentLock.holder == holder(request_id))
                ).scalars()
            )

    def _load(self, q: Any) -> list[ClipRequest]:
        with self.engine.connect() as conn:
            rows = list(conn.execute(q))
            if not rows:
                return []
            ids = [r.id for r in rows]
            cams: dict[int, list[ClipCamera]] = {i: [] for i in ids}
            for c in conn.execute(
                select(*_CAM_COLS).where(ClipCameraRow.request_id.in_(ids)).order_by(ClipCameraRow.position)
            ):
                cams[c.request_id].append(ClipCamera(*c[1:]))
        return [
            ClipRequest(
                id=r.id,
                state=State(r.state),
                requester=r.requester,
                requester_id=r.requester_id,
                case_ref=r.case_ref,
                reason=r.reason,
                start_ms=r.start_ms,
                end_ms=r.end_ms,
                created_ms=r.created_ms,
                cameras=tuple(cams[r.id]),
                decided_by=r.decided_by,
                decided_ms=r.decided_ms,
                comment=r.comment,
                export_node=r.export_node,
                progress_pct=r.progress_pct,
                error=r.error,
                exported_ms=r.exported_ms,
                closed_by=r.closed_by,
                closed_ms=r.closed_ms,
            )
            for r in rows
        ]

    # -- writes (on the writer thread) ---------------------------------------------------------------------

    def create(self, new: NewRequest, requester: str, requester_id: int, now_ms: int) -> int:
        with self.engine.begin() as conn:
            request_id = int(
                conn.execute(
                    insert(ClipRequestRow)
                    .values(
                        state=str(State.REQUESTED),
                        requester=requester,
                        requester_id=requester_id,
                        case_ref=new.case_ref,
                        reason=new.reason,
                        start_ms=new.start_ms,
                        end_ms=new.end_ms,
                        created_ms=now_ms,
                        progress_pct=0,
                    )
                    .returning(ClipRequestRow.id)
                ).scalar_one()
            )
            conn.execute(
                insert(ClipCameraRow),
                [
                    {"request_id": request_id, "position": i, "camera": cam}
                    for i, cam in enumerate(new.cameras, 1)
                ],
            )
        return request_id

    def decide(self, request_id: int, seen: State, target: State, by: str, comment: str, now_ms: int) -> int:
        """Approve (lock the covered segments) or reject. Returns the number of segments locked."""
        with self.engine.begin() as conn:
            self._move(conn, request_id, seen, target, decided_by=by, decided_ms=now_ms, comment=comment)
            return self._lock(conn, request_id, now_ms) if target in LOCKED_STATES else 0

    def begin_export(self, request_id: int, node: str, now_ms: int) -> int:
        """approved → exporting on ``node``; locks segments indexed since the approval. Returns locks added."""
        with self.engine.begin() as conn:
            self._move(
                conn,
                request_id,
                State.APPROVED,
                State.EXPORTING,
                export_node=node,
                progress_pct=0,
                error=None,
            )
            return self._lock(conn, request_id, now_ms)

    def set_progress(self, request_id: int, pct: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(ClipRequestRow)
                .where(ClipRequestRow.id == request_id, ClipRequestRow.state == str(State.EXPORTING))
                .values(progress_pct=max(0, min(100, pct)))
            )

    def finish_export(self, request_id: int, files: Sequence[ExportedFiles], now_ms: int) -> None:
        with self.engine.begin() as conn:
            self._move(
                conn,
                request_id,
                State.EXPORTING,
                State.READY,
                progress_pct=100,
                exported_ms=now_ms,
                error=None,
            )
            for f in files:
                conn.execute(
                    update(ClipCameraRow)
                    .where(ClipCameraRow.request_id == request_id, ClipCameraRow.position == f.position)
                    .values(
                        clip_file=f.clip_file,
                        clip_sha256=f.clip_sha256,
                        clip_size_bytes=f.clip_size_bytes,
                        manifest_file=f.manifest_file,
                        manifest_sha256=f.manifest_sha256,
                        actual_start_ms=f.actual_start_ms,
                        actual_end_ms=f.actual_end_ms,
                    )
                )

    def fail_export(self, request_id: int, error: str) -> None:
        """exporting → approved (re-exportable), saying why; the segments stay locked."""
        with self.engine.begin() as conn:
            self._move(conn, request_id, State.EXPORTING, State.APPROVED, progress_pct=0, error=error[:2000])

    def recover(self, node: str, error: str) -> list[int]:
        """Start-up: exports this node was running when it stopped go back to approved. Returns their ids."""
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(
                    select(ClipRequestRow.id).where(
                        ClipRequestRow.state == str(State.EXPORTING), ClipRequestRow.export_node == node
                    )
                ).scalars()
            )
            for request_id in ids:
                self._move(conn, request_id, State.EXPORTING, State.APPROVED, progress_pct=0, error=error)
        return ids

    def close(self, request_id: int, seen: State, by: str, now_ms: int) -> None:
        """→ closed, releasing every segment the request held."""
        with self.engine.begin() as conn:
            self._move(conn, request_id, seen, State.CLOSED, closed_by=by, closed_ms=now_ms)
            conn.execute(delete(SegmentLock).where(SegmentLock.holder == holder(request_id)))

    # -- internals ---------------------------------------------------------------------------------------

    def _move(self, conn: Connection, request_id: int, seen: State, target: State, **values: Any) -> None:
        n = conn.execute(
            update(ClipRequestRow)
            .where(ClipRequestRow.id == request_id, ClipRequestRow.state == str(seen))
            .values(state=str(target), **values)
        ).rowcount
        if n == 1:
            return
        now = conn.execute(select(ClipRequestRow.state).where(ClipRequestRow.id == request_id)).scalar()
        if now is None:
            raise not_found(request_id)
        raise ClipError(409, "changed", f"request {request_id} is {now} now, not {seen}", state=now)

    def _lock(self, conn: Connection, request_id: int, now_ms: int) -> int:
        req = conn.execute(
            select(ClipRequestRow.start_ms, ClipRequestRow.end_ms).where(ClipRequestRow.id == request_id)
        ).one()
        cams = list(
            conn.execute(select(ClipCameraRow.camera).where(ClipCameraRow.request_id == request_id)).scalars()
        )
        ids = set(
            conn.execute(
                select(SegmentRow.id).where(
                    SegmentRow.camera.in_(cams),
                    SegmentRow.end_ms > req.start_ms,
                    SegmentRow.start_ms < req.end_ms,
                    SegmentRow.garbage.is_(False),
                )
            ).scalars()
        )
        who = holder(request_id)
        ids -= set(conn.execute(select(SegmentLock.segment_id).where(SegmentLock.holder == who)).scalars())
        if ids:
            conn.execute(
                insert(SegmentLock),
                [{"segment_id": i, "holder": who, "since_ms": now_ms} for i in sorted(ids)],
            )
        return len(ids)
