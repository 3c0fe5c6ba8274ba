"""Daily tallies and the model's long windows (cctv/rollup/days.py, cctv/rollup/history.py): edge rows + tallied
days + recent rows give exactly what one pass over every row gives, on random histories; local days; a day
tallied again replaces its rows; areas are the sums of their cameras."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from cctv.clock import FakeClock
from cctv.rollup.days import Calendar, DayTallier, ancestors, area_days, camera_days, day_sums, tally_day
from cctv.rollup.history import RollupModel, load_basis
from cctv.rollup.tally import Row, sum_tallies
from cctv.status.bus import InProcessBus
from cctv.status.messages import State, StatusChange
from cctv.store import Store
from cctv.store.models import StatusInterval
from cctv.store.tally_models import AreaDayTally, CameraDayTally, TalliedDay
from tests.cctv.rollup.test_rollup import CAMS, SMALL_WINDOWS, camera_rows, db  # noqa: F401 - the fixture
from tests.helpers.eventually import aeventually

DAY = 100  # a day of the tests' calendar, in ms: SMALL_WINDOWS reach 1.5 to 20 days back


def _put(store: Store, per_cam: list[tuple[list[Row], int]]) -> int:
    with store.engine.begin() as conn:
        for table in (StatusInterval, CameraDayTally, AreaDayTally, TalliedDay):
            conn.execute(delete(table))
        for cam, (rows, _n) in zip(CAMS, per_cam, strict=True):
            for r in rows:
                conn.execute(StatusInterval.__table__.insert().values(
                    camera=cam, state=r.state, reason=r.reason, start_ms=r.start_ms, end_ms=r.end_ms))
    return max(n for _rows, n in per_cam)


def _loaded_from_days(store: Store, per_cam: list[tuple[list[Row], int]]) -> tuple[int, Calendar, RollupModel]:
    """The history in the store, every closed day tallied, and a model loaded from days as a node loads it."""
    now = _put(store, per_cam)
    cal = Calendar(length_ms=DAY)
    DayTallier(CAMS, cal, max(SMALL_WINDOWS.values()), settle_ms=0).catch_up(store.engine, now)
    model = RollupModel(CAMS, SMALL_WINDOWS, calendar=cal)
    model.load(*load_basis(store.engine, SMALL_WINDOWS, cal, now))
    return now, cal, model


@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(camera_rows(base_max=2000), min_size=len(CAMS), max_size=len(CAMS)), st.data())
def test_long_windows_from_days_equal_one_pass_over_every_row(db: Store, per_cam, data) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    now, cal, model = _loaded_from_days(db, per_cam)
    full = RollupModel(CAMS, SMALL_WINDOWS)  # every row: the reference
    full.load(db.intervals())
    assert model.basis is not None and model.basis.edges  # the long windows do come from days
    assert model.tallies(now) == full.tallies(now)
    # the same basis until midnight; the figures kept between calls move exactly as computed afresh
    for later in sorted(data.draw(st.lists(st.integers(now, cal.next(cal.floor(now)) - 1), max_size=6))):
        assert model.tallies(later) == full.tallies(later)
        city = full.tallies(later)
        assert model.area_tallies("", later) == {w: sum_tallies(c[w] for c in city.values()) for w in SMALL_WINDOWS}


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(camera_rows(base_max=2000), min_size=len(CAMS), max_size=len(CAMS)), st.data())
def test_changes_after_the_load_count_as_in_one_pass(db: Store, per_cam, data) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Live changes applied to a model loaded from days, and the same changes in the store."""
    now, cal, model = _loaded_from_days(db, per_cam)
    end = cal.next(cal.floor(now)) - 1
    t = now
    for _ in range(data.draw(st.integers(1, 5))):
        t = data.draw(st.integers(t, end))
        cam = data.draw(st.sampled_from(CAMS))
        since = max([t, *(r.start_ms for r in db.intervals() if r.camera == cam)])
        change = StatusChange(cam, State(data.draw(st.sampled_from(["online", "offline", "degraded"]))), "z",
                              since, None)
        db.apply_status_change(change)
        model.apply(change)
        if data.draw(st.booleans()):  # figures asked for between the changes: kept, then invalidated
            assert model.area_tallies("k/l", t)["c"] is not None
    full = RollupModel(CAMS, SMALL_WINDOWS)
    full.load(db.intervals())
    assert model.tallies(end) == full.tallies(end)
    per = full.tallies(end)
    assert model.area_tallies("k/l/r", end) == {w: sum_tallies(c[w] for c in per.values()) for w in SMALL_WINDOWS}


def test_local_days_start_at_local_midnight() -> None:
    wib = Calendar(ZoneInfo("Asia/Jakarta"))
    noon = int(datetime(2026, 12, 3, 5, 0, tzinfo=UTC).timestamp() * 1000)  # 12:00 WIB
    day = wib.floor(noon)
    assert datetime.fromtimestamp(day / 1000, UTC) == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # 00:00 WIB
    assert wib.next(day) - day == 86_400_000 and wib.floor(wib.next(day) - 1) == day
    assert wib.days(noon - 2 * 86_400_000, noon) == [day - 2 * 86_400_000, day - 86_400_000, day]
    assert ancestors("kec/kel/rt/cam") == ["", "kec", "kec/kel", "kec/kel/rt"]


def test_a_day_tallied_again_replaces_its_rows_and_areas_sum_their_cameras(store: Store) -> None:
    a, b = "k1/l1/r1/c1", "k1/l2/r1/c1"
    store.apply_status_change(StatusChange(a, State.ONLINE, "", 0, None))
    store.apply_status_change(StatusChange(b, State.OFFLINE, "timeout", 0, None))
    store.apply_status_change(StatusChange(a, State.OFFLINE, "refused", 60, State.ONLINE))
    store.apply_status_change(StatusChange(a, State.ONLINE, "", 80, State.OFFLINE))
    cal = Calendar(length_ms=DAY)
    tallier = DayTallier([a, b], cal, 10 * DAY, settle_ms=DAY)
    assert (0, 100) not in tallier.due(store.engine, 150)  # day 0 closed, not settled yet
    assert tallier.due(store.engine, 200)[0] == (0, 100)  # newest first (then the empty days before)
    assert tallier.catch_up(store.engine, 200) == 9 and tallier.due(store.engine, 200) == []
    assert tally_day(store.engine, [a, b], 0, 100, 200) == 2  # again: replaced, not doubled
    sums = day_sums(store.engine, 0, 100)
    assert (sums[a].up_ms, sums[a].offline_ms, sums[a].outages, sums[a].repaired, sums[a].repair_ms) == (
        80, 20, 1, 1, 20)
    assert (sums[b].known_ms, sums[b].offline_ms, sums[b].outages) == (100, 100, 0)  # began at 0, not after
    areas = area_days(store.engine, ["", "k1", "k1/l1"], 0, 100)
    assert areas[""][0] == sum_tallies([sums[a], sums[b]]) == areas["k1"][0]
    assert areas["k1/l1"][0] == sums[a] == camera_days(store.engine, [a], 0, 1000)[a][0]
    with store.engine.connect() as conn:
        q = select(func.count()).select_from(CameraDayTally).where(CameraDayTally.day_ms == 0)
        assert conn.execute(q).scalar_one() == 2
    assert day_sums(store.engine, -DAY, 0)[b].outages == 1  # an event at midnight ends the day before (t ≤ until)


def test_adding_tallies_adds_every_field() -> None:
    from dataclasses import fields

    from cctv.rollup.tally import Tally

    for f in fields(Tally):
        one = Tally(**{f.name: 1})
        assert getattr(one.add(Tally(**{f.name: 2})), f.name) == 3, f.name


def test_figures_are_kept_between_calls_until_a_change_or_a_boundary() -> None:
    """A camera online for hours: its figures at later times come from the kept line (not computed again) and
    equal a fresh computation; a change, or a window start passing one of its row boundaries, computes again."""
    cam = CAMS[0]
    model = RollupModel(CAMS, SMALL_WINDOWS)
    model.load([_row(cam, "online", 0, 1000), _row(cam, "offline", 1000, 1100), _row(cam, "online", 1100, None)])
    first = model.tallies(3000)[cam]
    n = model.figures.computed
    for t in (3001, 3050, 3099):  # window "c" (2000) starts at 1001..1099: inside the offline row
        assert model.tallies(t)[cam] == _fresh(model, cam, t)
    assert model.figures.computed == n and first["c"].offline_ms == 100
    assert model.tallies(3100)[cam]["c"].offline_ms == 0  # its start passed the repair: computed again
    assert model.figures.computed == n + 1
    model.apply(StatusChange(cam, State.OFFLINE, "x", 3200, State.ONLINE))
    assert model.tallies(3300)[cam] == _fresh(model, cam, 3300) and model.figures.computed == n + 2


def _row(cam: str, state: str, start: int, end: int | None) -> StatusInterval:
    return StatusInterval(camera=cam, state=state, reason="", start_ms=start, end_ms=end)


def _fresh(model: RollupModel, cam: str, t: int) -> dict:  # type: ignore[type-arg]
    return model._entry(cam, t).values  # noqa: SLF001 - computed afresh, not from the kept line


def test_a_change_older_than_the_last_row_is_ignored_but_a_gap_is_clamped() -> None:
    """A status change re-sent after a reconnect arrives after newer ones: it never steps a camera back; an
    ``unmonitored`` gap dated from a lost node's last renewal is clamped to the open row, as the store does."""
    cam = CAMS[0]
    model = RollupModel(CAMS, SMALL_WINDOWS)
    model.apply(StatusChange(cam, State.OFFLINE, "timeout", 1000, None))
    model.apply(StatusChange(cam, State.DEGRADED, "black", 5000, State.OFFLINE))
    model.apply(StatusChange(cam, State.OFFLINE, "timeout", 1000, None))  # the first one, again
    assert [(r.state, r.start_ms, r.end_ms) for r in model.rows(cam)] == [("offline", 1000, 5000),
                                                                           ("degraded", 5000, None)]
    assert model.stale == 1
    model.apply(StatusChange(cam, State.UNMONITORED, "node_lost", 4000, None))
    assert [(r.state, r.start_ms) for r in model.rows(cam)][-1] == ("unmonitored", 5000)


async def test_days_another_node_tallied_are_loaded_at_the_next_round(db: Store) -> None:  # noqa: F811
    """Two web nodes: one tallies the closed days while the other has loaded already. The other's next round
    tallies nothing itself, yet loads again, so its long windows hold those days (not only after midnight)."""
    cam = CAMS[0]
    _put(db, [([Row("online", "", 0, 700), Row("offline", "refused", 700, None)], 0), ([], 0), ([], 0)])
    cal, now = Calendar(length_ms=DAY), 1_950
    full = RollupModel(CAMS, SMALL_WINDOWS)  # every row: the reference
    full.load(db.intervals())
    bus = InProcessBus()
    late = RollupModel(CAMS, SMALL_WINDOWS, calendar=cal, settle_ms=10**9)  # never tallies a day itself
    await late.start(db, bus, FakeClock(start_ms=now))
    try:
        assert late.tallies(now)[cam] != full.tallies(now)[cam]  # nothing tallied yet: the full days are missing
        await aeventually(lambda: late.tallier.seen is not None, 10, "the model's own first round")
        await asyncio.sleep(0.05)  # ... and its look at what it found (nothing to tally, nothing new)
        assert DayTallier(CAMS, cal, max(SMALL_WINDOWS.values()), settle_ms=0).catch_up(db.engine, now) > 0
        reloads = late.reloads
        assert await late.tally_closed_days() == 0 and late.reloads == reloads + 1
        await aeventually(lambda: late.figures.waiting == 0, 10, "the figures computed again after the load")
        assert late.tallies(now) == full.tallies(now)
        assert await late.tally_closed_days() == 0 and late.reloads == reloads + 1  # nothing new: no reload
    finally:
        await late.stop()
