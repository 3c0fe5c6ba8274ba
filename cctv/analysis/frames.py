"""Frame preparation shared by the checks: grey, small, contiguous; letterbox/pillarbox detection."""

from __future__ import annotations

import cv2
import numpy as np


def downscale_grey(y: np.ndarray, width: int) -> np.ndarray:
    """Scale a grey (Y plane) image to ``width`` pixels wide, keeping the aspect ratio.

    INTER_LINEAR: from an exact multiple of 4 (640 → 160) every output pixel is the mean of the 2x2 pixels at
    the centre of its 4x4 block, which averages the sensor noise away (the motion and frozen checks rely on
    that) for about half the cost of INTER_AREA's full 4x4 mean (15 vs 30-80 µs, docs/analysis.md).
    """
    if y.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {y.shape}")
    h, w = y.shape
    if w == width:
        return np.ascontiguousarray(y)
    height = max(1, round(h * width / w))
    return cv2.resize(
        y, (width, height), interpolation=cv2.INTER_LINEAR if w >= 2 * width else cv2.INTER_AREA
    )


# A bar is an edge band of near-black columns/rows: no pixel brighter than BAR_MAX.
BAR_MAX = 28


def content_box(grey: np.ndarray, max_bar_frac: float = 0.3) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the picture inside letterbox or pillarbox bars, or None when there is no picture.

    Bars are contiguous near-black rows/columns touching the edges, each at most ``max_bar_frac`` of the frame.
    A frame that is dark everywhere has no box (None): the caller keeps the last box it learned.
    """
    h, w = grey.shape
    is_bar_col = grey.max(axis=0) <= BAR_MAX  # numpy: cv2.reduce along rows costs 10x more here
    is_bar_row = grey.max(axis=1) <= BAR_MAX
    if is_bar_col.all() or is_bar_row.all():
        return None
    x0 = _run(is_bar_col)
    x1 = w - _run(is_bar_col[::-1])
    y0 = _run(is_bar_row)
    y1 = h - _run(is_bar_row[::-1])
    limit_x, limit_y = int(w * max_bar_frac), int(h * max_bar_frac)
    if x0 > limit_x or w - x1 > limit_x or y0 > limit_y or h - y1 > limit_y:
        return None  # mostly dark picture, not bars
    return (y0, y1, x0, x1)


def _run(flags: np.ndarray) -> int:
    """Length of the leading run of True."""
    idx = np.flatnonzero(~flags)
    return int(idx[0]) if idx.size else int(flags.size)
