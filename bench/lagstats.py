"""The ingest benchmark's figures, defined once for every contender: lag, its histograms, and "sustained".

Lag, per camera and session: offset = monotonic time the analysis of a frame finished − the frame's
presentation time in seconds; lag = offset − the least offset seen so far in that session (so a camera's
first frames read 0, and lag measures how far ingest has fallen behind the stream since). Lags go into a
cumulative histogram (counts per bucket of upper edges ``LAG_EDGES_MS``, plus an overflow bucket); a window's
figures come from the difference of two snapshots of it.

Sustained at K cameras: every camera receiving throughout the window (a frame or packet in the last 5 s at
every poll), p99 lag < 1 s, and lag growth (mean lag of the window's second half − first half) < 0.25 s.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

# Upper bucket edges (ms), inclusive; one overflow bucket follows the last.
LAG_EDGES_MS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 30, 40, 50, 75, 100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 900, 1000,
    1250, 1500, 2000, 2500, 3000, 4000, 5000, 7500, 10000, 15000, 20000, 30000, 60000,
)  # fmt: skip
RECEIVING_WINDOW_S = 5.0  # a camera is receiving if it delivered a frame/packet this recently
P99_MAX_MS = 1000.0
GROWTH_MAX_MS = 250.0


class CameraLag:
    """One camera's lag: the least offset of the current session and a cumulative histogram of lags."""

    def __init__(self, edges: Sequence[float] = LAG_EDGES_MS) -> None:
        self.edges = tuple(edges)
        self.hist = [0] * (len(self.edges) + 1)
        self.min_offset: float | None = None

    def new_session(self) -> None:
        """A reconnect: presentation times start again, so the least offset is forgotten (the counts stay)."""
        self.min_offset = None

    def observe(self, pts_s: float, done_mono: float) -> float:
        """Record one analysed frame; returns its lag in ms."""
        offset = done_mono - pts_s
        if self.min_offset is None or offset < self.min_offset:
            self.min_offset = offset
        lag_ms = (offset - self.min_offset) * 1000.0
        self.hist[bisect_left(self.edges, lag_ms)] += 1
        return lag_ms


def sum_hists(hists: Sequence[Sequence[int]]) -> list[int]:
    out: list[int] = []
    for h in hists:
        if not out:
            out = [0] * len(h)
        for i, c in enumerate(h):
            out[i] += c
    return out


def hist_diff(before: Sequence[int], after: Sequence[int]) -> list[int]:
    """Counts added between two snapshots of one cumulative histogram."""
    if len(before) != len(after):
        raise ValueError(f"histograms of different lengths: {len(before)} and {len(after)} buckets")
    d = [b - a for a, b in zip(before, after, strict=True)]
    if any(x < 0 for x in d):
        raise ValueError("histogram counts went down between snapshots (the contender restarted?)")
    return d


def _bounds(edges: Sequence[float], counts: Sequence[int]) -> list[tuple[float, float]]:
    """(lower, upper) of every bucket; an overflow bucket (one more count than edges) is (last edge, inf)."""
    if len(counts) not in (len(edges), len(edges) + 1):
        raise ValueError(f"{len(counts)} counts do not fit {len(edges)} bucket edges")
    lows = [0.0, *edges[:-1]] + ([edges[-1]] if len(counts) > len(edges) else [])
    highs = [*edges] + ([math.inf] if len(counts) > len(edges) else [])
    return list(zip(lows, highs, strict=True))


def percentile(edges: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The ``q``-quantile (0 < q ≤ 1) in ms, interpolated inside its bucket; inf if it falls in the overflow
    bucket; None for an empty histogram."""
    total = sum(counts)
    if total <= 0:
        return None
    target = q * total
    cum = 0
    for (lo, hi), c in zip(_bounds(edges, counts), counts, strict=True):
        if c and cum + c >= target:
            if math.isinf(hi):
                return math.inf
            return lo + (hi - lo) * max(0.0, target - cum) / c
        cum += c
    return math.inf  # unreachable with q <= 1


def hist_mean(edges: Sequence[float], counts: Sequence[int]) -> float | None:
    """Mean in ms, each bucket at its midpoint (the overflow bucket at its lower edge); None when empty."""
    total = sum(counts)
    if total <= 0:
        return None
    acc = 0.0
    for (lo, hi), c in zip(_bounds(edges, counts), counts, strict=True):
        acc += c * (lo if math.isinf(hi) else (lo + hi) / 2)
    return acc / total


def window_lag(
    edges: Sequence[float], start: Sequence[int], middle: Sequence[int], end: Sequence[int]
) -> tuple[float | None, float | None, float | None]:
    """(p50, p99, growth) in ms of a window from three snapshots of a cumulative histogram (its start,
    middle and end); growth = mean lag of the second half − mean lag of the first half."""
    whole = hist_diff(start, end)
    first, second = hist_diff(start, middle), hist_diff(middle, end)
    m1, m2 = hist_mean(edges, first), hist_mean(edges, second)
    growth = None if m1 is None or m2 is None else m2 - m1
    return percentile(edges, whole, 0.50), percentile(edges, whole, 0.99), growth


def is_sustained(
    k: int, min_receiving: int | None, p99_ms: float | None, growth_ms: float | None
) -> bool | None:
    """Whether K cameras were sustained; None when a figure is missing (cannot be judged)."""
    if min_receiving is not None and min_receiving < k:
        return False
    if p99_ms is not None and p99_ms >= P99_MAX_MS:
        return False
    if growth_ms is not None and growth_ms >= GROWTH_MAX_MS:
        return False
    if min_receiving is None or p99_ms is None or growth_ms is None:
        return None
    return True


def largest_sustained(rows: Sequence[tuple[int, bool | None]]) -> int | None:
    """The largest K judged sustained; 0 if none was; None if none was but some could not be judged."""
    good = [k for k, s in rows if s]
    if good:
        return max(good)
    return None if any(s is None for _, s in rows) else 0


def cameras_per_core(k: int | None, cpu_pct: float | None) -> float | None:
    """K cameras over the cores they took (CPU % of one core / 100); 0 for K = 0."""
    if k is None:
        return None
    if k == 0:
        return 0.0
    if not cpu_pct or cpu_pct <= 0:
        return None
    return k / (cpu_pct / 100.0)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either is unknown or theirs is 0 (no sustained K to compare with)."""
    if ours is None or not theirs:
        return None
    return ours / theirs
