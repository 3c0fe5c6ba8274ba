"""Snapshot pictures scaled by OpenCV plane by plane look like what swscale makes, for every size and format."""

from __future__ import annotations

import av
import numpy as np
import pytest

from streams.camera.pipeline import small_bgr


def _frame(fmt: str, w: int, h: int) -> av.VideoFrame:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 127 // (w + h) + 64)], axis=-1).astype(np.uint8)
    rgb[h // 3 : h // 2, w // 4 : w // 2] = rng.integers(0, 255, (h // 2 - h // 3, w // 2 - w // 4, 3))  # texture
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)


@pytest.mark.parametrize(("fmt", "w", "h", "tw", "th"), [
    ("yuv420p", 640, 360, 320, 180),
    ("yuvj420p", 1280, 720, 320, 180),
    ("yuv420p", 640, 360, 640, 360),  # no scaling
    ("yuv420p", 352, 288, 322, 264),  # not a divisor
    ("yuv422p", 640, 360, 320, 180),  # not 4:2:0: swscale
    ("nv12", 640, 360, 320, 180),
])
def test_small_bgr_looks_like_swscale(fmt: str, w: int, h: int, tw: int, th: int) -> None:
    frame = _frame(fmt, w, h)
    got = small_bgr(frame, tw, th)
    want = frame.reformat(width=tw, height=th, format="bgr24").to_ndarray()
    assert got.shape == want.shape == (th, tw, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 6  # area averaging vs bilinear, at edges
    # the colours are right, not swapped: a red-heavy corner stays red-heavy
    assert got[th // 10, tw - tw // 10, 2] > got[th // 10, tw - tw // 10, 0]
