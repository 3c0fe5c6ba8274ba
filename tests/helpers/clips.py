"""Small H.264 clips generated for tests (never real footage in the repository)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

W, H, FPS, GOP = 640, 360, 10, 20


def textured(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=(H // 8, W // 8), dtype=np.uint8)
    return np.kron(base, np.ones((8, 8), dtype=np.uint8))


def noisy_scene(i: int, rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    y = bg.astype(np.int16) + rng.integers(-6, 7, size=bg.shape, dtype=np.int16)
    x0 = (i * 12) % (W - 60)
    y[150:210, x0 : x0 + 60] = 240  # a moving block
    return np.clip(y, 0, 255).astype(np.uint8)


def write_clip(path: Path, seconds: float, frame: Callable[[int], np.ndarray]) -> Path:
    """Encode grey frames ``frame(i)`` to an H.264 MP4 at 640x360, 10 fps, GOP 20."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "bf": "0", "preset": "ultrafast"}
        for i in range(int(seconds * FPS)):
            y = frame(i)
            yuv = np.concatenate([y, np.full((H // 2, W), 128, np.uint8)], axis=0)
            vf = av.VideoFrame.from_ndarray(yuv.reshape(H * 3 // 2, W), format="yuv420p")
            vf.pts = i
            for p in s.encode(vf):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def moving_clip(path: Path, seconds: float = 6, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    bg = textured(seed)
    return write_clip(path, seconds, lambda i: noisy_scene(i, rng, bg))


def black_clip(path: Path, seconds: float = 6) -> Path:
    return write_clip(path, seconds, lambda i: np.full((H, W), 2, np.uint8))


def frozen_clip(path: Path, seconds: float = 16, seed: int = 0) -> Path:
    still = noisy_scene(0, np.random.default_rng(seed), textured(seed))
    return write_clip(path, seconds, lambda i: still)
