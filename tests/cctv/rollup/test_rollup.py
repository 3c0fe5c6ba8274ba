"""Roll-ups: camera figures against a brute-force oracle, areas equal to the sum of their children, exact window
boundaries, and the live model equal to a model rebuilt from the store (a restart)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.rollup.history import RANK_SLICE, RollupModel, keep_from, load_rows
from cctv.rollup.tally import (
    Counts,
    Row,
    Tally,
    area_tallies,
    buckets,
    camera_tallies,
    camera_tally,
    count_states,
    episodes,
    sum_tallies,
    worst,
)
from cctv.rollup.timeline import Timeline
from cctv.sites import Sites
from cctv.status.bus import InProcessBus
from cctv.status.messages import TOPIC_STATUS, State, StatusChange
from cctv.store import Store
from cctv.store.models import StatusInterval
from tests.helpers.eventually import aeventually

STATES = ("online", "degraded", "offline", "unmonitored")
SMALL_WINDOWS = {"a": 150, "b": 700, "c": 2000}
SETTINGS = settings(max_examples=150, deadline=None, database=None)  # no example files in the tree


# -- generators ----------------------------------------------------------------------------------------


@st.composite
def camera_rows(draw: st.DrawFn, base_max: int = 300) -> tuple[list[Row], int]:
    """One camera's intervals as the store keeps them (sorted, no overlap, mostly contiguous), and a now."""
    t = draw(st.integers(0, base_max))
    rows: list[Row] = []
    for _ in range(draw(st.integers(0, 12))):
        t += draw(st.sampled_from([0, 0, 0, 0, 1, 37]))  # gaps: a shutdown or a crash
        length = draw(st.sampled_from([0, 1, 5, 60, 250, 900]))
        rows.append(Row(draw(st.sampled_from(STATES)), draw(st.sampled_from(["", "x", "y"])), t, t + length))
        t += length
    now = t + draw(st.sampled_from([0, 0, 1, 120]))
    if rows and draw(st.booleans()):  # the last one still open
        last = rows[-1]
        rows[-1] = Row(last.state, last.reason, last.start_ms, None)
        now = max(now, last.start_ms)
    return rows, now


def oracle(rows: Sequence[Row], since: int, until: int, now: int) -> Tally:
    """The same figures, one millisecond at a time."""
    horizon = now + 1  # an open row is seen at `now` too, so a repair at `now` is visible
    timeline: list[str | None] = [None] * (horizon + 1)
    for r in rows:
        for ms in range(r.start_ms, r.end_ms if r.end_ms is not None else horizon):
            timeline[ms] = None if r.state == "unmonitored" else r.state  # no node watched: unknown time
    t = Tally()
    for ms in range(max(since, 0), until):
        s = timeline[ms]
        if s is None:
            continue
        t.known_ms += 1
        t.up_ms += s != "offline"
        t.usable_ms += s == "online"
        t.degraded_ms += s == "degraded"
        t.offline_ms += s == "offline"
    ms = 0
    while ms < horizon:  # runs of one known state
        s = timeline[ms]
        if s is None:
            ms += 1
            continue
        end = ms
        while end < horizon and timeline[end] == s:
            end += 1
        nxt = timeline[end] if end < horizon else None
        began, fixed_at = since < ms <= until, since < end <= until
        if s == "offline":
            t.outages += began
            if nxt is not None and nxt != "offline" and fixed_at:
                t.repaired += 1
                t.repair_ms += end - ms
        elif s == "degraded":
            t.degradations += began
            if nxt == "online" and fixed_at:
                t.degraded_repaired += 1
                t.degraded_repair_ms += end - ms
        ms = end
    return t


# -- one camera ----------------------------------------------------------------------------------------


@SETTINGS
@given(camera_rows(), st.data())
def test_camera_tally_matches_the_oracle(rows_now: tuple[list[Row], int], data: st.DataObject) -> None:
    rows, now = rows_now
    since = data.draw(st.integers(-50, now))
    until = data.draw(st.integers(since, now))
    assert camera_tally(rows, since, until, now) == oracle(rows, since, until, now)


@SETTINGS
@given(camera_rows(), st.data())
def test_the_index_gives_the_same_tally(rows_now: tuple[list[Row], int], data: st.DataObject) -> None:
    """The O(log n) Timeline of the live model equals the reference pass over the rows."""
    rows, now = rows_now
    since = data.draw(st.integers(-50, now))
    until = data.draw(st.integers(since, now))
    tl = Timeline(rows)
    assert tl.tally(since, until, now) == camera_tally(rows, since, until, now)
    edges = sorted(data.draw(st.lists(st.integers(-50, now), min_size=2, max_size=6)))
    assert tl.buckets(edges, now) == buckets(rows, edges, now)
    assert tl.episodes_since(since) == [e for e in episodes(rows) if e.end_ms is None or e.end_ms > since]


@SETTINGS
@given(camera_rows(), st.data())
def test_window_boundaries_split_exactly(rows_now: tuple[list[Row], int], data: st.DataObject) -> None:
    """Any split of a window: the two parts sum to the whole, every field (time and events)."""
    rows, now = rows_now
    a = data.draw(st.integers(-50, now))
    m = data.draw(st.integers(a, now))
    b = data.draw(st.integers(m, now))
    parts = camera_tally(rows, a, m, now).add(camera_tally(rows, m, b, now))
    assert parts == camera_tally(rows, a, b, now)


def test_boundaries_are_half_open_and_open_rows_run_to_now() -> None:
    rows = [Row("online", "", 0, 100), Row("offline", "timeout", 100, 160), Row("online", "", 160, None)]
    assert camera_tally(rows, 100, 160, 200) == Tally(known_ms=60, offline_ms=60, repaired=1, repair_ms=60)
    # the outage began at 100: in (0, 100], not in (100, 160]
    assert camera_tally(rows, 0, 100, 200).outages == 1
    assert camera_tally(rows, 100, 200, 200).outages == 0
    assert camera_tally(rows, 160, 200, 200) == Tally(known_ms=40, up_ms=40, usable_ms=40)
    assert camera_tally(rows, 160, 250, 200).known_ms == 40  # nothing after now


def test_unknown_time_is_not_in_the_denominator() -> None:
    """A camera first seen half-way through the window: its availability is over the half it was watched."""
    rows = [Row("online", "", 500, 800), Row("offline", "auth", 800, None)]
    t = camera_tally(rows, 0, 1000, 1000)
    assert (t.known_ms, t.up_ms, t.availability) == (500, 300, 0.6)
    assert camera_tally([], 0, 1000, 1000).availability is None


def test_a_relabelled_outage_is_one_outage_with_its_whole_duration() -> None:
    rows = [
        Row("online", "", 0, 10),
        Row("offline", "stalled", 10, 5000),
        Row("offline", "not_found", 5000, 9000),
        Row("online", "", 9000, None),
    ]
    (out,) = [e for e in episodes(rows) if e.state == "offline"]
    assert (out.start_ms, out.end_ms, out.reasons, out.repaired) == (10, 9000, ("stalled", "not_found"), True)
    t = camera_tally(rows, 8000, 10000, 10000)  # repaired inside, begun before: the whole 8990 ms count
    assert (t.outages, t.repaired, t.mttr_ms) == (0, 1, 8990)


def test_a_gap_is_not_a_repair() -> None:
    rows = [Row("offline", "timeout", 0, 100), Row("online", "", 150, None)]
    assert camera_tally(rows, 0, 200, 200).repaired == 0


@SETTINGS
@given(camera_rows(), st.integers(1, 9))
def test_buckets_add_up_to_the_window(rows_now: tuple[list[Row], int], n: int) -> None:
    rows, now = rows_now
    edges = [now - 1000 + i * 1000 // n for i in range(n)] + [now]
    got = sum_tallies(buckets(rows, edges, now))
    want = camera_tally(rows, edges[0], now, now)
    assert (got.known_ms, got.up_ms, got.usable_ms, got.offline_ms) == (
        want.known_ms,
        want.up_ms,
        want.usable_ms,
        want.offline_ms,
    )


# -- areas -----------------------------------------------------------------------------------------------


@st.composite
def hierarchy(draw: st.DrawFn) -> Sites:
    def cams(prefix: str) -> list[dict[str, str]]:
        return [
            {"slug": f"c{i}", "name": f"{prefix} c{i}", "url": "rtsp://10.0.0.1/s"}
            for i in range(draw(st.integers(1, 3)))
        ]

    kec = []
    for k in range(draw(st.integers(1, 3))):
        kel = []
        for j in range(draw(st.integers(1, 3))):
            kel.append(
                {
                    "slug": f"l{j}",
                    "name": f"L{j}",
                    "rt": [
                        {"slug": f"r{i}", "name": f"R{i}", "cameras": cams(f"{k}{j}{i}")}
                        for i in range(draw(st.integers(1, 3)))
                    ],
                }
            )
        kec.append({"slug": f"k{k}", "name": f"K{k}", "kelurahan": kel})
    return Sites(Config.model_validate({"site": {"name": "Kota"}, "kecamatan": kec}))


@SETTINGS
@given(hierarchy(), st.data())
def test_every_area_is_the_sum_of_its_children(sites: Sites, data: st.DataObject) -> None:
    per_rows = {c.path: data.draw(camera_rows(base_max=50)) for c in sites.cameras}
    now = max(n for _rows, n in per_rows.values())
    per_cam = {
        p: camera_tallies(rows, now, SMALL_WINDOWS)
        for p, (rows, _n) in per_rows.items()
        if data.draw(st.integers(0, 5))
    }  # some cameras have no intervals at all
    areas = area_tallies(sites.areas, per_cam, SMALL_WINDOWS)
    for area in sites.areas:
        parts = (
            [areas[c] for c in area.children]
            if area.children
            else [per_cam[c] for c in area.cameras if c in per_cam]
        )
        for w in SMALL_WINDOWS:
            assert areas[area.path][w] == sum_tallies(p[w] for p in parts), (area.path, w)
            # and the same as adding up every camera beneath, directly
            assert areas[area.path][w] == sum_tallies(per_cam[c][w] for c in area.cameras if c in per_cam)
    # time-weighted: the city's availability is its up time over its known time, not a mean of percentages
    city = areas[""]["c"]
    up = sum(per_cam[c]["c"].up_ms for c in per_cam)
    known = sum(per_cam[c]["c"].known_ms for c in per_cam)
    assert city.availability == (up / known if known else None)
    # the worst cameras of an area are the worst among its children's worst
    flat = {c: t["c"] for c, t in per_cam.items()}
    for area in sites.areas:
        if area.children:
            pooled = [r.camera for child in area.children for r in worst(flat, sites.area(child).cameras, 3)]
            assert worst(flat, area.cameras, 3) == worst(flat, pooled, 3)


def test_counts_of_an_area_are_the_sum_of_its_children() -> None:
    a = count_states([("online", "", True), ("offline", "auth", False)])
    b = count_states(
        [("degraded", "frozen", True), ("offline", "auth", False), ("offline", "starting", False)]
    )
    total = Counts().add(a).add(b)
    assert total.as_dict() == {
        "total": 5,
        "online": 1,
        "degraded": 1,
        "offline": 3,
        "motion": 2,
        "reasons": {"degraded:frozen": 1, "offline:auth": 2, "offline:starting": 1},
    }


# -- the live model and a restart ------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{tmp_path / 'rollup.sqlite3'}")
    store.migrate()
    yield store
    store.close()


CAMS = ("k/l/r/c0", "k/l/r/c1", "k/l/r/c2")


@st.composite
def change_stream(draw: st.DrawFn) -> tuple[list[tuple[StatusChange, int]], int]:
    """Status changes as a node sees them: (change, wall time seen). Each camera's ``since`` never goes back,
    and is backdated a little (as the status machine dates an outage from the last packet), never by a window."""
    wall = draw(st.integers(0, 500))
    t = dict.fromkeys(CAMS, 0)
    prev: dict[str, State | None] = dict.fromkeys(CAMS)
    out = []
    for _ in range(draw(st.integers(0, 40))):
        cam = draw(st.sampled_from(CAMS))
        wall += draw(st.sampled_from([0, 1, 30, 200, 900]))
        t[cam] = max(t[cam], wall - draw(st.sampled_from([0, 0, 1, 10, 100])))
        state = State(draw(st.sampled_from(STATES)))
        reason = "" if state is State.ONLINE else draw(st.sampled_from("ab"))
        out.append((StatusChange(cam, state, reason, t[cam], prev[cam]), wall))
        prev[cam] = state
    return out, wall + draw(st.sampled_from([0, 5, 700, 2500]))


def _reset(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(StatusInterval))


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(change_stream())
def test_restart_equals_the_live_model(db: Store, stream: tuple[list[tuple[StatusChange, int]], int]) -> None:
    """Changes applied live (and pruned as time goes by) give the same figures as a model loaded from the store."""
    _reset(db)
    changes, now = stream
    live = RollupModel(CAMS, SMALL_WINDOWS)
    for i, (ch, seen_ms) in enumerate(changes):
        db.apply_status_change(ch)
        live.apply(ch)
        if i % 7 == 6:
            live.prune(seen_ms)
    live.prune(now)
    rebuilt = RollupModel(CAMS, SMALL_WINDOWS)
    rebuilt.load(load_rows(db.engine, now - rebuilt.horizon_ms))
    assert live.tallies(now) == rebuilt.tallies(now)
    full = RollupModel(CAMS, SMALL_WINDOWS)  # nothing pruned: the reference
    full.load(db.intervals())
    assert full.tallies(now) == rebuilt.tallies(now)


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(camera_rows(base_max=2000), min_size=len(CAMS), max_size=len(CAMS)))
def test_loading_with_gaps_walks_back_over_whole_episodes(
    db: Store, per_cam: list[tuple[list[Row], int]]
) -> None:
    _reset(db)
    now = max(n for _rows, n in per_cam)
    with db.engine.begin() as conn:
        for cam, (rows, _n) in zip(CAMS, per_cam, strict=True):
            for r in rows:
                conn.execute(
                    StatusInterval.__table__.insert().values(
                        camera=cam, state=r.state, reason=r.reason, start_ms=r.start_ms, end_ms=r.end_ms
                    )
                )
    full = RollupModel(CAMS, SMALL_WINDOWS)
    full.load(db.intervals())
    pruned = RollupModel(CAMS, SMALL_WINDOWS)
    pruned.load(db.intervals())
    pruned.prune(now)
    loaded = RollupModel(CAMS, SMALL_WINDOWS)
    loaded.load(load_rows(db.engine, now - loaded.horizon_ms))
    assert full.tallies(now) == pruned.tallies(now) == loaded.tallies(now)


def test_keep_from_walks_over_a_zero_length_row() -> None:
    rows = [Row("offline", "a", 0, 50), Row("online", "", 50, 50), Row("offline", "b", 50, None)]
    assert keep_from(rows, 60) == 0  # the outage began at 0 (the zero-length online row is in no episode)
    assert keep_from([Row("online", "", 0, 50), Row("online", "", 50, None)], 60) == 1


async def test_model_follows_the_bus_and_loads_at_start(db: Store) -> None:
    _reset(db)
    clock = FakeClock(start_ms=10_000)
    bus = InProcessBus()
    cam = CAMS[0]
    db.apply_status_change(StatusChange(cam, State.ONLINE, "", 1_000, None))  # before the start: loaded
    model = RollupModel(CAMS, SMALL_WINDOWS)
    await model.start(db, bus, clock)
    try:
        await model.start(db, bus, clock)  # idempotent
        assert model.reloads == 1
        change = StatusChange(cam, State.OFFLINE, "timeout", 9_000, State.ONLINE)
        db.apply_status_change(change)
        bus.publish(TOPIC_STATUS, change)
        model.sync()  # a read right after the change sees it
        t = model.camera_tallies(cam, 10_000)["c"]
        assert (t.known_ms, t.up_ms, t.offline_ms, t.outages) == (2000, 1000, 1000, 1)
        bus.publish(TOPIC_STATUS, StatusChange(cam, State.ONLINE, "", 9_500, State.OFFLINE))
        # the follower task picks it up without a read
        await aeventually(lambda: model.applied >= 2, 5, "the follower task to apply the change", every=0.01)
        assert model.applied == 2
        assert model.camera_tallies(cam, 10_000)["c"].repaired == 1
    finally:
        await model.stop()
    assert bus.subscriptions == 0


async def test_changed_cameras_figures_are_kept_up_to_date_without_a_page(db: Store) -> None:
    """A city's first verdicts change every camera at once: the model brings their figures up to date in the
    background, in slices with other work between them, so the first page after does not pay for them."""
    _reset(db)
    cams = [f"k/l/r{i // 100}/c{i}" for i in range(2_000)]
    clock = FakeClock(start_ms=10_000)
    bus = InProcessBus()
    model = RollupModel(cams, SMALL_WINDOWS)
    await model.start(db, bus, clock)
    turns, busy = 0, True

    async def other_work() -> None:
        nonlocal turns
        while busy:
            turns += 1
            await asyncio.sleep(0)

    try:
        await aeventually(lambda: model.figures.waiting == 0, 10, "the load's figures to be computed")
        computed = model.figures.computed
        other = asyncio.create_task(other_work())
        for cam in cams:
            bus.publish(TOPIC_STATUS, StatusChange(cam, State.ONLINE, "", 9_000, None))
        await aeventually(lambda: model.applied == len(cams) and model.figures.waiting == 0, 10,
                          "every changed camera's figures brought up to date", every=0.01)
        busy = False
        await other
        assert model.figures.computed - computed >= len(cams)
        assert turns >= len(cams) // RANK_SLICE  # the other task ran between the slices
        assert model.area_tallies("k", 10_000)["c"].up_ms == 1000 * len(cams)
    finally:
        busy = False
        await model.stop()


async def test_a_stale_memo_is_given_while_a_fresh_one_is_computed_in_the_background() -> None:
    """A city's chart takes seconds: after its minute it is still shown while computed again off the page's
    path; only a memo older than ``stale_ms`` (or none) makes the caller wait; a failed refresh keeps the old."""
    model = RollupModel(CAMS, SMALL_WINDOWS)
    calls: list[int] = []
    gate = asyncio.Event()

    async def compute() -> int:
        calls.append(len(calls))
        if len(calls) == 3:
            raise RuntimeError("the store went away")
        if len(calls) == 2:
            await gate.wait()
        return len(calls)

    assert await model.amemo("k", 0, 60, 600, compute) == 1  # none yet: computed, waited for
    assert await model.amemo("k", 59, 60, 600, compute) == 1 and len(calls) == 1  # fresh: kept
    assert await model.amemo("k", 100, 60, 600, compute) == 1  # stale: given at once, refreshed behind
    assert await model.amemo("k", 101, 60, 600, compute) == 1
    await asyncio.sleep(0)
    assert len(calls) == 2  # one refresh at a time
    gate.set()
    await aeventually(lambda: model.memo_get("k", 101, 60) == 2, 5, "the refresh to land")
    assert await model.amemo("k", 200, 60, 600, compute) == 2  # stale again: the refresh fails ...
    await aeventually(lambda: not model._refreshing, 5, "the failed refresh to end")  # noqa: SLF001
    assert await model.amemo("k", 201, 60, 600, compute) == 2  # ... and the old value stays (refreshed again)
    await aeventually(lambda: model.memo_get("k", 201, 60) == 4, 5, "the next refresh to land")
    assert await model.amemo("k", 10_000, 60, 600, compute) == 5  # too old to show: computed, waited for


async def test_after_a_load_the_memo_before_it_is_shown_while_a_fresh_one_is_computed() -> None:
    model = RollupModel(CAMS, SMALL_WINDOWS)
    values = iter(range(1, 10))

    async def compute() -> int:
        return next(values)

    assert await model.amemo("k", 0, 60, 600, compute) == 1
    model.load([])  # a midnight: the figures are kept another way
    assert model.memo_get("k", 1, 60) is None  # not for plain look-ups
    assert await model.amemo("k", 1, 60, 600, compute) == 1  # shown while computed again
    await aeventually(lambda: model.memo_get("k", 1, 60) == 2, 5, "the fresh one")
    model.load([])
    assert await model.amemo("k", 1_000, 60, 600, compute) == 3  # too old to show: computed, waited for


async def test_a_reload_shows_the_figures_kept_while_they_are_computed_again(db: Store) -> None:
    """A midnight or a bus reconnect loads the same history again: a page right after it reads the figures kept
    (no city page computes 30,000 cameras' figures inline); the warm-up computes them again behind it. A camera
    that changes meanwhile is computed at once."""
    _reset(db)
    clock = FakeClock(start_ms=10_000)
    for cam in CAMS:
        db.apply_status_change(StatusChange(cam, State.ONLINE, "", 1_000, None))
    model = RollupModel(CAMS, SMALL_WINDOWS)
    await model.start(db, InProcessBus(), clock)
    try:
        await aeventually(lambda: model.figures.waiting == 0, 10, "the first load's figures")
        before = model.tallies(10_000)
        computed = model.figures.computed
        await model._reload_now()  # noqa: SLF001 - then hold the warm-up back: look right after the load
        model._warm_task.cancel()  # noqa: SLF001
        assert model.figures.waiting == len(CAMS)
        assert model.tallies(10_000) == before and model.figures.computed == computed  # shown as kept
        model.apply(StatusChange(CAMS[0], State.OFFLINE, "timeout", 9_000, State.ONLINE))
        assert model.camera_tallies(CAMS[0], 10_000)["c"].offline_ms == 1_000  # a change: computed at once
        assert model.figures.computed == computed + 1
        assert model.figures.catch_up(10_000, renew=True) and model.figures.waiting == 0
        assert model.figures.computed == computed + len(CAMS)
        fresh = RollupModel(CAMS, SMALL_WINDOWS)
        fresh.load(db.intervals())
        fresh.apply(StatusChange(CAMS[0], State.OFFLINE, "timeout", 9_000, State.ONLINE))
        assert model.tallies(10_000) == fresh.tallies(10_000)
    finally:
        await model.stop()
