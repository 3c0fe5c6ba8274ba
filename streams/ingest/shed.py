"""How much optional work an ingest process does now: a node that falls behind bends instead of breaking.

The signal is the process's own event loop: a probe sleeps ``PROBE_S`` and measures how late it wakes. When it
stays later than ``late_ms`` for ``up_after_s`` the level goes up one step; when it stays under ``calm_ms`` for
``down_after_s`` it comes down one. Each level sheds more, in this order (issue 12):

1. analysis rate: only every 2nd, then 4th, then 8th keyframe is decoded and checked (``sampled`` cameras fall
   back to keyframes first);
2. snapshots: at the top level a snapshot is made at most every 4× ``snapshot_interval_s``.

Never shed: packet counting, stream statistics, recording, connection events — what says whether a camera is
alive, and the footage. The monitor excuses the node's own lateness (docs/status.md), so shedding never turns a
camera offline. Every skipped keyframe and snapshot is counted (``/healthz``, the node's ``overloaded`` alert).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

PROBE_S = 0.5
# per level: (analyse every Nth keyframe, snapshot interval multiplied by)
LEVELS: tuple[tuple[int, int], ...] = ((1, 1), (2, 1), (4, 1), (8, 4))


class Shedder:
    def __init__(self, late_ms: float = 250.0, calm_ms: float = 50.0, up_after_s: float = 3.0,
                 down_after_s: float = 30.0) -> None:
        self.late_ms, self.calm_ms = late_ms, calm_ms
        self.up_after_s, self.down_after_s = up_after_s, down_after_s
        self.level = 0
        self.skipped_keyframes = 0
        self.skipped_snapshots = 0
        self.raised = 0  # times the level went up
        self.delay_ms_max = 0.0  # the worst probe since the last report
        self._late_since: float | None = None
        self._calm_since: float | None = None

    @property
    def top(self) -> int:
        return len(LEVELS) - 1

    @property
    def analyse_every(self) -> int:
        return LEVELS[self.level][0]

    @property
    def snapshot_factor(self) -> int:
        return LEVELS[self.level][1]

    def observe(self, delay_ms: float, now: float) -> None:
        """One probe: it woke ``delay_ms`` late at monotonic ``now``."""
        self.delay_ms_max = max(self.delay_ms_max, delay_ms)
        if delay_ms >= self.late_ms:
            self._calm_since = None
            self._late_since = now if self._late_since is None else self._late_since
            if now - self._late_since >= self.up_after_s and self.level < self.top:
                self.level += 1
                self.raised += 1
                self._late_since = now
                log.warning("ingest process overloaded (its loop runs %.0f ms late): analysing every %d. keyframe"
                            "%s; recording and packet counting go on", delay_ms, self.analyse_every,
                            f", snapshots every {self.snapshot_factor}× as long" if self.snapshot_factor > 1 else "")
        elif delay_ms < self.calm_ms:
            self._late_since = None
            self._calm_since = now if self._calm_since is None else self._calm_since
            if now - self._calm_since >= self.down_after_s and self.level > 0:
                self.level -= 1
                self._calm_since = now
                log.info("ingest process calmer: analysing every %d. keyframe", self.analyse_every)
        else:  # in between: hold the level
            self._late_since = self._calm_since = None

    def take_keyframe(self, count: int) -> bool:
        """Whether a camera's ``count``-th keyframe is analysed at this level (counted when not)."""
        if count % self.analyse_every == 0:
            return True
        self.skipped_keyframes += 1
        return False

    def report(self) -> dict[str, float | int]:
        out = {"shed_level": self.level, "skipped_keyframes": self.skipped_keyframes,
               "skipped_snapshots": self.skipped_snapshots, "shed_raised": self.raised,
               "loop_delay_ms_max": round(self.delay_ms_max, 1)}
        self.delay_ms_max = 0.0
        return out


class Relief:
    """What an overloaded ingest node asks assignment for (``soft_capacity``): while it sheds at level
    ``RELIEF_LEVEL`` or more, 10 % fewer cameras than it has, again every ``step_s``; once it has shed nothing
    for ``calm_s``, nothing (its share comes back). Other nodes take what it gives up only while they have room
    (streams/ingest/assignment.py)."""

    RELIEF_LEVEL = 2

    def __init__(self, step_s: float = 30.0, calm_s: float = 120.0) -> None:
        self.step_s, self.calm_s = step_s, calm_s
        self.value: int | None = None
        self._stepped: float | None = None
        self._calm_since: float | None = None

    def update(self, level: int, cameras: int, now: float) -> int | None:
        if level >= self.RELIEF_LEVEL:
            self._calm_since = None
            if self._stepped is None or now - self._stepped >= self.step_s:
                self._stepped = now
                self.value = max(1, int(min(cameras, self.value or cameras) * 0.9))
                log.warning("ingest node overloaded: asking to keep %d cameras (has %d)", self.value, cameras)
        elif level == 0 and self.value is not None:
            self._calm_since = now if self._calm_since is None else self._calm_since
            if now - self._calm_since >= self.calm_s:
                self.value, self._stepped, self._calm_since = None, None, None
                log.info("ingest node calm again: takes its full share")
        return self.value
