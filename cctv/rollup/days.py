"""Daily tallies: each closed local day's figures per camera and per area, kept in the store (docs/status.md,
"Long windows").

A 30,000-camera city has about two million interval rows in 30 days: loading them at every web node's start
took 35 s and 2 GB. Instead, once a day has been closed for ``settle_ms`` (late rows — an ``unmonitored`` gap
written by the node that took a camera over — have landed by then), any node with a roll-up model tallies it:
the rows overlapping the day (and the earlier rows of an outage going on at its start, for the repair's whole
duration) give each camera's :class:`~cctv.rollup.tally.Tally` over ``[day, next day)`` exactly as
:class:`~cctv.rollup.timeline.Timeline` does, and every area's is the sum of its cameras'. Tallying a day again
replaces its rows; two nodes tallying one day at once is harmless (one of them is refused by the key, and
counted). The model (cctv/rollup/history.py) adds full days from here to the edges it reads as rows.

Days are the site's local days (``site.timezone``): a chart of days starts at local midnight.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from cctv.rollup.tally import Row, Tally
from cctv.rollup.timeline import Timeline
from cctv.store.tally_models import AreaDayTally, CameraDayTally, TalliedDay

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Tally))
_C = CameraDayTally.__table__
_A = AreaDayTally.__table__
_D = TalliedDay.__table__
CHUNK = 5_000
LOCK_KEY = 0x63637476_0001  # pg_try_advisory_lock: one node tallies at a time ("cctv", 1)


class Calendar:
    """Where each day starts (UTC ms): local days of ``tz``, or days of ``length_ms`` from 0 (for tests)."""

    def __init__(self, tz: tzinfo | None = None, length_ms: int | None = None) -> None:
        self.tz = tz or ZoneInfo("UTC")
        self.length_ms = length_ms

    def floor(self, t_ms: int) -> int:
        """The start of the day holding ``t_ms``."""
        if self.length_ms is not None:
            return t_ms // self.length_ms * self.length_ms
        local = datetime.fromtimestamp(t_ms / 1000, self.tz)
        return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)

    def next(self, day_ms: int) -> int:
        """The start of the day after the one starting at ``day_ms``."""
        if self.length_ms is not None:
            return day_ms + self.length_ms
        local = datetime.fromtimestamp(day_ms / 1000, self.tz).date() + timedelta(days=1)
        return int(datetime(local.year, local.month, local.day, tzinfo=self.tz).timestamp() * 1000)

    def days(self, lo_ms: int, hi_ms: int) -> list[int]:
        """Starts of the days from the one holding ``lo_ms`` up to, not including, the one starting at or
        after ``hi_ms``."""
        out, d = [], self.floor(lo_ms)
        while d < hi_ms:
            out.append(d)
            d = self.next(d)
        return out


def ancestors(camera: str) -> list[str]:
    """The areas a camera path lies in, the city ("") first: ``kec/kel/rt/cam`` → "", kec, kec/kel, kec/kel/rt."""
    parts = camera.split("/")[:-1]
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


def tally_of(row: object) -> Tally:
    return Tally(**{f: int(getattr(row, f)) for f in FIELDS})


def tally_day(engine: Engine, cameras: Iterable[str], day_ms: int, end_ms: int, now_ms: int) -> int:
    """Tally ``[day_ms, end_ms)`` for ``cameras`` (the enabled ones) and every area above them; replaces what
    was there. Returns how many cameras had known time or events that day."""
    from cctv.rollup.history import load_rows  # the same reading as the model's (no import cycle at load)

    wanted = set(cameras)
    per_cam: dict[str, list[Row]] = defaultdict(list)
    for r in load_rows(engine, day_ms, until_ms=end_ms):
        if r.camera in wanted:
            per_cam[r.camera].append(Row(str(r.state), r.reason, r.start_ms, r.end_ms))
    cams: list[dict[str, int | str]] = []
    areas: dict[str, Tally] = defaultdict(Tally)
    for camera, rows in sorted(per_cam.items()):
        t = Timeline(rows).tally(day_ms, end_ms, max(end_ms, now_ms))
        if not any(getattr(t, f) for f in FIELDS):
            continue
        cams.append({"camera": camera, "day_ms": day_ms, **{f: getattr(t, f) for f in FIELDS}})
        for area in ancestors(camera):
            areas[area].add(t)
    with engine.begin() as conn:
        conn.execute(delete(_C).where(_C.c.day_ms == day_ms))
        conn.execute(delete(_A).where(_A.c.day_ms == day_ms))
        conn.execute(delete(_D).where(_D.c.day_ms == day_ms))
        for i in range(0, len(cams), CHUNK):
            conn.execute(insert(_C), cams[i : i + CHUNK])
        rows_a = [{"area": a, "day_ms": day_ms, **{f: getattr(t, f) for f in FIELDS}} for a, t in areas.items()]
        for i in range(0, len(rows_a), CHUNK):
            conn.execute(insert(_A), rows_a[i : i + CHUNK])
        conn.execute(insert(_D).values(day_ms=day_ms, end_ms=end_ms, tallied_ms=now_ms, cameras=len(cams)))
    return len(cams)


def tallied(engine: Engine, lo_ms: int, hi_ms: int) -> set[int]:
    """Starts of the tallied days in ``[lo_ms, hi_ms)``."""
    with engine.connect() as conn:
        q = select(_D.c.day_ms).where(_D.c.day_ms >= lo_ms, _D.c.day_ms < hi_ms)
        return set(conn.execute(q).scalars())


def day_sums(engine: Engine, lo_ms: int, hi_ms: int) -> dict[str, Tally]:
    """Per camera, the sum of its tallied days in ``[lo_ms, hi_ms)`` (one grouped query, done by the store)."""
    if hi_ms <= lo_ms:
        return {}
    q = (select(_C.c.camera, *(func.sum(_C.c[f]).label(f) for f in FIELDS))
         .where(_C.c.day_ms >= lo_ms, _C.c.day_ms < hi_ms).group_by(_C.c.camera))
    with engine.connect() as conn:
        return {r.camera: tally_of(r) for r in conn.execute(q)}


def area_days(engine: Engine, areas: Sequence[str], lo_ms: int, hi_ms: int) -> dict[str, dict[int, Tally]]:
    """area → day → its tally, for the tallied days in ``[lo_ms, hi_ms)`` (charts of days)."""
    out: dict[str, dict[int, Tally]] = {a: {} for a in areas}
    if not areas:
        return out
    q = select(_A).where(_A.c.area.in_(sorted(set(areas))), _A.c.day_ms >= lo_ms, _A.c.day_ms < hi_ms)
    with engine.connect() as conn:
        for r in conn.execute(q):
            out[r.area][r.day_ms] = tally_of(r)
    return out


def camera_days(engine: Engine, cameras: Sequence[str], lo_ms: int, hi_ms: int) -> dict[str, dict[int, Tally]]:
    """camera → day → its tally (a chart of an RT's cameras, or of an area cut by the caller's scope)."""
    out: dict[str, dict[int, Tally]] = {c: {} for c in cameras}
    wanted = sorted(set(cameras))
    with engine.connect() as conn:
        for i in range(0, len(wanted), 1000):
            q = select(_C).where(_C.c.camera.in_(wanted[i : i + 1000]), _C.c.day_ms >= lo_ms, _C.c.day_ms < hi_ms)
            for r in conn.execute(q):
                out[r.camera][r.day_ms] = tally_of(r)
    return out


class DayTallier:
    """Tallies the closed days a model's windows reach (``horizon_ms`` back), each once; counts what it did."""

    def __init__(self, cameras: Iterable[str], calendar: Calendar, horizon_ms: int, settle_ms: int = HOUR_MS) -> None:
        self.cameras = sorted(set(cameras))
        self.calendar = calendar
        self.horizon_ms = horizon_ms
        self.settle_ms = settle_ms
        self.days_tallied = 0
        self.raced = 0  # another node tallied the same day at the same moment
        self.deferred = 0  # rounds left to another node tallying
        self.waiting = False  # the last round was left to another node
        self.pending: int | None = None  # days due at the last round (None: not looked yet)
        self.seen: frozenset[int] | None = None  # the tallied days after the last round, by any node (None: left)
        self.last_error: str | None = None

    def health(self) -> dict[str, object]:
        return {"rollup_days_tallied": self.days_tallied, "rollup_days_pending": self.pending,
                "rollup_days_deferred": self.deferred, "rollup_days_error": self.last_error}

    def due(self, engine: Engine, now_ms: int) -> list[tuple[int, int]]:
        """(start, end) of the closed, settled days within the horizon that are not tallied yet, newest first."""
        cal = self.calendar
        lo = cal.floor(now_ms - self.horizon_ms)
        done = tallied(engine, lo, now_ms)
        self.seen = frozenset(done)
        out = []
        for d in cal.days(lo, now_ms):
            end = cal.next(d)
            if end + self.settle_ms <= now_ms and d not in done:
                out.append((d, end))
        return out[::-1]

    def forget(self, engine: Engine, since_ms: int) -> int:
        """Mark the days from the one holding ``since_ms`` on as not tallied (rows for them were written late:
        a restore, a spool flushed after a long store outage): the next catch-up tallies them again."""
        with engine.begin() as conn:
            return conn.execute(delete(_D).where(_D.c.day_ms >= self.calendar.floor(since_ms))).rowcount

    def catch_up(self, engine: Engine, now_ms: int, limit: int | None = None) -> int:
        """Tally what is due (blocking; run it off the event loop). Returns how many days were tallied. On
        PostgreSQL one node at a time (an advisory lock): the others find the days tallied after it."""
        if engine.dialect.name != "postgresql":
            return self._catch_up(engine, now_ms, limit)
        with engine.connect() as conn:
            self.waiting = not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar_one()
            if self.waiting:
                self.deferred += 1  # another node is tallying: a round soon finds its days
                self.seen = None
                return 0
            try:
                return self._catch_up(engine, now_ms, limit)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                conn.commit()

    def _catch_up(self, engine: Engine, now_ms: int, limit: int | None) -> int:
        done: list[tuple[int, int]] = []
        self.pending = len(due := self.due(engine, now_ms))
        for day, end in due[:limit]:
            try:
                done.append((day, tally_day(engine, self.cameras, day, end, now_ms)))
            except IntegrityError:
                self.raced += 1
                log.info("day tallies: another node tallied the day starting %s at the same time", self._day(day))
                continue
            self.days_tallied += 1
            self.pending -= 1
            self.seen = self.seen | {day} if self.seen is not None else frozenset({day})
        if done:  # one line a round, not one a day
            log.info("day tallies: tallied %d days (%s to %s, up to %d cameras a day); %d still due", len(done),
                     self._day(done[-1][0]), self._day(done[0][0]), max(c for _d, c in done), self.pending)
        return len(done)

    def _day(self, day_ms: int) -> str:
        return datetime.fromtimestamp(day_ms / 1000, self.calendar.tz).date().isoformat()
