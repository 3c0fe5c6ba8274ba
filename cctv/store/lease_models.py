"""Camera leases (migrations 0009, 0010): which ingest node reports a camera now, with a fencing token.

One row per camera, never deleted (a release expires it), so ``token`` only ever grows: it goes up by one each
time another node takes the camera, and every status write of a node names the token it holds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base


class CameraLease(Base):
    __tablename__ = "camera_leases"

    camera: Mapped[str] = mapped_column(String(255), primary_key=True)
    node: Mapped[str] = mapped_column(String(128), nullable=False)
    token: Mapped[int] = mapped_column(BigInteger, nullable=False)
    acquired_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # the holder's last renewal (or its release): where an ``unmonitored`` gap starts when another node takes
    # the camera (migration 0010; NULL on rows from before it)
    renewed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (CheckConstraint("token >= 1", name="token_positive"),)
