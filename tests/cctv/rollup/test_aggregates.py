"""Per-area aggregates: kept incrementally from the live model, equal to a recount, published at most once per
call, scoped views summed from the scope roots only."""

from __future__ import annotations

import random

from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.rollup.aggregates import AreaAggregates
from cctv.sites import Sites
from cctv.status.bus import InProcessBus
from cctv.status.live_model import LiveModel
from cctv.status.messages import TOPIC_COUNTS, TOPIC_MOTION, TOPIC_STATUS, MotionChange, State, StatusChange
from tests.helpers.web import WEB_CONFIG

REASONS = {State.ONLINE: [""], State.DEGRADED: ["black", "frozen", "covered"],
           State.OFFLINE: ["refused", "timeout", "auth"]}


def make() -> tuple[Sites, InProcessBus, LiveModel, AreaAggregates, FakeClock]:
    clock = FakeClock()
    sites = Sites(Config.model_validate(WEB_CONFIG))
    bus = InProcessBus()
    live = LiveModel(sites, clock.now_ms(), bus)
    return sites, bus, live, AreaAggregates(sites, live, bus, clock), clock


def test_incremental_counts_equal_a_recount_after_random_changes() -> None:
    sites, bus, live, agg, clock = make()
    rng = random.Random(7)
    cams = [c.path for c in sites.cameras]
    for _ in range(2000):
        cam = rng.choice(cams)
        if rng.random() < 0.2:
            bus.publish(TOPIC_MOTION, MotionChange(cam, rng.random() < 0.5, 1.0, clock.now_ms()))
        else:
            state = rng.choice(list(REASONS))
            bus.publish(TOPIC_STATUS, StatusChange(cam, state, rng.choice(REASONS[state]), clock.now_ms(), None))
        if rng.random() < 0.1:
            agg.publish()
    for area in sites.areas:
        assert agg.counts(area.path) == live.counts(area.path), area.path  # a recount, camera by camera


def test_one_message_per_publish_with_only_the_areas_that_changed() -> None:
    sites, bus, live, agg, clock = make()
    agg.publish()  # the start: every area
    seen = bus.subscribe(TOPIC_COUNTS)
    cam = "telanaipura/pematang-sulur/rt-03/cam-1"
    for state in (State.ONLINE, State.OFFLINE, State.ONLINE):  # three changes, one message
        bus.publish(TOPIC_STATUS, StatusChange(cam, state, "" if state is State.ONLINE else "refused", 0, None))
    msg = agg.publish()
    assert msg is not None and sorted(msg.areas) == sorted(
        ["", "telanaipura", "telanaipura/pematang-sulur", "telanaipura/pematang-sulur/rt-03"])
    assert msg.areas["telanaipura"].online == 1
    assert [m for _, m in seen.take()] == [msg]
    assert agg.publish() is None  # nothing changed since: nothing published


def test_a_scoped_view_sums_its_roots_and_nothing_else() -> None:
    sites, bus, live, agg, clock = make()
    for c in sites.cameras:
        bus.publish(TOPIC_STATUS, StatusChange(c.path, State.ONLINE, "", 0, None))
    bus.publish(TOPIC_STATUS, StatusChange("telanaipura/pematang-sulur/rt-03/cam-1", State.OFFLINE, "auth", 0, None))
    roots = ("kota-baru/paal-lima/rt-08", "kota-baru/simpang-tiga-sipin")
    city = agg.scoped("", roots)
    assert city.total == 2 and city.online == 2 and city.offline == 0  # telanaipura's outage is not theirs
    assert agg.scoped("kota-baru", roots).total == 2
    assert agg.scoped("kota-baru/simpang-tiga-sipin", roots).total == 1  # inside a root: the area itself
    assert agg.scoped("", ("",)).total == 5 and agg.scoped("", ("",)).offline == 1
