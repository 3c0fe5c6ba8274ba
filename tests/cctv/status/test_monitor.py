"""Worker messages → Monitor → bus → StoreWriter → intervals in a real SQLite file, with a FakeClock."""

from __future__ import annotations

import asyncio

from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.sites import Sites
from cctv.status.bus import InProcessBus
from cctv.status.channel import Channel, droppable_bound
from cctv.status.live_model import LiveModel
from cctv.status.machine import StatusParams
from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_STATS,
    TOPIC_STATUS,
    CameraSample,
    StreamStats,
    WorkerEvent,
)
from cctv.status.monitor import Monitor
from cctv.store import Store
from cctv.store.writer import StoreWriter
from tests.helpers.eventually import aeventually

CAMS = ["k1/l1/rt-01/cam-1", "k1/l1/rt-01/cam-2"]


def config() -> Config:
    cams = [{"slug": p.split("/")[-1], "name": p, "url": f"rtsp://127.0.0.1:8554/{p}"} for p in CAMS]
    return Config.model_validate(
        {
            "site": {"name": "T"},
            "kecamatan": [
                {"slug": "k1", "name": "K1", "kelurahan": [
                    {"slug": "l1", "name": "L1", "rt": [{"slug": "rt-01", "name": "RT 01", "cameras": cams}]}
                ]}
            ],
        }
    )


def stats(cam: str, clock: FakeClock, packets: int) -> StreamStats:
    return StreamStats(cam, clock.now_ms(), 10.0, 3e5, 2.0, clock.now_ms(), 0, packets, packets // 20, 0, 0,
                       640, 360, "h264", "keyframes")


def sample(cam: str, clock: FakeClock, flags=frozenset(), motion=False) -> CameraSample:
    return CameraSample(cam, clock.now_ms(), 5.0 if motion else 0.0, motion, 100.0, 40.0, 3.0, frozenset(flags))


async def test_status_flow_to_store_and_live_model(tmp_path):
    clock = FakeClock()
    cfg = config()
    sites = Sites(cfg)
    bus = InProcessBus()
    live = LiveModel(sites, clock.now_ms(), bus)
    store = Store(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    store.migrate()
    writer = StoreWriter(store, bus)
    ch: Channel = Channel(100)
    mon = Monitor(CAMS, StatusParams(10, 4, 4), ch, bus, clock)
    watch = bus.subscribe(TOPIC_STATUS, TOPIC_MOTION)
    a, b = CAMS
    t0 = clock.now_ms()

    mon.handle(WorkerEvent(a, "connected", clock.now_ms()))
    mon.handle(stats(a, clock, 10))
    assert live.camera(a).state == "online"
    assert live.camera(b).state == "offline" and live.camera(b).reason == "starting"
    for i in range(4):
        clock.advance(2)
        mon.handle(stats(a, clock, 30 + 20 * i))
        mon.handle(sample(a, clock, flags={"black"} if i else set(), motion=i == 0))
        mon.tick()
    assert live.camera(a).state == "degraded" and live.camera(a).reason == "black"
    # camera b never answered: offline (refused) once the deadline passed
    mon.handle(WorkerEvent(b, "disconnected", clock.now_ms(), "refused"))
    clock.advance(3)
    mon.tick()
    assert (live.camera(b).state, live.camera(b).reason) == ("offline", "refused")
    assert live.counts("k1").as_dict()["degraded"] == 1 and live.counts("").offline == 1
    # motion ended when the camera degraded
    topics = []
    while (item := watch.get_nowait()) is not None:
        topics.append((item[0], getattr(item[1], "state", None) or getattr(item[1], "motion", None)))
    assert ("motion", True) in topics and ("motion", False) in topics

    await writer.drain()
    rows = store.intervals()
    assert [(r.camera, r.state, r.reason, r.end_ms is None) for r in rows] == [
        (a, "online", "", False), (a, "degraded", "black", True), (b, "offline", "refused", True),
    ]
    assert rows[2].start_ms == t0  # dated from start: it never delivered a packet
    assert store.motion_events(a)[0]["end_ms"] is not None
    store.close()


async def test_monitor_run_consumes_channel_from_threads(tmp_path):
    clock = FakeClock()
    sites = Sites(config())
    bus = InProcessBus()
    live = LiveModel(sites, clock.now_ms(), bus)
    ch: Channel = Channel(100)
    mon = Monitor(CAMS, StatusParams(10, 4, 4), ch, bus, clock)
    task = asyncio.create_task(mon.run())
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, ch.put, stats(CAMS[0], clock, 5))
    await loop.run_in_executor(None, ch.put, WorkerEvent("not/a/known/camera", "connected", 0))
    await aeventually(lambda: mon.handled == 2, 1, "the monitor to handle both messages", every=0.01)
    assert live.camera(CAMS[0]).state == "online" and mon.unknown == 1
    ch.close()
    await asyncio.wait_for(task, 5)


def test_channel_drops_oldest_and_counts():
    ch: Channel = Channel(3)
    for i in range(5):
        ch.put(i)
    assert ch.take() == [2, 3, 4] and ch.dropped == 2


def test_channel_bound_holds_a_round_of_every_cameras_stats():
    """A node's channel holds four droppable messages per camera at least, whatever ingest.queue_size says."""
    assert droppable_bound(256, 10) == 2048 and droppable_bound(8, 30_000) == 120_000
    ch: Channel[int] = Channel(droppable_bound(8, 100))
    for i in range(400):
        ch.put(i)
    assert ch.dropped == 0
    ch.put(400)
    assert ch.dropped == 1 and ch.take()[0] == 1


def test_channel_keeps_the_keep_lane_and_the_order():
    """Connection events are never dropped, however full the droppable lane gets, and nothing is reordered: a
    packet count that came before a disconnect is still before it."""
    ch: Channel = Channel(2)
    ch.put("stats-1")
    ch.put_keep("disconnected")
    for i in range(2, 6):
        ch.put(f"stats-{i}")
    ch.put_keep("connected")
    assert ch.take() == ["disconnected", "stats-4", "stats-5", "connected"]
    assert ch.dropped == 3 and ch.kept == 2 and ch.keep_high_water == 2
    ch.close()
    ch.put("late")  # a droppable item after close is counted, not raised
    assert ch.dropped == 4


def test_channel_refuses_to_lose_a_keep_item_after_close():
    ch: Channel = Channel(4)
    ch.close()
    try:
        ch.put_keep("segment row")
    except RuntimeError as exc:
        assert "lost" in str(exc)
    else:
        raise AssertionError("put_keep on a closed channel must not silently drop the item")


def test_monitor_publishes_stats_at_a_bounded_rate_and_only_what_changed():
    """Stream stats reach the live model (camera page, /api/cameras) through the bus, in one message per
    stats_every_s for all cameras, never one per camera per second."""
    clock = FakeClock()
    bus = InProcessBus()
    live = LiveModel(Sites(config()), clock.now_ms(), bus)
    mon = Monitor(CAMS, StatusParams(10, 4, 4), Channel(100), bus, clock, stats_every_s=5)
    seen = bus.subscribe(TOPIC_STATS)
    a, b = CAMS
    for i in range(10):
        mon.handle(stats(a, clock, 10 + i))
        mon.handle(stats(b, clock, 10 + i))
        mon.handle(sample(a, clock, motion=True))
        clock.advance(1)
        mon.tick()
    batches = [m for _, m in seen.take()]
    assert len(batches) == 2  # 10 s at one batch per 5 s
    assert {i.camera for i in batches[-1].items} == {a, b}
    cam = live.camera(a)
    assert cam.stats is not None and cam.stats.packets == 19 and cam.last_sample_ms is not None
    assert cam.motion_score == 5.0


# -- the node's own lateness is never the cameras' (issue 12: a node that bends) ----------------------------


def _online_monitor(clock: FakeClock) -> tuple[Monitor, Channel, list]:
    ch: Channel = Channel(64)
    bus = InProcessBus()
    sub = bus.subscribe(TOPIC_STATUS)
    mon = Monitor(CAMS[:1], StatusParams(offline_after_s=10.0), ch, bus, clock)
    mon.handle(WorkerEvent(CAMS[0], "connected", clock.now_ms()))
    mon.handle(stats(CAMS[0], clock, 1))
    assert [m.state for _, m in sub.take()] == ["online"]
    return mon, ch, sub


def test_a_stall_of_the_node_is_excused_and_a_silent_camera_still_goes_offline_dated_right() -> None:
    clock = FakeClock()
    mon, _, sub = _online_monitor(clock)
    last_packet_ms = clock.now_ms()
    clock.advance(30.0)  # the node stood still for 30 s: no tick, no message handled
    mon.excuse(30.0)
    mon.tick()
    assert sub.take() == [] and mon.stalls == 1 and mon.stalled_s == 30.0
    clock.advance(9.0)
    mon.tick()
    assert sub.take() == []  # 9 s of real silence: not yet
    clock.advance(1.5)
    mon.tick()
    [(_, change)] = sub.take()
    assert change.state == "offline" and change.since_ms == last_packet_ms  # dated from the last packet


def test_signs_of_life_waiting_in_the_channel_are_seen_before_a_verdict() -> None:
    clock = FakeClock()
    mon, ch, sub = _online_monitor(clock)
    clock.advance(12.0)
    ch.put(stats(CAMS[0], clock, 500))  # arrived, not yet handled when the tick comes
    mon.drain()
    mon.tick()
    assert sub.take() == []


async def test_run_ticks_notices_it_was_late_and_excuses_that_time() -> None:
    clock = FakeClock()
    mon, _, sub = _online_monitor(clock)
    task = asyncio.create_task(mon.run_ticks(every_s=0.01))
    try:
        await asyncio.sleep(0.05)
        clock.advance(60.0)  # as if the loop had been blocked (or the process SIGSTOPped) for a minute
        await aeventually(lambda: mon.stalls == 1, 5, "the late tick to be noticed")
        await asyncio.sleep(0.05)
        assert sub.take() == []  # nothing went offline for the node's own minute
    finally:
        task.cancel()


def test_a_camera_taken_away_gets_no_verdict_and_its_motion_ends_and_one_given_starts_fresh() -> None:
    """An ingest node among many: the monitor forgets a camera another node takes (no offline verdict for the
    silence that follows, motion in progress closed now) and watches a new one from no verdict."""
    clock = FakeClock()
    mon, ch, sub = _online_monitor(clock)
    motion_sub = mon.bus.subscribe(TOPIC_MOTION)
    mon.handle(sample(CAMS[0], clock, motion=True))
    assert [m.motion for _, m in motion_sub.take()] == [True]
    mon.remove(CAMS[0])
    [(_, ended)] = motion_sub.take()
    assert not ended.motion and ended.camera == CAMS[0]
    clock.advance(60.0)
    mon.tick()
    mon.handle(stats(CAMS[0], clock, 900))  # a late message of the camera that left: ignored
    assert sub.take() == [] and CAMS[0] not in mon.status
    new = "k1/l1/rt-01/cam-9"
    mon.add(new)
    mon.handle(WorkerEvent(new, "connected", clock.now_ms()))
    mon.handle(stats(new, clock, 10))
    clock.advance(3.0)
    mon.handle(stats(new, clock, 40))
    mon.handle(sample(new, clock))
    mon.tick()
    changes = [m for _, m in sub.take() if m.camera == new]
    assert changes and changes[0].previous is None and changes[-1].state == "online"
