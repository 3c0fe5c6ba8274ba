"""A cumulative histogram of sample lag in ms, cheap to add to and to difference between two readings."""

from __future__ import annotations

import bisect

EDGES_MS: tuple[float, ...] = (5, 10, 20, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000, 10000, float("inf"))


class LagHistogram:
    def __init__(self) -> None:
        self.counts = [0] * len(EDGES_MS)

    def add(self, lag_ms: float) -> None:
        self.counts[bisect.bisect_left(EDGES_MS, lag_ms)] += 1

    def merge(self, counts: list[int]) -> None:
        for i, c in enumerate(counts[: len(self.counts)]):
            self.counts[i] += c


def percentile(counts: list[int], q: float) -> float | None:
    """Upper bucket edge holding the ``q`` quantile (0..1) of ``counts``, or None when empty."""
    total = sum(counts)
    if not total:
        return None
    need = q * total
    run = 0
    for edge, c in zip(EDGES_MS, counts, strict=False):
        run += c
        if run >= need:
            return edge
    return EDGES_MS[-1]
