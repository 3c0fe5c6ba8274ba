"""The shedder of an ingest process (streams/ingest/shed.py): it steps up only after sustained lateness, holds
in between, steps down after a long calm, thins keyframes in a fixed pattern and counts what it skipped."""

from __future__ import annotations

from streams.ingest.shed import LEVELS, Relief, Shedder


def test_it_steps_up_on_sustained_lateness_only_and_down_after_a_long_calm() -> None:
    s = Shedder(late_ms=250, calm_ms=50, up_after_s=3, down_after_s=30)
    t = 0.0
    for _ in range(5):  # a late blip now and then is not overload
        s.observe(400, t)
        s.observe(10, t + 0.5)
        t += 1.0
    assert s.level == 0
    for _ in range(7):  # late for 3 s: one step; for 3 s more: the next
        s.observe(400, t)
        t += 0.5
    assert s.level == 1 and s.raised == 1
    for _ in range(6):
        s.observe(400, t)
        t += 0.5
    assert s.level == 2
    for _ in range(200):  # in between: held
        s.observe(120, t)
        t += 0.5
    assert s.level == 2
    for _ in range(61):  # calm for 30 s: one step down
        s.observe(5, t)
        t += 0.5
    assert s.level == 1
    for _ in range(1000):
        s.observe(400, t)
        t += 0.5
    assert s.level == len(LEVELS) - 1  # never past the top
    assert s.report()["loop_delay_ms_max"] == 400 and s.report()["loop_delay_ms_max"] == 0  # per report


def test_keyframes_are_thinned_in_a_fixed_pattern_and_counted() -> None:
    s = Shedder()
    assert all(s.take_keyframe(i) for i in range(1, 9)) and s.skipped_keyframes == 0
    s.level = 2  # every 4th
    taken = [i for i in range(1, 17) if s.take_keyframe(i)]
    assert taken == [4, 8, 12, 16] and s.skipped_keyframes == 12
    s.level = len(LEVELS) - 1
    assert s.analyse_every == 8 and s.snapshot_factor == 4


def test_relief_asks_for_ten_percent_fewer_every_step_while_overloaded_and_nothing_once_calm() -> None:
    r = Relief(step_s=30, calm_s=120)
    assert r.update(1, 500, 0.0) is None  # shedding a little: no move
    assert r.update(2, 500, 1.0) == 450
    assert r.update(3, 480, 10.0) == 450  # within the step: the same ask
    assert r.update(3, 450, 31.0) == 405
    assert r.update(1, 405, 40.0) == 405  # still shedding a bit: holds what it asked
    assert r.update(0, 405, 50.0) == 405 and r.update(0, 405, 169.0) == 405
    assert r.update(0, 405, 171.0) is None  # calm for 2 minutes: its full share again
