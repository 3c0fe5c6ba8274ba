"""Re-learning a re-aimed camera's view, keyframe-only frozen comparisons, and the fast paths' exactness."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cctv.analysis.analyzer import Analyzer, CheckParams
from cctv.analysis.frames import downscale_grey
from cctv.analysis.health import ReferenceView, gradient_map, texture
from cctv.analysis.view import REF_UPDATE_S
from cctv.status.messages import Reason
from tests.helpers.analysis import run, scene, warm

W, H = 640, 360


def turned(y: np.ndarray, angle: float = 8, shift: float = 50) -> np.ndarray:
    m = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.1)
    m[0, 2] += shift
    return cv2.warpAffine(y, m, (W, H), borderMode=cv2.BORDER_REFLECT)


def moved_flags(an: Analyzer, frames, t0: float) -> list[bool]:
    return [Reason.MOVED in f for f in run(an, frames, t0=t0)]


def test_a_new_view_that_holds_becomes_the_reference():
    an = Analyzer("c", CheckParams(moved_relearn_s=60))
    t = warm(an)
    new = [turned(scene(1, i=i)) for i in range(40)]  # 80 s of the same new view
    flags = moved_flags(an, new, t)
    assert flags[1] and all(flags[1:30])  # moved from the second sample on, for 60 s of sample time
    assert not any(flags[32:]), flags  # then the new view is the reference
    assert an._view.relearned == 1
    assert an.health["new_view_s"] is None  # no new view pending any more
    back = moved_flags(an, [scene(1, i=50 + i) for i in range(3)], t + 80)
    assert back[1]  # turned back to the old view: that is a move again


def test_a_swinging_camera_is_never_relearned():
    an = Analyzer("c", CheckParams(moved_relearn_s=20))
    t = warm(an)
    views = [
        turned(scene(1, i=i), angle=8 if i % 4 < 2 else -10, shift=50 if i % 4 < 2 else -80)
        for i in range(40)
    ]  # two different wrong views, alternating every 4 s
    flags = moved_flags(an, views, t)
    assert all(flags[1:]), flags
    assert an._view.relearned == 0


def test_relearn_off_keeps_the_camera_moved_until_the_view_is_accepted():
    an = Analyzer("c", CheckParams(moved_relearn_s=0))
    t = warm(an)
    flags = moved_flags(an, [turned(scene(1, i=i)) for i in range(60)], t)
    assert all(flags[1:]) and an.health["new_view_s"] is None
    an.accept_view()  # someone confirmed the re-aim
    t += 120
    after = moved_flags(an, [turned(scene(1, i=100 + i)) for i in range(12)], t)
    assert not any(after), after
    assert an._view.ready  # learned again over the warm-up
    assert Reason.BLURRED not in an.conditions  # the sharpness baseline was learned again too


def test_new_view_time_is_reported_while_moved():
    an = Analyzer("c", CheckParams())
    t = warm(an)
    run(an, [turned(scene(1, i=i)) for i in range(4)], t0=t)
    assert an.health["new_view_s"] == pytest.approx(6.0)


def test_reference_updates_are_throttled_and_follow_a_slow_change():
    an = Analyzer("c", CheckParams())
    t = warm(an)
    first = an._view._view
    run(an, [scene(1, i=20 + i) for i in range(3)], t0=t)
    assert an._view._view is first  # within REF_UPDATE_S the normalised reference is reused
    run(an, [scene(1, i=30)], t0=t + REF_UPDATE_S + 6)
    assert an._view._view is not first


# -- frozen: keyframes only ------------------------------------------------------------------------------


def test_frozen_compares_keyframes_only():
    """Sampled decoding: a frozen camera's P-frames differ from its keyframe (the encoder refines the detail),
    a quiet live scene's P-frames repeat (the encoder copies still blocks). Only keyframes tell them apart."""
    still = scene(1, noise=0)
    refined = cv2.GaussianBlur(still, (0, 0), 1.2)  # what a P-frame of the frozen picture may look like
    an = Analyzer("c", CheckParams())
    flags = []
    for i in range(20):  # 5 fps, a keyframe every 2 s
        t = i * 0.4
        key = i % 5 == 0
        an.analyse(still if key else (refined if i % 2 else still), t, 0, key)
        flags.append(Reason.FROZEN in an.conditions)
    assert flags[-1] and not flags[0]
    assert an.health["changed_pct"] is None  # measured on keyframes only (the last sample was not one)
    live = Analyzer("c", CheckParams())
    for i in range(40):
        t = i * 0.4
        key = i % 5 == 0
        frame = scene(1, i=i // 5)  # a new picture at every keyframe, repeated in between
        live.analyse(frame, t, 0, key)
        assert Reason.FROZEN not in live.conditions, i


def test_frozen_state_holds_between_keyframes():
    still = scene(1, noise=0)
    an = Analyzer("c", CheckParams())
    for i in range(16):
        an.analyse(still, i * 0.5, 0, i % 4 == 0)
    assert Reason.FROZEN in an.conditions
    an.analyse(scene(1, i=3), 8.5, 0, False)  # a P-frame that differs does not end it...
    assert Reason.FROZEN in an.conditions
    an.analyse(scene(1, i=4), 9.0, 0, True)  # ...a keyframe that differs does
    assert Reason.FROZEN not in an.conditions


# -- the fast paths compute what the plain formulas compute ----------------------------------------------


def plain_ncc_median(a: np.ndarray, b: np.ndarray, cells=(4, 6)) -> float:
    ny, nx = cells
    h, w = a.shape
    r = []
    for i in range(ny):
        for j in range(nx):
            ca = a[i * h // ny : (i + 1) * h // ny, j * w // nx : (j + 1) * w // nx].astype(np.float64)
            cb = b[i * h // ny : (i + 1) * h // ny, j * w // nx : (j + 1) * w // nx].astype(np.float64)
            da, db = ca - ca.mean(), cb - cb.mean()
            den = np.sqrt((da * da).mean() * (db * db).mean())
            r.append(float((da * db).mean() / den) if den > 1e-6 else 0.0)
    return float(np.median(r))


@pytest.mark.parametrize("seed", range(4))
def test_reference_view_correlation_is_the_cellwise_ncc(seed):
    rng = np.random.default_rng(seed)
    a = gradient_map(downscale_grey(scene(seed), 160))
    b = gradient_map(
        downscale_grey(turned(scene(seed), angle=rng.uniform(-3, 3), shift=rng.uniform(-9, 9)), 160)
    )
    b[: b.shape[0] // 4, : b.shape[1] // 6] = 3.0  # one flat cell in the reference
    assert ReferenceView(b).correlation(a) == pytest.approx(plain_ncc_median(a, b), abs=1e-4)
    assert ReferenceView(a).correlation(a) == pytest.approx(1.0, abs=1e-4)


def test_texture_is_the_laplacian_spread():
    g = downscale_grey(scene(2), 160)
    lap = cv2.Laplacian(g, cv2.CV_16S, ksize=1).astype(np.float64)
    assert texture(g) == pytest.approx(float(lap.std()), rel=1e-6)
    assert texture(np.full((90, 160), 77, np.uint8)) == 0.0


def test_a_new_resolution_is_learned_again_not_called_a_move():
    an = Analyzer("c", CheckParams())
    t = warm(an)
    wide = [cv2.resize(scene(1, i=i), (704, 576)) for i in range(12)]  # the substream now D1 (160x131)
    flags = run(an, wide, t0=t)
    assert not any(Reason.MOVED in f for f in flags), flags
    assert an._view.ready and an._view._view is not None and an._view._view.map.shape[0] > 44
