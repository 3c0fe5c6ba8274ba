"""30 days of status history for a city's cameras, written into a PostgreSQL store with COPY (bench/city.py).

Each camera gets one of a few behaviours, seeded by its index so a run is repeatable:

- steady (80 %): an outage every ~3 days (timeout, refused, stalled), 5–60 min;
- flaky (10 %): ~6 short outages a day and some degraded spells (frozen, low fps), minutes each;
- tampered (5 %): degraded (black, covered, blurred, moved) for hours most days;
- dead (5 %): one outage of 2–10 days somewhere in the month, as a camera nobody came to fix.

Every ingest node is lost once in the month (a 10–15 s ``unmonitored`` gap for its cameras: 300 to a node).
Rows are contiguous from ``now − days`` to ``now``, the last one open, as the store writer leaves them.

    .venv/bin/python -m bench.city_history URL --cameras 30000 [--days 30]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from collections.abc import Iterator, Sequence

import psycopg

from bench.citygen import JAKARTA

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
PER_NODE = 300
NULL = "\\N"  # COPY's NULL

OFFLINE_REASONS = ("timeout", "refused", "stalled", "not_found", "eof")
FLAKY_DEGRADED = ("frozen", "low_fps")
TAMPER = ("black", "covered", "blurred", "moved")


def camera_paths(k: int) -> list[str]:
    return [JAKARTA.path(i, k) for i in range(k)]


def _spells(rng: random.Random, lo: int, hi: int, per_day: float, dur: tuple[int, int], states: Sequence[tuple[str, str]]
            ) -> list[tuple[int, int, str, str]]:
    """Non-overlapping (start, end, state, reason) spells in [lo, hi): a Poisson process of ``per_day``."""
    out = []
    t = lo
    rate = per_day / DAY
    while True:
        t += int(rng.expovariate(rate)) + MIN
        if t >= hi:
            return out
        end = min(hi, t + rng.randint(*dur))
        state, reason = rng.choice(states)
        out.append((t, end, state, reason))
        t = end


def camera_rows(i: int, lo: int, hi: int, gaps: Sequence[tuple[int, int]]) -> list[tuple[str, str, int, int | None]]:
    """(state, reason, start, end) of camera ``i`` over [lo, hi), contiguous, the last row open."""
    rng = random.Random(i * 7919 + 17)
    kind = rng.random()
    off = [("offline", r) for r in OFFLINE_REASONS]
    if kind < 0.80:
        spells = _spells(rng, lo, hi, 0.33, (5 * MIN, 60 * MIN), off[:3])
    elif kind < 0.90:
        spells = _spells(rng, lo, hi, 8.0, (MIN, 15 * MIN), off + [("degraded", r) for r in FLAKY_DEGRADED])
    elif kind < 0.95:
        spells = _spells(rng, lo, hi, 1.0, (HOUR, 8 * HOUR), [("degraded", r) for r in TAMPER])
    else:
        start = rng.randint(lo, hi - 2 * DAY)
        spells = [(start, min(hi, start + rng.randint(2 * DAY, 10 * DAY)), "offline", "timeout")]
    # the node's loss: an unmonitored gap, cutting whatever was going on
    marks = sorted([*((s, e, st, r) for s, e, st, r in spells),
                    *((s, e, "unmonitored", "node_lost") for s, e in gaps)])
    rows: list[tuple[str, str, int, int | None]] = []
    t = lo
    for s, e, state, reason in marks:
        if s < t:  # overlaps the previous mark: cut
            s = t
        if e <= s:
            continue
        if s > t:
            rows.append(("online", "", t, s))
        rows.append((state, reason, s, e))
        t = e
    if t < hi:
        rows.append(("online", "", t, None))
    else:
        last = rows[-1]
        rows[-1] = (last[0], last[1], last[2], None)
    return rows


def node_gaps(k: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """One gap per node of ``PER_NODE`` cameras: (start, end) for each node index."""
    rng = random.Random(4242)
    out = []
    for _n in range(-(-k // PER_NODE)):
        s = rng.randint(lo + DAY, hi - DAY)
        out.append((s, s + rng.randint(10_000, 15_000)))
    return out


def _copy_lines(paths: Sequence[str], lo: int, hi: int, gaps: Sequence[tuple[int, int]]) -> Iterator[tuple[str, int]]:
    for i, path in enumerate(paths):
        rows = camera_rows(i, lo, hi, [gaps[i // PER_NODE]])
        buf = io.StringIO()
        for state, reason, s, e in rows:
            buf.write(f"{path}\t{state}\t{reason}\t{s}\t{NULL if e is None else e}\n")
        yield buf.getvalue(), len(rows)


def write_history(url: str, paths: Sequence[str], now_ms: int, days: int = 30, progress: bool = True) -> int:
    """COPY the history of ``paths`` into ``status_intervals`` of the (migrated, empty) store at ``url``
    (a SQLAlchemy or libpq URL). Returns the number of rows."""
    lo, hi = now_ms - days * DAY, now_ms
    gaps = node_gaps(len(paths), lo, hi)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    n = 0
    t0 = time.monotonic()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY status_intervals (camera, state, reason, start_ms, end_ms) FROM STDIN") as cp:
            for j, (chunk, rows) in enumerate(_copy_lines(paths, lo, hi, gaps)):
                cp.write(chunk)
                n += rows
                if progress and j % 5000 == 4999:
                    print(f"  history: {j + 1:,}/{len(paths):,} cameras, {n:,} rows, "
                          f"{time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        cur.execute("ANALYZE status_intervals")
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="the store (migrated, no history yet)")
    ap.add_argument("--cameras", type=int, default=30_000)
    ap.add_argument("--days", type=int, default=30)
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    n = write_history(a.url, camera_paths(a.cameras), int(time.time() * 1000), a.days)
    print(f"{n:,} interval rows for {a.cameras:,} cameras over {a.days} days in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
