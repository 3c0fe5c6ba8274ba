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
    """The background model and the per-sample verdict.

    Differences and masks are taken in uint8 (the blurred frame is uint8 already; the gain-scaled background
    and previous sample are rounded to it, half a luma level against thresholds of 14 and more), so most
    operations work on 14 kB instead of 58 kB; only the background itself is float32, for its slow average.
    """

    def __init__(self, params: MotionParams) -> None:
        self.p = params
        self._bg: np.ndarray | None = None  # float32
        self._prev: np.ndarray | None = None  # uint8, the previous blurred sample
        self._prev_mean = 0.0
        self._t: float | None = None

    def reset(self) -> None:
        self._bg, self._prev, self._t = None, None, None

    def update(self, grey: np.ndarray, t: float, keep: np.ndarray | None = None) -> MotionResult:
        p = self.p
        cur = cv2.GaussianBlur(grey, (5, 5), 0)
        m_cur = cv2.mean(cur)[0] + 4.0
        bg, prev = self._bg, self._prev
        if bg is None or prev is None or bg.shape != cur.shape or self._t is None or t < self._t:
            self._bg, self._prev, self._prev_mean, self._t = np.float32(cur), cur, m_cur, t
            return MotionResult(0.0, False, False)
        # contrast normalisation: background and previous sample scaled to this picture's gain (exposure, IR)
        k_bg = m_cur / (cv2.mean(bg)[0] + 4.0)
        d_bg = cv2.absdiff(cur, cv2.convertScaleAbs(bg, alpha=k_bg))
        d_prev = cv2.absdiff(cur, cv2.convertScaleAbs(prev, alpha=m_cur / self._prev_mean))
        noise = 1.25 * cv2.mean(d_bg)[0]  # mean |diff| of a Gaussian is 0.8 sigma
        thr = max(float(p.pixel_delta), p.noise_k * noise)  # uint8 > thr: cv2 compares with floor(thr)
        off_bg = cv2.threshold(d_bg, thr, 1, cv2.THRESH_BINARY)[1]
        # moving now: different from the background AND from the previous sample. A ghost (where something
        # stood when the background was learned) differs only from the background: it is absorbed fast.
        changed = cv2.threshold(cv2.min(d_bg, d_prev), thr, 1, cv2.THRESH_BINARY)[1]
        if keep is not None:
            changed = cv2.bitwise_and(changed, changed, mask=keep)
            total = max(1, cv2.countNonZero(keep))
        else:
            total = changed.size
        n_changed = cv2.countNonZero(changed)
        if n_changed:  # a 3x3 opening removes speckle (and costs the most here: skipped when nothing changed)
            changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, _KERNEL)
            n_changed = cv2.countNonZero(changed)
        score = 100.0 * n_changed / total
        dt = t - self._t
        self._t, self._prev, self._prev_mean = t, cur, m_cur
        n_off = cv2.countNonZero(off_bg)
        if score >= p.global_pct or 100.0 * n_off / off_bg.size >= p.global_pct:
            # a global change (lights, exposure, IR switch): start the background again
            self._bg = np.float32(cur)
            return MotionResult(round(score, 3), False, True)
        alpha = 1.0 - math.exp(-dt / p.bg_tau_s) if p.bg_tau_s > 0 else 1.0
        # the background, scaled to this gain, moves alpha of the way to this sample (one pass, a new array)
        bg = cv2.addWeighted(bg, (1.0 - alpha) * k_bg, cur, alpha, 0.0, dtype=cv2.CV_32F)
        if alpha < 0.5 and n_off > n_changed:  # pixels off the background but not moving now: ghosts
            cv2.accumulateWeighted(cur, bg, 0.5, mask=cv2.subtract(off_bg, changed))
        self._bg = bg
        return MotionResult(round(score, 3), score >= p.min_area_pct and score > 0.0, False)
