"""Scoring and the report of ``bench/eval_analysis.py``: tallies per check, recall, latency, false alarms."""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cctv.analysis.events import EventTracker  # noqa: E402

STEP_S = 2.0  # ground-truth tolerance: one keyframe interval
DEADLINE_S = 10.0  # a fault must be flagged within this long of its onset
GRACE_S = 2.0  # samples this soon after a fault ends may still carry its flag
RATE_WINDOW_S = 6.0  # the low-fps check's 5 s window, plus one sample
DEGRADING = {"black", "covered", "blurred", "frozen", "moved", "low_fps"}
HEALTH_KINDS = ("black", "dark", "covered", "blurred", "frozen", "moved", "low_fps")
VERBOSE = [False]  # print every miss and false alarm (set by --verbose)


@dataclass
class Tally:
    faults: int = 0
    found: int = 0
    latencies: list[float] = field(default_factory=list)
    false_alarms: int = 0
    hours: float = 0.0


@dataclass
class ModeResult:
    """Every tally of one sampling mode, and the time its analyse calls took."""

    sim_h: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    sim_m: Tally = field(default_factory=Tally)
    foot_h: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    unmod: Tally = field(default_factory=Tally)
    foot_m: Tally = field(default_factory=Tally)
    cpu_s: float = 0.0
    frames: int = 0


Samples = list[tuple[float, frozenset[str], bool, float]]  # (t, conditions, motion, motion score)


def score_health(
    run: Samples, segments: list[tuple[float, float, str | None]], tally: dict[str, Tally], context: str
) -> None:
    """``segments``: (start, end, expected kind or None). Recall/latency per fault, false alarms elsewhere."""
    for a, b, kind in segments:
        if kind is None:
            continue
        tl = tally[kind]
        tl.faults += 1
        hit = next((t for t, c, _, _ in run if a <= t < b and kind in c), None)
        if hit is not None and hit - a <= DEADLINE_S:
            tl.found += 1
            tl.latencies.append(round(hit - a, 3))
        elif VERBOSE[0]:
            print(f"  missed {kind} at {a:.0f}s in {context}")
    fa = tally["(false alarms)"]
    for a, b in [(a, b) for a, b, k in segments if k is None]:
        fa.hours += (b - a) / 3600
        prev: frozenset[str] = frozenset()
        for t, c, _, _ in run:
            if a + GRACE_S <= t < b:
                new = (c & DEGRADING) - prev
                if t < a + RATE_WINDOW_S:
                    new -= {"low_fps"}  # the rate is measured over a sliding window: it recovers with it
                fa.false_alarms += len(new)
                if new and VERBOSE[0]:
                    print(f"  false alarm {sorted(new)} at {t:.1f}s in {context}")
                prev = c & DEGRADING


def score_motion(
    run: Samples,
    moving: list[tuple[float, float]],
    quiet: list[tuple[float, float]],
    tally: Tally,
    context: str,
    hold_s: float = 4.0,
) -> None:
    tr = EventTracker("motion", hold_s)
    events = []
    for t, _, m, sc in run:
        events += [e for e in tr.update(t, m, sc) if e.end is not None]
    if tr.current is not None:
        events.append(tr.finish())
    for a, b in moving:
        tally.faults += 1
        if any(e.start <= b + STEP_S and (e.end or e.start) >= a - STEP_S for e in events):
            tally.found += 1
        elif VERBOSE[0]:
            print(f"  missed motion {a:.0f}-{b:.0f}s in {context}")
    for a, b in quiet:
        tally.hours += (b - a) / 3600
        false = [e for e in events if a + STEP_S <= e.start < b - STEP_S]
        tally.false_alarms += len(false)
        if false and VERBOSE[0]:
            print(f"  false motion at {[e.start for e in false]} in {context}")


# -- report ----------------------------------------------------------------------------------------------


def summary(res: ModeResult) -> dict:
    health = [tl for k, tl in [*res.sim_h.items(), *res.foot_h.items()] if k in DEGRADING or k == "dark"]
    faults = sum(t.faults for t in health)
    lat = [x for t in health for x in t.latencies]
    m_faults = res.sim_m.faults + res.foot_m.faults
    m_hours = res.sim_m.hours + res.foot_m.hours
    return {
        "motion_recall": round((res.sim_m.found + res.foot_m.found) / m_faults, 3) if m_faults else None,
        "motion_false_per_hour": round((res.sim_m.false_alarms + res.foot_m.false_alarms) / m_hours, 2)
        if m_hours
        else None,
        "health_recall": round(sum(t.found for t in health) / faults, 3) if faults else None,
        "health_false_alarms": res.sim_h["(false alarms)"].false_alarms
        + res.foot_h["(false alarms)"].false_alarms
        + res.unmod.false_alarms,
        "onset_latency_max_s": max(lat) if lat else None,
        "us_per_frame": round(1e6 * res.cpu_s / max(1, res.frames), 1),
        "frames": res.frames,
    }


def print_table(results: dict[str, ModeResult]) -> None:
    print(
        f"{'mode':<9} {'source':<8} {'check':<15} {'found':>7} {'recall':>6} {'lat med':>7} {'lat max':>7} "
        f"{'false':>5} {'per h':>6}"
    )
    for mode, res in results.items():
        rows = []
        for src, tallies in (("sim", res.sim_h), ("footage", res.foot_h)):
            for kind in [*HEALTH_KINDS, "(false alarms)"]:
                tl = tallies.get(kind)
                if tl is not None and (tl.faults or tl.hours):
                    rows.append((src, kind, tl))
        rows += [
            ("sim", "motion", res.sim_m),
            ("footage", "motion", res.foot_m),
            ("footage", "unmodified", res.unmod),
        ]
        for src, kind, tl in rows:
            rec = tl.found / tl.faults if tl.faults else float("nan")
            med = statistics.median(tl.latencies) if tl.latencies else float("nan")
            mx = max(tl.latencies) if tl.latencies else float("nan")
            per_h = tl.false_alarms / tl.hours if tl.hours else float("nan")
            print(
                f"{mode:<9} {src:<8} {kind:<15} {tl.found:>3}/{tl.faults:<3} {rec:>6.2f} {med:>7.1f} {mx:>7.1f} "
                f"{tl.false_alarms:>5} {per_h:>6.1f}"
            )
        print(
            f"{mode:<9} cost     {1e6 * res.cpu_s / max(1, res.frames):.0f} µs CPU per analysed frame "
            f"({res.frames} frames)"
        )
