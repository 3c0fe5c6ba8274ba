"""The web benchmark's synthetic shard makes messages the monitor accepts: cameras come online and stay
online on its stats alone, and each action it takes turns into the two status changes it stands for."""

from __future__ import annotations

from collections import Counter

from bench.citygen import JAKARTA, city_config
from bench.synthetic_shard import SyntheticCity, SynthParams
from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.sites import Sites
from cctv.status.bus import InProcessBus
from cctv.status.channel import Channel
from cctv.status.live_model import LiveModel
from cctv.status.machine import StatusParams
from cctv.status.messages import TOPIC_STATUS
from cctv.status.monitor import Monitor

N = 60


def run(seconds: float, city: SyntheticCity, mon: Monitor, clock: FakeClock, step: float = 0.05) -> None:
    ticks_every = round(1 / step)
    for i in range(round(seconds / step)):
        clock.advance(step)
        for m in city.step(clock.monotonic(), clock.now_ms()):
            mon.handle(m)
        if i % ticks_every == 0:
            mon.tick()


def test_synthetic_city_goes_online_and_makes_the_scheduled_changes():
    clock = FakeClock()
    cfg = Config.model_validate(city_config(N, data_dir="/nonexistent", layout=JAKARTA))
    sites = Sites(cfg)
    cams = [c.path for c in sites.cameras]
    bus = InProcessBus()
    live = LiveModel(sites, clock.now_ms(), bus)
    mon = Monitor(cams, StatusParams(10, 4, 4), Channel(10), bus, clock)
    watch = bus.subscribe(TOPIC_STATUS, maxlen=10_000)
    params = SynthParams(seed=7, stats_every_s=2.0, changes_per_s=2.0, motion_per_s=0.5)
    city = SyntheticCity(cams, params, clock.monotonic())

    run(3, city, mon, clock)  # one stats period: every camera connected and sending
    assert all(live.camera(c).state == "online" for c in cams)
    run(30, city, mon, clock)  # no changes asked for: nobody falls offline on stats every 2 s
    assert all(live.camera(c).state == "online" for c in cams) and mon.unknown == 0
    while watch.get_nowait() is not None:
        pass

    city.start_changes(clock.monotonic())
    run(20, city, mon, clock)
    city.stop_changes()
    run(40, city, mon, clock)  # every bad spell runs its course
    kinds = Counter(kind for _, _, kind in city.actions)
    # 2 changes/s for 20 s, one action = two changes: 20 actions, the first at the start
    assert kinds["down"] + kinds["flag"] in (20, 21) and city.counts["skipped_busy"] == 0
    assert kinds["down"] == kinds["up"] > 0 and kinds["flag"] == kinds["clear"] > 0
    changes = []
    while (item := watch.get_nowait()) is not None:
        changes.append((item[1].camera, str(item[1].state), item[1].reason))
    states = Counter((s, r) for _, s, r in changes)
    assert states == {("offline", "refused"): kinds["down"], ("degraded", "black"): kinds["flag"],
                      ("online", ""): kinds["down"] + kinds["flag"]}
    # in order per camera: each bad state is followed by online again
    for cam in {c for c, _, _ in changes}:
        seq = [s for c, s, _ in changes if c == cam]
        assert seq[::2] != [] and all(s != "online" for s in seq[::2]) and all(s == "online" for s in seq[1::2])
    assert all(live.camera(c).state == "online" for c in cams)
    assert city.counts["motion"] > 0


def test_synthetic_city_is_seeded():
    a = SyntheticCity([f"k/l/r/cam-{i}" for i in range(50)], SynthParams(seed=3), 0.0)
    b = SyntheticCity([f"k/l/r/cam-{i}" for i in range(50)], SynthParams(seed=3), 0.0)
    for c in (a, b):
        c.start_changes(0.0)
        for i in range(1, 200):
            c.step(i * 0.05, 1_000 + i * 50)
    assert a.actions == b.actions and a.actions
