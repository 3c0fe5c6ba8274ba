"""The debounced status state machine, driven by a FakeClock: no sleeping."""

from __future__ import annotations

from cctv.clock import FakeClock
from cctv.status.machine import CameraStatus, StatusParams
from cctv.status.messages import Reason, State

P = StatusParams(offline_after_s=10, degraded_after_s=4, recover_after_s=4)


def make(clock: FakeClock) -> CameraStatus:
    return CameraStatus("kec/kel/rt-01/cam-1", P, clock.monotonic(), clock.now_ms())


def feed_data(st: CameraStatus, clock: FakeClock, seconds: float, step: float = 1.0, flags=frozenset()):
    changes = []
    t = 0.0
    while t < seconds:
        clock.advance(step)
        t += step
        changes += st.on_sample(clock.monotonic(), clock.now_ms(), frozenset(flags))
        changes += st.tick(clock.monotonic(), clock.now_ms())
    return changes


def test_first_data_makes_camera_online_dated_at_the_packet():
    clock = FakeClock()
    st = make(clock)
    assert st.state is None and st.reason == Reason.STARTING
    clock.advance(0.5)
    [ch] = st.on_data(clock.monotonic(), clock.now_ms())
    assert ch.state is State.ONLINE and ch.previous is None and ch.since_ms == clock.now_ms()


def test_never_connected_goes_offline_after_deadline_with_last_error():
    clock = FakeClock()
    st = make(clock)
    start_ms = clock.now_ms()
    clock.advance(1)
    assert st.on_disconnected(clock.monotonic(), clock.now_ms(), Reason.REFUSED) == []
    clock.advance(8.9)
    assert st.tick(clock.monotonic(), clock.now_ms()) == []
    clock.advance(0.2)
    [ch] = st.tick(clock.monotonic(), clock.now_ms())
    assert (ch.state, ch.reason, ch.since_ms) == (State.OFFLINE, Reason.REFUSED, start_ms)


def test_short_outage_is_debounced_and_long_one_is_dated_from_last_packet():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 5)
    last_ms = clock.now_ms()
    clock.advance(1)
    assert st.on_disconnected(clock.monotonic(), clock.now_ms(), Reason.EOF) == []
    clock.advance(3)
    # reconnected within the deadline: no change at all
    assert feed_data(st, clock, 3) == []
    last_ms = clock.now_ms()
    clock.advance(10.5)
    changes = st.tick(clock.monotonic(), clock.now_ms())
    assert [(c.state, c.reason, c.since_ms) for c in changes] == [(State.OFFLINE, Reason.TIMEOUT, last_ms)]


def test_open_session_without_media_is_stalled():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 3)
    st.on_connected(clock.monotonic(), clock.now_ms())
    clock.advance(11)
    [ch] = st.tick(clock.monotonic(), clock.now_ms())
    assert (ch.state, ch.reason) == (State.OFFLINE, Reason.STALLED)


def test_offline_reason_is_refined_when_a_later_error_explains_it():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 2)
    st.on_connected(clock.monotonic(), clock.now_ms())
    clock.advance(11)
    [ch] = st.tick(clock.monotonic(), clock.now_ms())
    assert ch.reason == Reason.STALLED
    clock.advance(1)
    [ch2] = st.on_disconnected(clock.monotonic(), clock.now_ms(), Reason.NOT_FOUND)
    assert (ch2.state, ch2.reason, ch2.previous_reason) == (State.OFFLINE, Reason.NOT_FOUND, Reason.STALLED)


def test_recovery_from_offline_on_first_packet():
    clock = FakeClock()
    st = make(clock)
    clock.advance(11)
    st.tick(clock.monotonic(), clock.now_ms())
    assert st.state is State.OFFLINE
    clock.advance(1)
    [ch] = st.on_data(clock.monotonic(), clock.now_ms())
    assert (ch.state, ch.previous, ch.since_ms) == (State.ONLINE, State.OFFLINE, clock.now_ms())


def test_health_flag_degrades_after_debounce_dated_from_onset_and_recovers():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 3)
    clock.advance(2)
    onset = clock.now_ms()
    assert st.on_sample(clock.monotonic(), onset, frozenset({"black"})) == []
    clock.advance(2)
    assert st.on_sample(clock.monotonic(), clock.now_ms(), frozenset({"black"})) == []
    clock.advance(2)
    [ch] = st.on_sample(clock.monotonic(), clock.now_ms(), frozenset({"black"}))
    assert (ch.state, ch.reason, ch.since_ms) == (State.DEGRADED, "black", onset)
    clock.advance(2)
    clean = clock.now_ms()
    assert st.on_sample(clock.monotonic(), clean, frozenset()) == []
    clock.advance(2)
    assert st.on_sample(clock.monotonic(), clock.now_ms(), frozenset()) == []
    clock.advance(2)
    [back] = st.on_sample(clock.monotonic(), clock.now_ms(), frozenset())
    assert (back.state, back.reason, back.since_ms) == (State.ONLINE, "", clean)


def test_a_flag_that_flickers_does_not_degrade():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 2)
    changes = []
    for i in range(20):
        clock.advance(2)
        flags = frozenset({"frozen"}) if i % 2 else frozenset()
        changes += st.on_sample(clock.monotonic(), clock.now_ms(), flags)
    assert changes == []


def test_most_serious_flag_names_the_degradation():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 2)
    changes = feed_data(st, clock, 6, step=2, flags={"frozen", "black"})
    assert [(c.state, c.reason) for c in changes] == [(State.DEGRADED, "black")]


def test_offline_overrides_degraded_and_clears_flags():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 2)
    feed_data(st, clock, 6, step=2, flags={"black"})
    assert st.state is State.DEGRADED
    clock.advance(11)
    [ch] = st.tick(clock.monotonic(), clock.now_ms())
    assert (ch.state, ch.previous) == (State.OFFLINE, State.DEGRADED)
    clock.advance(1)
    [ch] = st.on_sample(clock.monotonic(), clock.now_ms(), frozenset())
    assert ch.state is State.ONLINE


def test_since_never_goes_backwards():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 20, step=0.5)
    prev = 0
    for i in range(200):
        clock.advance(0.7)
        flags = frozenset({"black"}) if (i // 10) % 2 else frozenset()
        changes = st.on_sample(clock.monotonic(), clock.now_ms(), flags) + st.tick(clock.monotonic(), clock.now_ms())
        if i % 37 == 0:
            clock.advance(12)
            changes += st.tick(clock.monotonic(), clock.now_ms())
        for c in changes:
            assert c.since_ms >= prev
            prev = c.since_ms


def test_a_vaguer_error_does_not_relabel_a_known_outage():
    clock = FakeClock()
    st = make(clock)
    feed_data(st, clock, 2)
    st.on_connected(clock.monotonic(), clock.now_ms())
    clock.advance(11)
    [ch] = st.tick(clock.monotonic(), clock.now_ms())
    assert ch.reason == Reason.STALLED
    for reason in (Reason.TIMEOUT, Reason.EOF, Reason.STALLED, Reason.ERROR, Reason.DECODE):
        clock.advance(3)
        assert st.on_disconnected(clock.monotonic(), clock.now_ms(), reason) == []
