"""Attention-first order of cameras for tile walls and area pages. Pure: no I/O, the time is passed in.

Ranks, most urgent first:

0. offline (no stream at all),
1. tampered: degraded by a reason that hides the scene — lens covered, black picture, camera moved,
2. degraded for any other reason (blurred, frozen, low frame rate, dark when it degrades),
3. motion at night (online, motion now, and the site's local time is within the night hours),
4. the rest.

Within a rank the config order stays (the sort is stable), so tiles do not shuffle among equals and an
operator finds a camera where it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import IntEnum
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from cctv.status.messages import Reason, State

# Degraded reasons that hide what the camera should see: likely tampering, so before other faults.
TAMPER_REASONS: frozenset[str] = frozenset({Reason.COVERED, Reason.BLACK, Reason.MOVED})
NIGHT_START_HOUR = 18  # local time: 18:00 to 06:00 is night (WIB dusk is ~18:00 all year near the equator)
NIGHT_END_HOUR = 6


class Rank(IntEnum):
    OFFLINE = 0
    TAMPERED = 1
    DEGRADED = 2
    NIGHT_MOTION = 3
    REST = 4


class _Cam(Protocol):
    state: str
    reason: str
    motion: bool


C = TypeVar("C", bound=_Cam)


def is_night(
    t_ms: int, tz: ZoneInfo, start_hour: int = NIGHT_START_HOUR, end_hour: int = NIGHT_END_HOUR
) -> bool:
    """Whether wall-clock ``t_ms`` falls in the night hours [start_hour, end_hour) in ``tz`` (may wrap midnight)."""
    hour = datetime.fromtimestamp(t_ms / 1000, tz).hour
    if start_hour <= end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour


def rank(state: str, reason: str, motion: bool, night: bool) -> Rank:
    """How urgently one camera needs a look (lower is more urgent)."""
    if state == State.OFFLINE:
        return Rank.OFFLINE
    if state == State.DEGRADED:
        return Rank.TAMPERED if reason in TAMPER_REASONS else Rank.DEGRADED
    if motion and night:
        return Rank.NIGHT_MOTION
    return Rank.REST


def attention_order(cams: Iterable[C], night: bool) -> list[C]:
    """``cams`` sorted attention-first (stable: config order within a rank)."""
    return sorted(cams, key=lambda c: rank(c.state, c.reason, c.motion, night))
