"""Per-camera masks: polygons in normalised 0..1 coordinates, rasterised once per analysis size.

A mask marks what the checks must ignore: a burnt-in clock or OSD text, swaying trees, a busy road outside the
property. Masked pixels count neither for motion nor for the frozen check.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Polygon = Sequence[tuple[float, float]]


def rasterise(polygons: Sequence[Polygon], shape: tuple[int, int]) -> np.ndarray | None:
    """A uint8 mask of ``shape`` (h, w): 255 where the picture is analysed, 0 inside any polygon.

    None when there is nothing to mask (the checks then skip the masking work).
    """
    if not polygons:
        return None
    h, w = shape
    keep = np.full((h, w), 255, np.uint8)
    for poly in polygons:
        pts = np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in poly], np.int32)
        if len(pts) >= 3:
            cv2.fillPoly(keep, [pts], 0)
    return keep


class MaskCache:
    """Rasterised masks by analysis shape (the shape changes only when a stream's resolution does)."""

    def __init__(self, polygons: Sequence[Polygon]) -> None:
        self.polygons = [tuple((float(x), float(y)) for x, y in p) for p in polygons]
        self._by_shape: dict[tuple[int, int], np.ndarray | None] = {}

    def get(self, shape: tuple[int, int]) -> np.ndarray | None:
        if shape not in self._by_shape:
            self._by_shape[shape] = rasterise(self.polygons, shape)
        return self._by_shape[shape]
