"""Pictures and runs for the analysis tests: a synthetic textured scene, an Analyzer fed samples as the
worker feeds it, its baseline learned, and the keyframes of the real footage (skipped where it is absent)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cctv.analysis.analyzer import Analyzer
from tests.helpers.clips import textured
from tests.helpers.paths import FOOTAGE


def scene(seed: int = 0, noise: float = 3.0, i: int = 0) -> np.ndarray:
    """A textured 640x360 picture with fine detail and a little per-frame noise."""
    rng = np.random.default_rng(1000 + i)
    base = cv2.GaussianBlur(textured(seed), (0, 0), 1.0).astype(np.float32)
    fine = np.random.default_rng(seed).normal(0, 12, base.shape).astype(np.float32)
    return np.clip(base + fine + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def run(an: Analyzer, frames, t0: float = 0.0, step: float = 2.0) -> list[frozenset[str]]:
    out = []
    for i, f in enumerate(frames):
        t = t0 + i * step
        for k in range(20):
            an.note_packet(t - 2.0 + (k + 1) * 0.1)
        an.analyse(f, t, int(t * 1000))
        out.append(an.conditions)
    return out


def warm(an: Analyzer, n: int = 8) -> float:
    run(an, [scene(1, i=i) for i in range(n)])
    return n * 2.0


def keyframes(name: str) -> list[np.ndarray]:
    import av

    path = FOOTAGE / f"{name}_360p10.mp4"
    if not path.exists():
        pytest.skip(f"real footage not present at {FOOTAGE} (see ../shared/footage/SOURCES.md)")
    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.codec_context.skip_frame = "NONKEY"
        out = [f.to_ndarray(format="gray") for f in c.decode(s)]
    return out
