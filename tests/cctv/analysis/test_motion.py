"""Motion on synthetic arrays and on the real footage's quiet and busy stretches."""

from __future__ import annotations

import numpy as np
import pytest

from cctv.analysis.analyzer import Analyzer, CheckParams
from cctv.analysis.events import EventTracker
from cctv.analysis.frames import downscale_grey
from cctv.analysis.masks import rasterise
from cctv.analysis.motion import MotionDetector, MotionParams
from tests.helpers.analysis import keyframes
from tests.helpers.clips import textured


def picture(i: int, block_x: int | None = None, gain: float = 1.0, noise: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(i)
    y = textured(3).astype(np.float32) * gain + rng.normal(0, noise, (360, 640))
    if block_x is not None:
        y[150:230, block_x : block_x + 60] = 240
    return downscale_grey(np.clip(y, 0, 255).astype(np.uint8), 160)


def feed(det: MotionDetector, frames, step: float = 2.0, keep=None):
    return [det.update(f, i * step, keep) for i, f in enumerate(frames)]


def test_noise_alone_is_not_motion_but_a_moving_person_is():
    det = MotionDetector(MotionParams())
    quiet = feed(det, [picture(i) for i in range(6)])
    assert not any(r.motion for r in quiet)
    det = MotionDetector(MotionParams())
    moving = feed(det, [picture(i) for i in range(4)] + [picture(10 + i, 40 + 120 * i) for i in range(3)])
    assert all(r.motion for r in moving[4:]) and moving[5].score > 1.0


def test_global_changes_are_not_motion():
    det = MotionDetector(MotionParams())
    frames = [picture(i) for i in range(4)]
    frames += [picture(10 + i, gain=1.0 - 0.12 * (i + 1)) for i in range(4)]  # auto-exposure ramp
    frames += [picture(20 + i, gain=0.35, noise=9) for i in range(4)]  # IR switch: dark, noisy
    frames += [picture(30 + i, gain=1.3) for i in range(3)]  # headlights flood the picture
    results = feed(det, frames)
    assert not any(r.motion for r in results), [(r.score, r.global_change) for r in results]


def test_masks_hide_motion_in_their_area():
    keep = rasterise([[(0.0, 0.3), (0.5, 0.3), (0.5, 0.7), (0.0, 0.7)]], (90, 160))
    assert keep is not None and (keep == 0).mean() == pytest.approx(0.2, abs=0.03)
    frames = [picture(i) for i in range(4)] + [picture(10 + i, 20 + 80 * (i % 2)) for i in range(3)]
    assert any(r.motion for r in feed(MotionDetector(MotionParams()), frames))
    assert not any(r.motion for r in feed(MotionDetector(MotionParams()), frames, keep=keep))


def test_works_at_higher_sampled_rates():
    det = MotionDetector(MotionParams())
    frames = [picture(i) for i in range(20)] + [picture(30 + i, 40 + 12 * i) for i in range(10)]
    res = feed(det, frames, step=0.2)
    assert not any(r.motion for r in res[:20]) and sum(r.motion for r in res[20:]) >= 8


def test_events_have_start_end_and_peak():
    tr = EventTracker("motion", hold_s=4)
    seq = [(0, False, 0), (2, True, 1.0), (4, True, 3.0), (6, False, 0), (8, False, 0), (10, False, 0)]
    out = [e for t, m, s in seq for e in tr.update(t, m, s)]
    assert [(e.start, e.end, e.peak) for e in out] == [(2, 4, 3.0), (2, 4, 3.0)]  # opened, then closed
    assert tr.update(12, True, 0.5)[0].end is None
    assert tr.finish().end == 12


def test_intel_quiet_stretches_have_no_motion_and_each_movement_is_found():
    keys = keyframes("intel_person_bicycle_car")
    an = Analyzer("c", CheckParams())
    motion = {i * 2.0: an.analyse(k, i * 2.0, 0).motion for i, k in enumerate(keys)}
    quiet = [t for t in motion if 6.0 <= t <= 8.0 or 16.0 <= t <= 22.0 or t >= 36.0]
    assert not any(motion[t] for t in quiet), motion
    for a, b in [(0, 3.7), (9, 14), (24.5, 28), (28, 33.5)]:
        assert any(motion[t] for t in motion if a - 2 <= t <= b + 2), (a, b, motion)


@pytest.mark.parametrize("name", ["pets2009_vtest", "caviar_hallway", "bgs_highway_trees"])
def test_busy_footage_has_motion(name):
    keys = keyframes(name)
    an = Analyzer("c", CheckParams())
    motion = [an.analyse(k, i * 2.0, 0).motion for i, k in enumerate(keys)]
    assert sum(motion[1:]) >= 0.8 * (len(motion) - 1)
