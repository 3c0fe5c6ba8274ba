"""Picture health: measurements over one analysed frame, and the per-camera checks that judge them.

Each check names its reason code (``cctv.status.messages.Reason``), has its own onset debounce in sample time, and
recovers as soon as its condition is gone (the status machine then waits ``status.recover_after_s``):

- black: the picture inside any letterbox/pillarbox bars is dark *and* flat.
- dark: dark but not flat — a night picture. Informational: night is not a fault (``Reason.DARK`` is reported
  by ``cctv analyze`` but never degrades a camera unless ``checks.dark_degrades`` is set).
- covered: not dark, but almost no texture anywhere (a hand, tape, a bag over the lens).
- blurred: sharpness (Laplacian spread relative to contrast, so brightness and gain cancel) fell below a share
  of the camera's own baseline, learned after a warm-up and updated slowly while healthy.
- frozen: packets flow but consecutive samples are the same picture, for a run of ``frozen_after_s``. Same
  means at most ``frozen_changed_pct`` of the unmasked pixels moved by more than a few luma levels, so a
  burnt-in clock or a little OSD text does not keep a frozen picture "alive"; a single repeat is not a freeze.
- moved: the coarse gradient map of the view no longer correlates with the reference learned over the first
  samples (normalised cross-correlation, so day/night gain changes cancel).
- low_fps: packets arrive at less than ``low_fps_ratio`` of the expected rate.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

REF_CELLS = (4, 6)  # rows, columns of cells compared one by one (a passing object spoils only a few)


@dataclass(frozen=True, slots=True)
class LumaStats:
    mean: float
    std: float


def luma_stats(grey: np.ndarray) -> LumaStats:
    mean, std = cv2.meanStdDev(grey)
    return LumaStats(float(mean[0, 0]), float(std[0, 0]))


def is_black(stats: LumaStats, luma_max: float, std_max: float) -> bool:
    return bool(stats.mean <= luma_max and stats.std <= std_max)


def is_dark(stats: LumaStats, luma_max: float) -> bool:
    return bool(stats.mean <= luma_max)


def texture(grey: np.ndarray) -> float:
    """Spread of the Laplacian (luma levels): fine detail and noise. A covered lens has almost none.

    The standard deviation comes from the sum and the L2 norm: cv2.meanStdDev has no fast path for int16
    (25 µs against 2 µs at 160x90).
    """
    lap = cv2.Laplacian(grey, cv2.CV_16S, ksize=1)
    n = lap.size
    mean = cv2.sumElems(lap)[0] / n
    rms = cv2.norm(lap, cv2.NORM_L2) / math.sqrt(n)
    return math.sqrt(max(0.0, rms * rms - mean * mean))


def sharpness(tex: float, stats: LumaStats) -> float:
    """Texture relative to contrast: unchanged by a gain or brightness change, falls when the view blurs."""
    return tex / (stats.std + 2.0)


def changed_pct(prev: np.ndarray, cur: np.ndarray, pixel_delta: int, keep: np.ndarray | None) -> float:
    """Share (%) of the (unmasked) pixels that changed by more than ``pixel_delta`` luma levels."""
    if prev.shape != cur.shape:
        return 100.0
    d = cv2.absdiff(prev, cur)
    _, moved = cv2.threshold(d, pixel_delta, 255, cv2.THRESH_BINARY)
    if keep is not None:
        moved = cv2.bitwise_and(moved, keep)
        total = max(1, cv2.countNonZero(keep))
    else:
        total = d.size
    return 100.0 * cv2.countNonZero(moved) / total


def mean_abs_diff(prev: np.ndarray, cur: np.ndarray) -> float:
    if prev.shape != cur.shape:
        return float("inf")
    return cv2.norm(prev, cur, cv2.NORM_L1) / prev.size


def gradient_map(grey: np.ndarray) -> np.ndarray:
    """Coarse gradient magnitude of the view (float32, half the analysis size, cropped to whole cells)."""
    small = cv2.pyrDown(grey)  # blur + halve in one cheap pass
    ny, nx = REF_CELLS
    h, w = small.shape
    small = small[: h // ny * ny, : w // nx * nx]
    gx, gy = cv2.spatialGradient(small)  # both 3x3 Sobels in one pass (int16)
    # square root of the magnitude: compressed, so one strong edge (a passing car) does not dominate a cell
    return cv2.sqrt(cv2.magnitude(np.float32(gx), np.float32(gy)))


class ReferenceView:
    """A learned reference map, normalised cell by cell once, so comparing a view with it is one product.

    Per cell, with the reference's part ``b_n = (b - mean_b) / std_b`` (0 in a flat cell), the normalised
    cross-correlation of a map ``a`` is ``mean(a * b_n) / std_a``: three cell means of ``a`` (one resize)
    instead of five, and no work on the reference until it changes (``baseline`` updates it at most every
    few seconds).
    """

    def __init__(self, ref: np.ndarray, cells: tuple[int, int] = REF_CELLS) -> None:
        self.map = ref
        self.cells = cells
        ny, nx = cells
        h, w = ref.shape
        b = ref.astype(np.float32, copy=False)
        m = cv2.resize(cv2.merge([b, b * b]), (nx, ny), interpolation=cv2.INTER_AREA)
        mb, vb = m[..., 0], m[..., 1] - m[..., 0] * m[..., 0]
        sb = np.sqrt(np.maximum(vb, 0.0))
        inv = np.where(sb > _FLAT, 1.0 / np.maximum(sb, _FLAT), 0.0).astype(np.float32)
        full = cv2.resize(cv2.merge([mb, inv]), (w, h), interpolation=cv2.INTER_NEAREST)  # exact: whole cells
        self.normed = (b - full[..., 0]) * full[..., 1]

    def correlation(self, a: np.ndarray) -> float:
        """Median over the cells of the NCC (-1..1) of ``a`` with the reference; a flat cell counts as 0."""
        if a.shape != self.map.shape:
            return 0.0
        ny, nx = self.cells
        a = a.astype(np.float32, copy=False)
        m = cv2.resize(cv2.merge([a, a * a, a * self.normed]), (nx, ny), interpolation=cv2.INTER_AREA)
        ma = m[..., 0]
        va = m[..., 1] - ma * ma
        # a flat cell of ``a``: mean(a * b_n) is ~0 (b_n sums to 0 in each cell), so its r is ~0 as well
        r = (m[..., 2] / np.sqrt(np.maximum(va, _FLAT * _FLAT))).ravel().tolist()
        r.sort()  # median of a couple of dozen values: plain Python beats numpy's call overhead here
        n = len(r)
        return float(r[n // 2] if n % 2 else 0.5 * (r[n // 2 - 1] + r[n // 2]))


_FLAT = 1e-3  # a cell whose map varies by less than this (std) has no structure to compare


def correlation(a: np.ndarray, b: np.ndarray, cells: tuple[int, int] = REF_CELLS) -> float:
    """Median over a grid of cells of the normalised cross-correlation (-1..1) of two same-shaped maps.

    A camera that turned decorrelates every cell; a car or a crowd passing spoils only the cells it covers.
    A flat cell (no structure in either map) counts as 0. The maps must be a whole number of cells
    (``gradient_map`` makes them so).
    """
    if a.shape != b.shape:
        return 0.0
    return ReferenceView(b, cells).correlation(a)


class FrozenTracker:
    """Tracks how long the picture has been unchanged, in sample time (seconds)."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._still_since: float | None = None

    def update(self, t: float, unchanged: bool | None) -> bool:
        """Feed whether this sample equals the previous one (None: no previous); True while frozen."""
        if not unchanged:
            self._still_since = None
            return False
        if self._still_since is None:
            self._still_since = t
        return bool(t - self._still_since >= self.after_s)

    def reset(self) -> None:
        self._still_since = None


class RateMeter:
    """Packets per second over a sliding window of packet times (stream seconds)."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def add(self, t: float) -> None:
        if self._times and t < self._times[-1]:  # timestamps went backwards: start again
            self._times.clear()
        self._times.append(t)
        while self._times and self._times[0] < t - self.window_s:
            self._times.popleft()

    def fps(self) -> float | None:
        """None until the window is (almost) full, so a session's first seconds never look slow."""
        if len(self._times) < 2 or self._times[-1] - self._times[0] < 0.8 * self.window_s:
            return None
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])

    def reset(self) -> None:
        self._times.clear()
