"""RT → kelurahan → kecamatan → city aggregation. Pure functions over camera states."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counts:
    total: int = 0
    online: int = 0
    degraded: int = 0
    offline: int = 0
    motion: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # "offline:stalled" -> 3

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "online": self.online,
            "degraded": self.degraded,
            "offline": self.offline,
            "motion": self.motion,
            "reasons": dict(sorted(self.reasons.items())),
        }


def count_states(cameras: Iterable[tuple[str, str, bool]]) -> Counts:
    """Count (state, reason, motion) triples; a camera with no verdict yet counts as offline."""
    c = Counts()
    for state, reason, motion in cameras:
        c.total += 1
        if state == "online":
            c.online += 1
        elif state == "degraded":
            c.degraded += 1
        else:
            c.offline += 1
        if state != "online" and reason:
            key = f"{state}:{reason}"
            c.reasons[key] = c.reasons.get(key, 0) + 1
        if motion and state != "offline":
            c.motion += 1
    return c
