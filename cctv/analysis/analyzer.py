"""One camera's checks over its analysed frames: motion score, black, frozen → CameraSample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cctv.analysis.frames import downscale_grey
from cctv.analysis.health import FrozenTracker, is_black, luma_stats, mean_abs_diff
from cctv.analysis.motion import is_motion, motion_score
from cctv.messages import CameraSample, Reason


@dataclass(frozen=True, slots=True)
class CheckParams:
    analysis_width: int = 160
    black_luma_max: float = 20.0
    black_std_max: float = 8.0
    frozen_diff_max: float = 0.15
    frozen_after_s: float = 10.0
    motion_pixel_delta: int = 25
    motion_min_area_pct: float = 0.5


class Analyzer:
    def __init__(self, camera: str, params: CheckParams) -> None:
        self.camera = camera
        self.params = params
        self._prev: np.ndarray | None = None
        self._frozen = FrozenTracker(params.frozen_diff_max, params.frozen_after_s)

    def analyse(self, y_plane: np.ndarray, t: float, t_ms: int) -> CameraSample:
        """``t``: sample time in seconds (stream or monotonic), ``t_ms``: wall clock of the sample."""
        p = self.params
        grey = downscale_grey(y_plane, p.analysis_width)
        stats = luma_stats(grey)
        flags: set[str] = set()
        black = is_black(stats, p.black_luma_max, p.black_std_max)
        if black:
            flags.add(Reason.BLACK)
        prev = self._prev
        diff = mean_abs_diff(prev, grey) if prev is not None else None
        # a black picture is also unchanging: report it as black, not frozen
        if self._frozen.update(t, None if black else diff) and not black:
            flags.add(Reason.FROZEN)
        score = motion_score(prev, grey, p.motion_pixel_delta) if prev is not None else 0.0
        self._prev = grey
        return CameraSample(
            camera=self.camera,
            t_ms=t_ms,
            motion_score=round(score, 3),
            motion=is_motion(score, p.motion_min_area_pct) and not flags,
            luma_mean=round(stats.mean, 2),
            luma_std=round(stats.std, 2),
            frozen_diff=None if diff is None else round(diff, 4),
            flags=frozenset(str(f) for f in flags),
        )

    def reset(self) -> None:
        """Forget the previous frame (after a reconnect the picture may legitimately jump)."""
        self._prev = None
        self._frozen = FrozenTracker(self.params.frozen_diff_max, self.params.frozen_after_s)
