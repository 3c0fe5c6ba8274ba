"""The Analyzer as the worker drives it: samples over time, reset, baselines kept, masks from config."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cctv.analysis.analyzer import Analyzer, CheckParams, polygons
from cctv.analysis.baseline import Baseline, Onset
from cctv.status.messages import Reason
from tests.helpers.analysis import run, scene


def test_onset_and_baseline_run_on_sample_time():
    on = Onset(4)
    assert [on.update(t, c) for t, c in [(0, True), (2, True), (4, True), (5, False), (6, True)]] == [
        False,
        False,
        True,
        False,
        False,
    ]
    b = Baseline(warmup_s=4, tau_s=100, median=True)
    for t, x in [(0, 1.0), (2, 100.0), (4, 1.0)]:
        b.update(t, x)
    assert b.ready and b.value == 1.0  # the median ignores what passed by during the warm-up
    b.update(54, 2.0)  # 50 s later: 1 - exp(-50/100) of the way
    assert b.value == pytest.approx(1.0 + (1 - math.exp(-0.5)), rel=1e-6)
    b.update(100_054, 3.0)  # after a long gap one sample weighs at most max_step_s, never replaces the value
    assert b.value < 2.0 + 0.5


def test_sample_fields_and_motion_meaning():
    an = Analyzer("cam", CheckParams())
    frames = [scene(1, i=i) for i in range(4)]
    frames[3] = frames[3].copy()
    frames[3][100:220, 200:300] = 250  # something arrives
    samples = [an.analyse(f, i * 2.0, 1000 + i) for i, f in enumerate(frames)]
    assert samples[0].frozen_diff is None and samples[1].frozen_diff is not None
    assert not any(s.motion for s in samples[:3]) and samples[3].motion
    assert set(an.health) >= {
        "luma",
        "contrast",
        "texture",
        "sharpness_ratio",
        "view_corr",
        "changed_pct",
        "fps",
    }


def test_reset_keeps_what_was_learned_about_the_camera():
    an = Analyzer("cam", CheckParams())
    run(an, [scene(1, i=i) for i in range(8)])
    an.reset()
    import cv2

    flags = run(an, [cv2.GaussianBlur(scene(1, i=i), (0, 0), 6) for i in range(3)], t0=100)
    assert Reason.BLURRED in flags[-1]  # the baseline survived the reconnect


def test_config_masks_reach_the_checks():
    masks = polygons([[[0, 0], [1, 0], [1, 0.5]]])
    an = Analyzer("cam", CheckParams(masks=masks))
    keep = an._masks.get((90, 160))
    assert keep is not None and 0.2 < float((keep == 0).mean()) < 0.3
    assert isinstance(np.asarray(masks), np.ndarray)
