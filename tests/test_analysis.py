"""The first checks (motion score, black, frozen) on generated frames. Pure, no I/O."""

from __future__ import annotations

import numpy as np

from cctv.analysis.analyzer import Analyzer, CheckParams
from cctv.analysis.health import FrozenTracker, is_black, luma_stats
from cctv.analysis.motion import motion_score
from tests.clips import noisy_scene, textured


def frames(n: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    bg = textured(seed)
    return [noisy_scene(i * 20, rng, bg) for i in range(n)]


def test_noise_alone_is_not_motion_but_a_moving_block_is():
    rng = np.random.default_rng(0)
    bg = textured(0)
    a = np.clip(bg.astype(np.int16) + rng.integers(-6, 7, bg.shape), 0, 255).astype(np.uint8)
    b = np.clip(bg.astype(np.int16) + rng.integers(-6, 7, bg.shape), 0, 255).astype(np.uint8)
    assert motion_score(a, b, 25) < 0.1
    c = b.copy()
    c[100:200, 100:220] = 250
    assert motion_score(a, c, 25) > 3.0


def test_a_global_brightness_step_is_not_motion():
    bg = textured(3)
    brighter = np.clip(bg.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    assert motion_score(bg, brighter, 25) < 1.0


def test_black_needs_dark_and_flat():
    assert is_black(luma_stats(np.full((90, 160), 3, np.uint8)), 20, 8)
    night = np.full((90, 160), 12, np.uint8)
    night[10:30, 10:40] = 230  # street lights
    assert not is_black(luma_stats(night), 20, 8)
    assert not is_black(luma_stats(textured(0)), 20, 8)


def test_frozen_needs_a_run_not_a_single_repeat():
    tr = FrozenTracker(diff_max=0.15, after_s=10)
    assert not tr.update(0, 0.0)
    assert not tr.update(2, 3.0)  # a changed picture restarts the run
    assert not tr.update(4, 0.0)
    assert not tr.update(12, 0.0)
    assert tr.update(14, 0.0)
    assert not tr.update(16, 2.0)


def test_analyzer_flags_black_and_frozen_over_time():
    an = Analyzer("c", CheckParams(frozen_after_s=6))
    moving = frames(5)
    for i, f in enumerate(moving):
        s = an.analyse(f, i * 2.0, i * 2000)
        assert s.flags == frozenset()
    assert s.motion  # the block moved 40 px between samples
    still = moving[-1]
    flagged = [an.analyse(still, 10 + i * 2.0, 0).flags for i in range(6)]
    assert flagged[:3] == [frozenset()] * 3 and flagged[-1] == frozenset({"frozen"})
    black = np.zeros_like(still)
    assert an.analyse(black, 30, 0).flags == frozenset({"black"})


def test_samples_hold_plain_python_values_for_json():
    import json

    an = Analyzer("c", CheckParams())
    fs = frames(3)
    for i, f in enumerate(fs):
        s = an.analyse(f, i * 2.0, i * 2000)
    assert type(s.motion) is bool and type(s.motion_score) is float
    json.dumps({"motion": s.motion, "score": s.motion_score, "luma": s.luma_mean, "diff": s.frozen_diff})
