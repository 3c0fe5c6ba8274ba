"""Daily tallies (migration 0013): each camera's and each area's figures of one closed local day, so that
7- and 30-day figures read a few rows per camera instead of 30 days of intervals (cctv/rollup/days.py).

A row holds the additive fields of :class:`cctv.rollup.tally.Tally` over ``[day_ms, next day)``; a day is
tallied once it has been closed a while (``tallied_days`` says which, and when), by whichever node gets there
first; tallying it again replaces its rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base


class _TallyFields:
    known_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    up_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    usable_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    degraded_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offline_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    outages: Mapped[int] = mapped_column(Integer, nullable=False)
    degradations: Mapped[int] = mapped_column(Integer, nullable=False)
    repaired: Mapped[int] = mapped_column(Integer, nullable=False)
    repair_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    degraded_repaired: Mapped[int] = mapped_column(Integer, nullable=False)
    degraded_repair_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)


class CameraDayTally(_TallyFields, Base):
    __tablename__ = "camera_day_tallies"

    camera: Mapped[str] = mapped_column(String(255), primary_key=True)
    day_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the local day's start (UTC ms)

    __table_args__ = (Index("ix_camera_day_tallies_day_ms", "day_ms"),)


class AreaDayTally(_TallyFields, Base):
    """The sum of an area's enabled cameras that day ("" is the city), for charts of days."""

    __tablename__ = "area_day_tallies"

    area: Mapped[str] = mapped_column(String(255), primary_key=True)
    day_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class TalliedDay(Base):
    __tablename__ = "tallied_days"

    day_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    end_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the next day's start
    tallied_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cameras: Mapped[int] = mapped_column(Integer, nullable=False)
