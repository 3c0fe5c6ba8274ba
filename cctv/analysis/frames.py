"""Frame preparation shared by the checks: grey, small, contiguous."""

from __future__ import annotations

import cv2
import numpy as np


def downscale_grey(y: np.ndarray, width: int) -> np.ndarray:
    """Scale a grey (Y plane) image to ``width`` pixels wide, keeping the aspect ratio.

    INTER_AREA averages the sensor noise away, which the motion and frozen checks rely on.
    """
    if y.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {y.shape}")
    h, w = y.shape
    if w == width:
        return np.ascontiguousarray(y)
    height = max(1, round(h * width / w))
    return cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)
