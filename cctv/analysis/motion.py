"""Motion: how much of the picture changed between two analysed frames. Pure functions.

A first scorer for the walking skeleton: blur away noise, difference with the previous analysed frame,
count pixels that changed by more than ``pixel_delta`` after removing a global brightness shift (so an
auto-exposure step is not motion). Issue 4 replaces it with a background model and masks.
"""

from __future__ import annotations

import cv2
import numpy as np


def motion_score(prev: np.ndarray, cur: np.ndarray, pixel_delta: int) -> float:
    """Percentage (0-100) of pixels that changed by more than ``pixel_delta`` luma levels."""
    if prev.shape != cur.shape:
        return 0.0
    a = cv2.GaussianBlur(prev, (5, 5), 0).astype(np.int16)
    b = cv2.GaussianBlur(cur, (5, 5), 0).astype(np.int16)
    diff = b - a
    shift = int(np.median(diff))  # global brightness change (exposure, IR switch) is not motion
    changed = int(np.count_nonzero(np.abs(diff - shift) > pixel_delta))
    return 100.0 * changed / diff.size


def is_motion(score: float, min_area_pct: float) -> bool:
    return bool(score >= min_area_pct and score > 0.0)
