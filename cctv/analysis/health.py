"""Picture health: black and frozen. Pure functions plus a small per-camera frozen tracker.

- black: the picture is dark *and* flat (low mean and low spread), so a night scene with lights is not black.
- frozen: consecutive samples do not differ (mean absolute difference below a threshold) for a run of
  ``frozen_after_s``; a single repeated frame is not a freeze.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class LumaStats:
    mean: float
    std: float


def luma_stats(grey: np.ndarray) -> LumaStats:
    mean, std = cv2.meanStdDev(grey)
    return LumaStats(float(mean[0, 0]), float(std[0, 0]))


def is_black(stats: LumaStats, luma_max: float, std_max: float) -> bool:
    return bool(stats.mean <= luma_max and stats.std <= std_max)


def mean_abs_diff(prev: np.ndarray, cur: np.ndarray) -> float:
    if prev.shape != cur.shape:
        return float("inf")
    return float(cv2.absdiff(prev, cur).mean())


class FrozenTracker:
    """Tracks how long the picture has been unchanged, in sample time (seconds)."""

    def __init__(self, diff_max: float, after_s: float) -> None:
        self.diff_max = diff_max
        self.after_s = after_s
        self._still_since: float | None = None

    def update(self, t: float, diff: float | None) -> bool:
        """Feed the difference to the previous sample at time ``t``; True while frozen."""
        if diff is None or diff > self.diff_max:
            self._still_since = None
            return False
        if self._still_since is None:
            self._still_since = t
        return bool(t - self._still_since >= self.after_s)
