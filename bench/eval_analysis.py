"""Evaluate the motion and health checks: the simulator's scripted timelines and perturbed real footage.

    .venv/bin/python bench/eval_analysis.py [--quick] [--footage DIR]

Drives ``cctv.analysis.Analyzer`` (the production code, production defaults) at keyframe-only sampling (one
sample every 2 s, what the worker does by default) over:

1. simulator timelines: the simulator's own scene generator (``streams.sim.scenes``) renders each state
   (exact ground truth; luma straight from the generator, without the H.264 round trip); health faults
   between normal stretches on every scene by day and night, and motion timelines on empty scenes with
   nuisances (night noise, an IR day→night switch, a brightness ramp);
2. the real footage (``../shared/footage``, keyframes decoded with PyAV), played forward and back to a minute,
   unmodified (motion against SOURCES.md's loose ground truth, and zero health alarms expected) and with one
   perturbation at a known time: blur, occluding cover, black frames, a repeated frame (freeze), a shifted and
   rotated view, a low packet rate, a brightness ramp (which must raise nothing).

Prints one table, then one JSON line with motion_recall, motion_false_per_hour, health_recall,
health_false_alarms, onset_latency_max_s and us_per_frame.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cctv.analysis.analyzer import Analyzer, CheckParams  # noqa: E402
from cctv.analysis.events import EventTracker  # noqa: E402
from streams.sim import scenes  # noqa: E402

STEP_S = 2.0  # keyframe-only sampling: one analysed frame per GOP
FPS = 10
DEADLINE_S = 10.0  # a fault must be flagged within this long of its onset
GRACE_S = 2.0  # one sample after a fault ends may still carry its flag
RATE_WINDOW_S = 6.0  # the low-fps check's 5 s window, plus one sample
DEGRADING = {"black", "covered", "blurred", "frozen", "moved", "low_fps"}
HEALTH_KINDS = ("black", "dark", "covered", "blurred", "frozen", "moved", "low_fps")


@dataclass
class Tally:
    faults: int = 0
    found: int = 0
    latencies: list[float] = field(default_factory=list)
    false_alarms: int = 0
    hours: float = 0.0


@dataclass
class Run:
    """One analysed timeline: per sample (t, conditions, motion)."""

    samples: list[tuple[float, frozenset[str], bool, float]] = field(default_factory=list)


TIMING = {"n": 0, "s": 0.0}
VERBOSE = False
CONTEXT = [""]


def analyse(frames, params: CheckParams, low_fps_from: float | None = None) -> Run:
    """``frames``: iterable of (t, grey 640x360 luma). Packets are fed at 10 fps (a quarter after low_fps_from)."""
    an = Analyzer("eval", params)
    run = Run()
    last_t = None
    for t, y in frames:
        start = last_t if last_t is not None else t - STEP_S
        for k in range(1, round((t - start) * FPS) + 1):
            pt = start + k / FPS
            if low_fps_from is None or pt < low_fps_from or k % 4 == 0:
                an.note_packet(pt)
        last_t = t
        t0 = time.perf_counter()
        s = an.analyse(y, t, int(t * 1000))
        TIMING["s"] += time.perf_counter() - t0
        TIMING["n"] += 1
        run.samples.append((t, an.conditions, s.motion, s.motion_score))
    return run


def score_health(run: Run, segments: list[tuple[float, float, str | None]], tally: dict[str, Tally]) -> None:
    """``segments``: (start, end, expected kind or None). Recall/latency per fault, false alarms elsewhere."""
    for a, b, kind in segments:
        if kind is None:
            continue
        tl = tally[kind]
        tl.faults += 1
        hit = next((t for t, c, _, _ in run.samples if a <= t < b and kind in c), None)
        if hit is not None and hit - a <= DEADLINE_S:
            tl.found += 1
            tl.latencies.append(hit - a)
        elif VERBOSE:
            print(f"  missed {kind} at {a:.0f}s in {CONTEXT[0]}")
    normal = [(a, b) for a, b, k in segments if k is None]
    fa = tally["(false alarms)"]
    for a, b in normal:
        fa.hours += (b - a) / 3600
        prev: frozenset[str] = frozenset()
        for t, c, _, _ in run.samples:
            if a + GRACE_S <= t < b:
                new = (c & DEGRADING) - prev
                if t < a + RATE_WINDOW_S:
                    new -= {"low_fps"}  # the rate is measured over a sliding window: it recovers with it
                fa.false_alarms += len(new)
                if new and VERBOSE:
                    print(f"  false alarm {sorted(new)} at {t:.0f}s in {CONTEXT[0]}")
                prev = c & DEGRADING


def score_motion(run: Run, moving: list[tuple[float, float]], quiet: list[tuple[float, float]], tally: Tally,
                 hold_s: float = 4.0) -> None:
    tr = EventTracker("motion", hold_s)
    events = []
    for t, _, m, sc in run.samples:
        events += [e for e in tr.update(t, m, sc) if e.end is not None]
    if tr.current is not None:
        events.append(tr.finish())
    for a, b in moving:
        tally.faults += 1
        if any(e.start <= b + STEP_S and (e.end or e.start) >= a - STEP_S for e in events):
            tally.found += 1
    for a, b in quiet:
        tally.hours += (b - a) / 3600
        tally.false_alarms += sum(1 for e in events if a + STEP_S <= e.start < b - STEP_S)


# -- 1. the simulator ------------------------------------------------------------------------------------


def sim_keyframes(pic: scenes.Picture, variant: str, n: int) -> list[np.ndarray]:
    """``n`` keyframe luma planes (every GOP-th frame) of one variant."""
    frames = [f[: scenes.HEIGHT] for i, f in enumerate(pic.frames(variant)) if i % scenes.GOP == 0]
    return [frames[i % len(frames)] for i in range(n)]


def sim_health(scene: str, seed: int, night: bool, seg_s: float, tally: dict[str, Tally], params) -> None:
    n = int(seg_s / STEP_S)
    pic = scenes.Picture(scene, seed, night, n * scenes.GOP)
    order = ["normal", "frozen", "normal", "black", "normal", "blurred", "normal", "covered", "normal",
             "moved", "normal", "dark", "normal", "motion", "normal"]
    cache = {v: sim_keyframes(pic, v, n) for v in set(order)}
    frames, segments, t = [], [], 0.0
    for i, v in enumerate(order):
        seg = cache[v]
        if i == 0:
            seg = seg * 2  # a longer first stretch: the warm-up
        segments.append((t, t + len(seg) * STEP_S, None if v in ("normal", "motion") else v))
        for y in seg:
            frames.append((t, y))
            t += STEP_S
    CONTEXT[0] = f"sim {scene}/{seed}/{'night' if night else 'day'}"
    score_health(analyse(frames, params), segments, tally)


def sim_motion(scene: str, seed: int, tally: Tally, params) -> None:
    """An empty scene (no movers) by day, an IR switch to night, bursts of movers, a brightness ramp."""
    n = 15
    day = scenes.Picture(scene, seed, False, n * scenes.GOP)
    night = scenes.Picture(scene, seed, True, n * scenes.GOP)
    for p in (day, night):
        p.movers = []
    quiet_d, move_d = sim_keyframes(day, "normal", n), sim_keyframes(day, "motion", 5)
    quiet_n, move_n = sim_keyframes(night, "normal", n), sim_keyframes(night, "motion", 5)
    ramp = [np.clip(y.astype(np.float32) * (1.0 + 0.08 * i), 0, 255).astype(np.uint8) for i, y in enumerate(quiet_d)]
    plan = [(quiet_d, False), (move_d, True), (quiet_d, False), (quiet_n, False), (move_n, True),
            (quiet_n, False), (quiet_d, False), (ramp, False), (move_d, True), (quiet_d, False)]
    frames, moving, quiet, t = [], [], [], 0.0
    for seg, is_motion in plan:
        (moving if is_motion else quiet).append((t, t + len(seg) * STEP_S))
        for y in seg:
            frames.append((t, y))
            t += STEP_S
    score_motion(analyse(frames, params), moving, quiet, tally)


# -- 2. the real footage ---------------------------------------------------------------------------------


def footage_keyframes(path: Path, total_s: float) -> list[np.ndarray]:
    import av

    keys = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.codec_context.skip_frame = "NONKEY"
        for f in c.decode(s):
            keys.append(f.to_ndarray(format="gray"))
    loop = keys + keys[-2:0:-1]  # forward and back: no jump
    return [loop[i % len(loop)] for i in range(int(total_s / STEP_S))]


def perturb(kind: str, y: np.ndarray, i: int, rng: np.random.Generator, box: tuple[int, int]) -> np.ndarray:
    x0, x1 = box
    if kind == "blurred":
        return cv2.GaussianBlur(y, (0, 0), 5)
    if kind == "covered":
        out = y.copy()
        grad = np.linspace(70, 82, x1 - x0, dtype=np.float32)[None, :]
        out[:, x0:x1] = np.clip(grad + rng.normal(0, 1.0, (y.shape[0], x1 - x0)), 0, 255).astype(np.uint8)
        return out
    if kind == "black":
        return np.full_like(y, 16)
    if kind == "moved":
        h, w = y.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 6, 1.05)
        m[0, 2] += 0.08 * w
        return cv2.warpAffine(y, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    if kind == "ramp":
        return np.clip(y.astype(np.float32) * (1.0 - 0.06 * i), 0, 255).astype(np.uint8)
    return y


FOOTAGE_MOTION = {  # SOURCES.md's loose ground truth (seconds, first pass of the clip)
    "intel_person_bicycle_car": ([(0, 3.7), (9, 14), (24.5, 28), (28, 33.5)], [(4.0, 8.5), (14, 24), (34, 38.3)]),
    "pets2009_vtest": ([(0, 60)], []),
    "caviar_hallway": ([(0, 19.4)], []),
    "bgs_highway_trees": ([(0, 28.3)], []),
}


def footage(paths: list[Path], quick: bool, health: dict[str, Tally], unmod: Tally, motion: Tally,
            params) -> None:
    total, on, off = 60.0, 30.0, 50.0
    kinds = ["blurred", "covered", "black", "frozen", "moved", "low_fps", "ramp"]
    for path in paths:
        keys = footage_keyframes(path, total)
        name = path.name.replace("_360p10.mp4", "")
        w = keys[0].shape[1]
        bar = w // 8 if name != "intel_person_bicycle_car" else 0
        # unmodified: zero health alarms; motion against the loose ground truth (first pass only)
        run = analyse([(i * STEP_S, y) for i, y in enumerate(keys)], params)
        for _t, c, _, _ in run.samples:
            unmod.false_alarms += len(c & DEGRADING)
            if c & DEGRADING and VERBOSE:
                print(f"  alarm {sorted(c & DEGRADING)} at {_t:.0f}s on unmodified {name}")
        unmod.hours += total / 3600
        moving, quiet = FOOTAGE_MOTION[name]
        first = Run([s for s in run.samples if s[0] <= (len(keys) and 38 if name.startswith("intel") else 60)])
        score_motion(first, moving, quiet, motion)
        for kind in kinds if not quick else ["blurred", "covered", "black", "frozen", "moved", "low_fps"]:
            rng = np.random.default_rng(1)
            frames = []
            for i, y in enumerate(keys):
                t = i * STEP_S
                if on <= t < off:
                    j = int((t - on) / STEP_S)
                    y = keys[int(on / STEP_S)] if kind == "frozen" else perturb(kind, y, j, rng, (bar, w - bar))
                frames.append((t, y))
            CONTEXT[0] = f"{name} + {kind}"
            r = analyse(frames, params, low_fps_from=on if kind == "low_fps" else None)
            expected = None if kind == "ramp" else kind
            score_health(r, [(0, on, None), (on, off, expected), (off, total, None)],
                         health if expected else {"(false alarms)": unmod, **health})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer scenes and perturbations (< 2 min)")
    ap.add_argument("--footage", default=str(Path(__file__).resolve().parents[2] / "shared" / "footage"))
    ap.add_argument("--verbose", action="store_true", help="print every false alarm and missed fault")
    args = ap.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    params = CheckParams()
    t_start = time.monotonic()
    sim_h: dict[str, Tally] = defaultdict(Tally)
    sim_m = Tally()
    combos = [("street", 1), ("market", 2), ("river", 3)] if args.quick else \
        [(s, seed) for s in scenes.SCENES for seed in (1, 2)]
    for scene, seed in combos:
        for night in (False, True):
            sim_health(scene, seed, night, 20.0, sim_h, params)
        sim_motion(scene, seed, sim_m, params)
    foot_h: dict[str, Tally] = defaultdict(Tally)
    unmod, foot_m = Tally(), Tally()
    paths = sorted(Path(args.footage).glob("*_360p10.mp4"))
    if paths:
        footage(paths, args.quick, foot_h, unmod, foot_m, params)
    else:
        print(f"(no footage in {args.footage}: real-footage rows skipped)")

    rows = []
    for src, tallies in (("sim", sim_h), ("footage", foot_h)):
        for kind in [*HEALTH_KINDS, "(false alarms)"]:
            tl = tallies.get(kind)
            if tl is None or (tl.faults == 0 and tl.hours == 0):
                continue
            rows.append((src, kind, tl))
    rows += [("sim", "motion", sim_m), ("footage", "motion", foot_m), ("footage", "unmodified", unmod)]
    print(f"{'source':<8} {'check':<15} {'found':>7} {'recall':>6} {'lat med':>7} {'lat max':>7} {'false':>5} "
          f"{'per h':>6}")
    for src, kind, tl in rows:
        rec = tl.found / tl.faults if tl.faults else float("nan")
        med = statistics.median(tl.latencies) if tl.latencies else float("nan")
        mx = max(tl.latencies) if tl.latencies else float("nan")
        per_h = tl.false_alarms / tl.hours if tl.hours else float("nan")
        print(f"{src:<8} {kind:<15} {tl.found:>3}/{tl.faults:<3} {rec:>6.2f} {med:>7.1f} {mx:>7.1f} "
              f"{tl.false_alarms:>5} {per_h:>6.1f}")
    health_tallies = [tl for k, tl in [*sim_h.items(), *foot_h.items()] if k in DEGRADING or k == "dark"]
    faults = sum(t.faults for t in health_tallies)
    found = sum(t.found for t in health_tallies)
    lat = [x for t in health_tallies for x in t.latencies]
    m_faults = sim_m.faults + foot_m.faults
    m_hours = sim_m.hours + foot_m.hours
    result = {
        "motion_recall": round((sim_m.found + foot_m.found) / m_faults, 3) if m_faults else None,
        "motion_false_per_hour": round((sim_m.false_alarms + foot_m.false_alarms) / m_hours, 2) if m_hours else None,
        "health_recall": round(found / faults, 3) if faults else None,
        "health_false_alarms": sim_h["(false alarms)"].false_alarms + foot_h["(false alarms)"].false_alarms
        + unmod.false_alarms,
        "onset_latency_max_s": max(lat) if lat else None,
        "us_per_frame": round(1e6 * TIMING["s"] / max(1, TIMING["n"]), 1),
        "frames": TIMING["n"],
        "wall_s": round(time.monotonic() - t_start, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
