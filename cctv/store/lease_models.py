"""Leases (migrations 0009, 0010, 0012): which ingest node reports a camera now, with a fencing token.

``camera_leases``: one row per camera, never deleted (a release marks it), so ``token`` only ever grows: it goes
up by one each time another node takes the camera, and every status write of a node names the token it holds.
``node_leases``: one row per ingest node, renewed every round; a camera lease is live while it is not released
and its node's lease has not expired — one row update per node per round, not one per camera.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base


class CameraLease(Base):
    __tablename__ = "camera_leases"

    camera: Mapped[str] = mapped_column(String(255), primary_key=True)
    node: Mapped[str] = mapped_column(String(128), nullable=False)
    token: Mapped[int] = mapped_column(BigInteger, nullable=False)
    acquired_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    released_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # NULL: held (while its node's is)
    # a released lease: until when its holder watched the camera — the release itself for a clean handover, the
    # node's last renewal for a lease its restarted node found left over (where an ``unmonitored`` gap starts)
    renewed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (CheckConstraint("token >= 1", name="token_positive"), Index("ix_camera_leases_node", "node"))


class NodeLease(Base):
    __tablename__ = "node_leases"

    node: Mapped[str] = mapped_column(String(128), primary_key=True)
    renewed_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    moved_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)  # when its set of cameras last changed
