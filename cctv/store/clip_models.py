"""Tables of clip requests (migration 0005): the request, and one row per camera with its exported files.

The workflow and its states are in ``cctv/evidence/requests.py``; the store operations in ``cctv/store/clip_store.py``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base

STATES_SQL = "state IN ('requested', 'approved', 'rejected', 'exporting', 'ready', 'closed')"


class ClipRequestRow(Base):
    """A police request for footage: who, which case, which range; then the decision, the export, the close."""

    __tablename__ = "clip_requests"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    requester: Mapped[str] = mapped_column(String(64), nullable=False)
    requester_id: Mapped[int] = mapped_column(Integer, nullable=False)
    case_ref: Mapped[str] = mapped_column(String(128), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    start_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    end_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    export_node: Mapped[str | None] = mapped_column(String(255), nullable=True)  # where the files are
    progress_pct: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why the last export failed
    exported_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint(STATES_SQL, name="state_known"),
        CheckConstraint("end_ms > start_ms", name="end_after_start"),
        CheckConstraint("progress_pct >= 0 AND progress_pct <= 100", name="progress_pct_range"),
        CheckConstraint("(decided_by IS NULL) = (decided_ms IS NULL)", name="decision_complete"),
        CheckConstraint("length(case_ref) >= 1", name="case_ref_nonempty"),
        Index("ix_clip_requests_requester_id", "requester_id"),
        Index("ix_clip_requests_state", "state"),
    )


class ClipCameraRow(Base):
    """One camera of a request (``position`` 1..n, in the order asked) and, once exported, its clip and manifest
    (file names under ``<data_dir>/exports/<request id>/``)."""

    __tablename__ = "clip_request_cameras"

    request_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("clip_requests.id", ondelete="CASCADE"),
        primary_key=True,
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera: Mapped[str] = mapped_column(String(255), nullable=False)
    clip_file: Mapped[str | None] = mapped_column(String(255), nullable=True)
    clip_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    clip_size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    manifest_file: Mapped[str | None] = mapped_column(String(255), nullable=True)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actual_start_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actual_end_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("position >= 1", name="position_positive"),
        Index("uq_clip_request_cameras_request_id_camera", "request_id", "camera", unique=True),
    )
