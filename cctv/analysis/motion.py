"""Motion: a background model over downscaled grey frames, and the per-sample verdict. Pure numpy/OpenCV.

Per analysed sample:
1. blur 5x5 (sensor noise), then compare with a running-average background (time constant
   ``bg_tau_s`` of sample time, so keyframe-only and higher sampled rates behave alike);
2. contrast normalisation: the background is scaled by the picture's gain change (auto-exposure, IR switch)
   and the median difference is removed; the pixel threshold is the larger of ``pixel_delta`` and
   ``noise_k`` x the robust noise of the difference (noisy night pictures raise it by themselves);
3. masks (``cctv.analysis.masks``) drop their pixels; a 3x3 opening removes speckle;
4. if more than ``global_pct`` of the picture changed at once it is a global change (lights, exposure, a
   camera switching to IR), not motion: the background is re-seeded;
5. the score is the share (%) of the unmasked picture that changed; motion is ``score >= min_area_pct``.

``min_area_pct`` is the sensitivity an operator tunes: "the smallest moving thing that matters, as a share of
the picture" (0.15 % at 160x90 is ~22 pixels: a person at ~30 m on a 90° substream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class MotionParams:
    pixel_delta: int = 14
    noise_k: float = 4.0
    min_area_pct: float = 0.15
    global_pct: float = 45.0
    bg_tau_s: float = 6.0


@dataclass(frozen=True, slots=True)
class MotionResult:
    score: float  # % of the unmasked picture that changed against the background
    motion: bool
    global_change: bool  # a whole-picture change (exposure, lights, IR switch) was absorbed


class MotionDetector:
    def __init__(self, params: MotionParams) -> None:
        self.p = params
        self._bg: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._bg, self._prev, self._t = None, None, None

    def update(self, grey: np.ndarray, t: float, keep: np.ndarray | None = None) -> MotionResult:
        p = self.p
        cur = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)
        bg, prev = self._bg, self._prev
        if bg is None or prev is None or bg.shape != cur.shape or self._t is None or t < self._t:
            self._bg, self._prev, self._t = cur, cur, t
            return MotionResult(0.0, False, False)
        # contrast normalisation: scale background and previous sample to this picture's gain (exposure, IR)
        m_cur = cv2.mean(cur)[0] + 4.0
        bg = cv2.multiply(bg, m_cur / (cv2.mean(bg)[0] + 4.0))
        d_bg = cv2.absdiff(cur, bg)
        d_prev = cv2.absdiff(cur, cv2.multiply(prev, m_cur / (cv2.mean(prev)[0] + 4.0)))
        noise = 1.25 * cv2.mean(d_bg)[0]  # mean |diff| of a Gaussian is 0.8 sigma
        thr = max(float(p.pixel_delta), p.noise_k * noise)
        off_bg = (d_bg > thr).view(np.uint8)
        # moving now: different from the background AND from the previous sample. A ghost (where something
        # stood when the background was learned) differs only from the background: it is absorbed fast.
        changed = cv2.bitwise_and(off_bg, (d_prev > thr).view(np.uint8))
        if keep is not None:
            changed = cv2.bitwise_and(changed, changed, mask=keep)
            total = max(1, cv2.countNonZero(keep))
        else:
            total = changed.size
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, _KERNEL)
        score = 100.0 * cv2.countNonZero(changed) / total
        dt = t - self._t
        self._t, self._prev = t, cur
        if score >= p.global_pct or 100.0 * cv2.countNonZero(off_bg) / off_bg.size >= p.global_pct:
            self._bg = cur  # a global change (lights, exposure, IR switch): start the background again
            return MotionResult(round(score, 3), False, True)
        alpha = 1.0 - math.exp(-dt / p.bg_tau_s) if p.bg_tau_s > 0 else 1.0
        cv2.accumulateWeighted(cur, bg, alpha)
        ghost = cv2.subtract(off_bg, changed)
        if alpha < 0.5 and cv2.countNonZero(ghost):
            cv2.accumulateWeighted(cur, bg, 0.5, mask=ghost)
        self._bg = bg
        return MotionResult(round(score, 3), score >= p.min_area_pct and score > 0.0, False)
