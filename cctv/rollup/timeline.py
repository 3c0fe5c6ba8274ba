"""One camera's intervals prepared for window queries in O(log n): what keeps a 30,000-camera city cheap.

:class:`Timeline` gives the same :class:`~cctv.rollup.tally.Tally` as :func:`cctv.rollup.tally.camera_tally` (checked by a
property test) from prefix sums: the time fields of a window are ``cum(until) - cum(since)``, and its events
(outages begun, repairs and their durations) are counted by bisecting sorted event times. Built once per change
of the camera's rows (a few per camera per hour), queried on every page.

Rows must be sorted by start and must not overlap, as the store keeps them (each change closes the open row
where the next one starts); only the last may be open.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from cctv.rollup.tally import DEGRADED, OFFLINE, ONLINE, UNMONITORED, Episode, IntervalLike, Tally, episodes

_FIELDS = 5  # known, up, usable, degraded, offline


def _weights(state: str) -> tuple[int, int, int, int, int]:
    if state == ONLINE:
        return (1, 1, 1, 0, 0)
    if state == DEGRADED:
        return (1, 1, 0, 1, 0)
    if state == UNMONITORED:
        return (0, 0, 0, 0, 0)  # unknown time, like a gap
    return (1, 0, 0, 0, 1)


class Timeline:
    __slots__ = ("starts", "ends", "weights", "prefix", "episodes", "episode_ends", "_events", "_breaks")

    def __init__(self, rows: Sequence[IntervalLike]) -> None:
        self.starts = [r.start_ms for r in rows]
        self.ends = [r.end_ms for r in rows]
        self.weights = [_weights(r.state) for r in rows]
        prefix = [(0, 0, 0, 0, 0)]
        acc = [0] * _FIELDS
        for r, w in zip(rows, self.weights, strict=True):
            ms = max(0, (r.end_ms if r.end_ms is not None else r.start_ms) - r.start_ms)  # open: in no prefix
            for k in range(_FIELDS):
                acc[k] += ms * w[k]
            prefix.append((acc[0], acc[1], acc[2], acc[3], acc[4]))
        self.prefix = prefix
        self.episodes: list[Episode] = episodes(rows)
        # ends of the episodes (open ones as +inf), non-decreasing: bisect for "overlaps a window"
        self.episode_ends = [e.end_ms if e.end_ms is not None else float("inf") for e in self.episodes]
        out_starts, deg_starts = [], []
        rep: list[tuple[int, int]] = []
        drep: list[tuple[int, int]] = []
        for e in self.episodes:
            if e.state == OFFLINE:
                out_starts.append(e.start_ms)
                if e.repaired and e.end_ms is not None:
                    rep.append((e.end_ms, e.end_ms - e.start_ms))
            elif e.state == DEGRADED:
                deg_starts.append(e.start_ms)
                if e.repaired and e.end_ms is not None:
                    drep.append((e.end_ms, e.end_ms - e.start_ms))
        self._events = (out_starts, deg_starts, *_cumulative(rep), *_cumulative(drep))
        # every row boundary (each event is one): where a window edge's figures stop moving linearly
        self._breaks = sorted([*self.starts, *(e for e in self.ends if e is not None)])

    def slope_at(self, t: int) -> tuple[int, int, int, int, int]:
        """The time fields' weights of the row covering ``[t, t + 1)`` (an open row covers all after its
        start): how ``_cum`` moves with ``t`` there."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return (0, 0, 0, 0, 0)
        end = self.ends[i]
        return self.weights[i] if end is None or end > t else (0, 0, 0, 0, 0)

    def next_break(self, t: int) -> float:
        """The first row boundary after ``t`` (inf: none)."""
        i = bisect_right(self._breaks, t)
        return self._breaks[i] if i < len(self._breaks) else float("inf")

    def _cum(self, t: int, now_ms: int) -> list[int]:
        """The time fields of every row before ``t`` (an open row running to ``now_ms``)."""
        i = bisect_right(self.starts, t)
        if i == 0:
            return [0] * _FIELDS
        acc = list(self.prefix[i - 1])
        end = self.ends[i - 1]
        ms = min(end if end is not None else now_ms, t) - self.starts[i - 1]
        if ms > 0:
            w = self.weights[i - 1]
            for k in range(_FIELDS):
                acc[k] += ms * w[k]
        return acc

    def tally(self, since_ms: int, until_ms: int, now_ms: int) -> Tally:
        """The Tally over ``[since_ms, until_ms)``, ``until_ms <= now_ms`` (= ``camera_tally`` of the rows)."""
        if until_ms <= since_ms:
            hi = lo = [0] * _FIELDS
        else:
            hi, lo = self._cum(until_ms, now_ms), self._cum(since_ms, now_ms)
        out_starts, deg_starts, rep_ends, rep_cum, drep_ends, drep_cum = self._events
        n_rep, rep_ms = _between(rep_ends, rep_cum, since_ms, until_ms)
        n_drep, drep_ms = _between(drep_ends, drep_cum, since_ms, until_ms)
        return Tally(
            known_ms=hi[0] - lo[0],
            up_ms=hi[1] - lo[1],
            usable_ms=hi[2] - lo[2],
            degraded_ms=hi[3] - lo[3],
            offline_ms=hi[4] - lo[4],
            outages=_count(out_starts, since_ms, until_ms),
            degradations=_count(deg_starts, since_ms, until_ms),
            repaired=n_rep,
            repair_ms=rep_ms,
            degraded_repaired=n_drep,
            degraded_repair_ms=drep_ms,
        )

    def buckets(self, edges: Sequence[int], now_ms: int) -> list[Tally]:
        """Time fields (known, up, usable, degraded, offline) of each ``[edges[i], edges[i+1])``, for charts."""
        cums = [self._cum(t, now_ms) for t in edges]
        return [
            Tally(
                known_ms=b[0] - a[0],
                up_ms=b[1] - a[1],
                usable_ms=b[2] - a[2],
                degraded_ms=b[3] - a[3],
                offline_ms=b[4] - a[4],
            )
            for a, b in zip(cums, cums[1:], strict=False)
        ]

    def episodes_since(self, since_ms: int) -> list[Episode]:
        """The episodes that end after ``since_ms`` (or are open), oldest first."""
        return self.episodes[bisect_right(self.episode_ends, since_ms) :]


def _cumulative(events: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    events.sort()
    times, cum, acc = [], [0], 0
    for t, ms in events:
        times.append(t)
        acc += ms
        cum.append(acc)
    return times, cum


def _count(times: list[int], since_ms: int, until_ms: int) -> int:
    """Events at ``since < t <= until``."""
    return max(0, bisect_right(times, until_ms) - bisect_right(times, since_ms))


def _between(times: list[int], cum: list[int], since_ms: int, until_ms: int) -> tuple[int, int]:
    a, b = bisect_right(times, since_ms), bisect_right(times, until_ms)
    if b <= a:
        return 0, 0
    return b - a, cum[b] - cum[a]
