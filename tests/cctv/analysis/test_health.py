"""Each health check on synthetic arrays and on frames of the real footage. Pure, no I/O beyond the footage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cctv.analysis.analyzer import Analyzer, CheckParams
from cctv.analysis.frames import content_box, downscale_grey
from cctv.analysis.health import (
    FrozenTracker,
    RateMeter,
    changed_pct,
    correlation,
    gradient_map,
    is_black,
    luma_stats,
    sharpness,
    texture,
)
from cctv.status.messages import DEGRADED_PRIORITY, Reason
from tests.helpers.analysis import keyframes, run, scene, warm


def pillarbox(y: np.ndarray) -> np.ndarray:
    out = y.copy()
    out[:, :80] = 0
    out[:, -80:] = 0
    return out


def test_black_needs_dark_and_flat_and_ignores_pillarbox_bars():
    assert is_black(luma_stats(np.full((90, 160), 16, np.uint8)), 20, 3)
    night = np.full((90, 160), 12, np.uint8)
    night[10:30, 10:40] = 230  # street lights
    assert not is_black(luma_stats(night), 20, 3)
    # a pillarboxed picture is not black, and its bars are found
    y = downscale_grey(pillarbox(scene()), 160)
    assert content_box(y) == (0, 90, 20, 140)
    an = Analyzer("c", CheckParams())
    flags = run(an, [pillarbox(scene(i=i)) for i in range(3)] + [np.zeros((360, 640), np.uint8)] * 2)
    assert flags[:3] == [frozenset()] * 3
    assert Reason.BLACK in flags[3]


def test_dark_night_is_informational_not_a_fault():
    an = Analyzer("c", CheckParams())
    t = warm(an)
    rng = np.random.default_rng(7)
    night = [
        np.clip(scene(1, i=i) * 0.15 + 4 + rng.normal(0, 4, (360, 640)), 0, 255).astype(np.uint8)
        for i in range(4)
    ]  # dark and noisy, like a night picture
    for f in night:
        s = an.analyse(f, t, 0)
        t += 2
        assert Reason.DARK in an.conditions
        assert s.flags == frozenset()  # no degrading flag
    an2 = Analyzer("c", CheckParams(dark_degrades=True))
    assert Reason.DARK in an2.analyse(night[0], 0, 0).flags


def test_covered_lens_has_no_texture():
    flat = np.full((360, 640), 80, np.uint8) + np.linspace(0, 8, 640, dtype=np.uint8)[None, :]
    g = downscale_grey(flat, 160)
    assert texture(g) < 4 and luma_stats(g).std < 5.5
    assert texture(downscale_grey(scene(), 160)) > 10
    an = Analyzer("c", CheckParams())
    t = warm(an)
    flags = run(an, [flat] * 3, t0=t)
    assert flags[0] == frozenset()  # onset debounce: one sample is not enough
    assert Reason.COVERED in flags[1] and Reason.FROZEN not in flags[2]


def test_blur_is_judged_against_the_cameras_own_baseline():
    g = downscale_grey(scene(), 160)
    b = downscale_grey(cv2.GaussianBlur(scene(), (0, 0), 6), 160)
    assert sharpness(texture(b), luma_stats(b)) < 0.5 * sharpness(texture(g), luma_stats(g))
    an = Analyzer("c", CheckParams())
    # before the warm-up there is no baseline: no verdict
    early = run(an, [cv2.GaussianBlur(scene(i=i), (0, 0), 6) for i in range(3)])
    assert all(Reason.BLURRED not in f for f in early)
    an = Analyzer("c", CheckParams())
    t = warm(an)
    flags = run(an, [cv2.GaussianBlur(scene(1, i=i), (0, 0), 6) for i in range(3)], t0=t)
    assert Reason.BLURRED in flags[1]
    assert an.analyse(scene(1, i=99), t + 6, 0).flags == frozenset()  # recovery at once


def test_brightness_and_gain_changes_are_not_blur_or_moved():
    an = Analyzer("c", CheckParams())
    t = warm(an)
    ramp = [
        np.clip(scene(1, i=i).astype(np.float32) * (1 - 0.1 * i), 0, 255).astype(np.uint8) for i in range(6)
    ]
    flags = run(an, ramp, t0=t)
    assert all(not (f - {Reason.DARK}) for f in flags), flags


def test_frozen_needs_a_run_and_tolerates_a_clock():
    tr = FrozenTracker(after_s=4)
    assert not tr.update(0, None)
    assert not tr.update(2, True)
    assert not tr.update(4, False)  # a changed picture restarts the run
    assert not tr.update(6, True)
    assert tr.update(10, True)
    a = downscale_grey(scene(i=1), 160)
    b = a.copy()
    b[2:6, 4:34] = 255 - b[2:6, 4:34]  # a burnt-in clock ticking (0.8 % of the picture)
    assert changed_pct(a, b, 3, None) < 1.0
    assert changed_pct(a, downscale_grey(scene(i=2), 160), 3, None) > 5.0
    an = Analyzer("c", CheckParams())
    still = scene(1, noise=0)
    clocked = []
    for i in range(5):
        f = still.copy()
        cv2.putText(f, f"12:00:{i:02d}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
        clocked.append(f)
    flags = run(an, clocked)
    assert flags[:3] == [frozenset()] * 3 and Reason.FROZEN in flags[3]


def test_moved_view_no_longer_matches_the_reference():
    ref = gradient_map(downscale_grey(scene(1), 160))
    assert correlation(ref, gradient_map(downscale_grey(scene(1, i=5), 160))) > 0.8
    h, w = 360, 640
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.1)
    m[0, 2] += 50
    an = Analyzer("c", CheckParams())
    t = warm(an)
    moved = [cv2.warpAffine(scene(1, i=i), m, (w, h), borderMode=cv2.BORDER_REFLECT) for i in range(3)]
    flags = run(an, moved, t0=t)
    assert Reason.MOVED in flags[1]


def test_low_fps_against_the_learned_rate():
    meter = RateMeter(5)
    for k in range(60):
        meter.add(k / 10)
    assert meter.fps() == pytest.approx(10, rel=0.05)
    an = Analyzer("c", CheckParams())
    t = warm(an)
    for i in range(4):  # now one packet a second
        for k in range(2):
            an.note_packet(t + k)
        an.analyse(scene(1, i=50 + i), t + 2, 0)
        t += 2
    assert Reason.LOW_FPS in an.conditions
    configured = Analyzer("c", CheckParams(expected_fps=25))
    run(configured, [scene(1, i=i) for i in range(4)])  # 10 fps delivered, 25 expected
    assert Reason.LOW_FPS in configured.conditions


def test_priority_names_the_worst_problem_first():
    assert DEGRADED_PRIORITY.index(Reason.COVERED) < DEGRADED_PRIORITY.index(Reason.BLACK)
    assert DEGRADED_PRIORITY.index(Reason.BLURRED) < DEGRADED_PRIORITY.index(Reason.FROZEN)


# -- real footage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["pets2009_vtest", "caviar_hallway", "intel_person_bicycle_car", "bgs_highway_trees"]
)
def test_footage_raises_no_alarm_and_each_perturbation_is_found(name):
    keys = keyframes(name)
    clean = run(Analyzer("c", CheckParams()), keys)
    assert all(not (f - {Reason.DARK}) for f in clean), clean
    n = min(len(keys), 8)
    cases = {
        Reason.BLURRED: [cv2.GaussianBlur(k, (0, 0), 5) for k in keys[n : n + 3]] or None,
        Reason.BLACK: [np.full_like(keys[0], 16)] * 2,
        Reason.FROZEN: [keys[n - 1]] * 4,
    }
    for reason, tail in cases.items():
        if not tail:
            continue
        flags = run(Analyzer("c", CheckParams()), keys[:n] + tail)
        assert any(reason in f for f in flags[n:]), (reason, flags)
