"""Evaluate the motion and health checks: the simulator's scripted timelines and perturbed real footage.

    .venv/bin/python bench/eval_analysis.py [--quick] [--footage DIR] [--cache DIR] [--verbose]

Drives ``cctv.analysis.Analyzer`` (the production code, production defaults) over decoded H.264 at three
samplings: keyframe-only (one sample per 2 s GOP, what the worker does by default) and "sampled" decoding
at 2 fps and 5 fps (``ingest.decode: sampled``). Inputs:

1. simulator timelines: the simulator's scenes encoded exactly as it serves them (``streams.sim.encode``,
   libx264, GOP 20 at 10 fps, clips cached in ``--cache``) and decoded with PyAV; health faults between
   normal stretches on every scene by day and night (exact ground truth), and motion timelines on empty
   scenes with nuisances (night noise, an IR day→night switch, a brightness ramp);
2. the real footage (``../shared/footage``, the 360p10 copies decoded with PyAV), played forward and back to
   a minute, unmodified (motion against SOURCES.md's loose ground truth, and zero health alarms expected) and
   with one perturbation at a known time: blur, occluding cover, black frames, a repeated frame (freeze), a
   shifted and rotated view, a low packet rate, a brightness ramp (which must raise nothing).

Prints one table, then one JSON line: motion_recall, motion_false_per_hour, health_recall,
health_false_alarms, onset_latency_max_s and us_per_frame for keyframe-only sampling, and the same keys for
the sampled modes under "sampled". us_per_frame is the CPU time of one ``Analyzer.analyse`` call on a
640x360 Y plane (downscale included), OpenCV on one thread.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval_analysis_score import (  # noqa: E402
    DEGRADING,
    VERBOSE,
    ModeResult,
    Samples,
    print_table,
    score_health,
    score_motion,
    summary,
)

from cctv.analysis.analyzer import Analyzer, CheckParams  # noqa: E402
from streams.sim import encode, scenes  # noqa: E402

FPS = scenes.FPS  # 10: the simulator's and the footage copies' frame rate
GOP = scenes.GOP  # 20: one keyframe every 2 s
MODES = {"keyframes": GOP, "2fps": FPS // 2, "5fps": FPS // 5}  # analyse every Nth frame
SEG_S = 20.0  # one stretch of a simulator timeline


def analyse(
    frames: list[tuple[float, np.ndarray, bool]],
    params: CheckParams,
    res: ModeResult,
    low_fps_from: float | None = None,
) -> Samples:
    """``frames``: (t, 640x360 luma, keyframe) samples. Packets come at FPS (a quarter after ``low_fps_from``)."""
    an = Analyzer("eval", params)
    out: Samples = []
    n_pkt = 0  # packets fed so far: packet k is at k / FPS
    for t, y, key in frames:
        while n_pkt <= round(t * FPS):
            pt = n_pkt / FPS
            if low_fps_from is None or pt < low_fps_from or n_pkt % 4 == 0:
                an.note_packet(pt)
            n_pkt += 1
        y = y.copy()  # in the CPU cache, as a frame the worker has just decoded (not one of thousands in RAM)
        t0 = time.thread_time()
        s = an.analyse(y, t, int(t * 1000), key)
        res.cpu_s += time.thread_time() - t0
        res.frames += 1
        out.append((t, an.conditions, s.motion, s.motion_score))
    return out


def timeline(parts: list[tuple[list[np.ndarray], str | None]]) -> tuple[list[np.ndarray], list[tuple]]:
    """Concatenate (frames at FPS, label) parts: the frames, and (start, end, label) segments in seconds."""
    frames: list[np.ndarray] = []
    segments = []
    for seg, label in parts:
        t = len(frames) / FPS
        frames += seg
        segments.append((t, len(frames) / FPS, label))
    return frames, segments


def sampled(frames: list[np.ndarray], every: int) -> list[tuple[float, np.ndarray, bool]]:
    """Every ``every``-th frame (a divisor of the GOP, so every keyframe is among them, as the worker does)."""
    return [(i / FPS, y, i % GOP == 0) for i, y in enumerate(frames) if i % every == 0]


# -- 1. the simulator, through H.264 ---------------------------------------------------------------------


def decode_units(units: list[tuple[bytes, bool]]) -> list[np.ndarray]:
    """Every frame of an access-unit clip as its Y plane (what the worker hands the Analyzer), decoded once."""
    import av

    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_type, ctx.thread_count = "NONE", 1
    out = []
    for data, _key in units:
        for f in ctx.decode(av.Packet(data)):
            plane = f.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
            out.append(y.copy())
    return out


def own_clip(cache: Path, name: str, make_frames) -> list[np.ndarray]:
    """Encode (once, cached) and decode frames the simulator's clip specs cannot describe (empty scenes)."""
    key = hashlib.sha256(f"{name}/{encode.ENCODER_VERSION}/{encode.X264_PARAMS}/{encode.BIT_RATE}".encode())
    path = cache / f"eval-{name}-{key.hexdigest()[:16]}.au"
    if not path.exists():
        encode.write_clip(path, encode.encode_frames(make_frames()), {"eval": name})
    return decode_units(encode.read_clip(path))


def loop_to(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    return [frames[i % len(frames)] for i in range(n)]


HEALTH_ORDER = [
    "normal",
    "frozen",
    "normal",
    "black",
    "normal",
    "blurred",
    "normal",
    "covered",
    "normal",
    "moved",
    "normal",
    "dark",
    "normal",
    "motion",
    "normal",
]


def sim_health(combos, cache: Path, params: CheckParams, results: dict[str, ModeResult]) -> None:
    specs = [
        encode.ClipSpec(s, seed, night, v, int(SEG_S))
        for s, seed in combos
        for night in (False, True)
        for v in set(HEALTH_ORDER)
    ]
    files = encode.ensure_clips(specs, cache)
    n = int(SEG_S * FPS)
    for scene, seed in combos:
        for night in (False, True):
            clips = {
                s.variant: loop_to(decode_units(encode.read_clip(files[s])), n)
                for s in specs
                if (s.scene, s.seed, s.night) == (scene, seed, night)
            }
            parts = [
                (clips[v] * (2 if i == 0 else 1), None if v in ("normal", "motion") else v)
                for i, v in enumerate(HEALTH_ORDER)
            ]  # a longer first stretch: the warm-up
            frames, segments = timeline(parts)
            for mode, every in MODES.items():
                res = results[mode]
                ctx = f"sim {scene}/{seed}/{'night' if night else 'day'} {mode}"
                score_health(analyse(sampled(frames, every), params, res), segments, res.sim_h, ctx)


def sim_motion(combos, cache: Path, params: CheckParams, results: dict[str, ModeResult]) -> None:
    """An empty scene (no movers) by day, an IR switch to night, bursts of movers, a brightness ramp."""
    for scene, seed in combos:

        def clip(night: bool, variant: str, gops: int, ramp: bool = False, scene=scene, seed=seed):
            def make():
                pic = scenes.Picture(scene, seed, night, gops * GOP)
                pic.movers = []  # the base movers would be motion in the quiet stretches
                for i, f in enumerate(pic.frames(variant)):
                    if ramp:  # auto-exposure creeping up 8 % per 2 s: not motion
                        f = f.copy()
                        f[: scenes.HEIGHT] = np.clip(f[: scenes.HEIGHT] * (1.0 + 0.04 * i / FPS), 0, 255)
                    yield f

            return own_clip(cache, f"{scene}-{seed}-{night}-{variant}-{gops}-{ramp}", make)

        quiet_d, move_d, ramp = (
            clip(False, "normal", 15),
            clip(False, "motion", 5),
            clip(False, "normal", 15, True),
        )
        quiet_n, move_n = clip(True, "normal", 15), clip(True, "motion", 5)
        frames, segments = timeline(
            [
                (quiet_d, False),
                (move_d, True),
                (quiet_d, False),
                (quiet_n, False),
                (move_n, True),
                (quiet_n, False),
                (quiet_d, False),
                (ramp, False),
                (move_d, True),
                (quiet_d, False),
            ]
        )
        moving = [(a, b) for a, b, m in segments if m]
        quiet = [(a, b) for a, b, m in segments if not m]
        for mode, every in MODES.items():
            res = results[mode]
            run = analyse(sampled(frames, every), params, res)
            score_motion(run, moving, quiet, res.sim_m, f"sim motion {scene}/{seed} {mode}")


# -- 2. the real footage ---------------------------------------------------------------------------------


def footage_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.codec_context.thread_type = "AUTO"
        return [f.to_ndarray(format="gray") for f in c.decode(s)]


def perturb(
    kind: str, y: np.ndarray, dt: float, rng: np.random.Generator, box: tuple[int, int]
) -> np.ndarray:
    """``y`` with the perturbation ``kind``, ``dt`` seconds after it began."""
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
    if kind == "ramp":  # the picture darkening 6 % per 2 s (dusk, auto-exposure)
        return np.clip(y.astype(np.float32) * (1.0 - 0.03 * dt), 0, 255).astype(np.uint8)
    return y


FOOTAGE_MOTION = {  # SOURCES.md's loose ground truth (seconds, first pass of the clip): moving, quiet
    "intel_person_bicycle_car": (
        [(0, 3.7), (9, 14), (24.5, 28), (28, 33.5)],
        [(4.0, 8.5), (14, 24), (34, 38.3)],
    ),
    "pets2009_vtest": ([(0, 60)], []),
    "caviar_hallway": ([(0, 19.4)], []),
    "bgs_highway_trees": ([(0, 28.3)], []),
}


def footage(paths: list[Path], quick: bool, params: CheckParams, results: dict[str, ModeResult]) -> None:
    total, on, off = 60.0, 30.0, 50.0
    kinds = ["blurred", "covered", "black", "frozen", "moved", "low_fps"] + ([] if quick else ["ramp"])
    for path in paths:
        name = path.name.replace("_360p10.mp4", "")
        frames = footage_frames(path)
        frames = loop_to(frames + frames[-2:0:-1], int(total * FPS))  # forward and back: no jump
        w = frames[0].shape[1]
        bar = w // 8 if name != "intel_person_bicycle_car" else 0
        moving, quiet = FOOTAGE_MOTION[name]
        first_pass = 38.0 if name.startswith("intel") else 60.0
        for mode, every in MODES.items():
            res = results[mode]
            samples = sampled(frames, every)
            # unmodified: zero health alarms; motion against the loose ground truth (first pass only)
            run = analyse(samples, params, res)
            for t, c, _, _ in run:
                res.unmod.false_alarms += len(c & DEGRADING)
                if c & DEGRADING and VERBOSE[0]:
                    print(f"  alarm {sorted(c & DEGRADING)} at {t:.1f}s on unmodified {name} {mode}")
            res.unmod.hours += total / 3600
            score_motion([s for s in run if s[0] <= first_pass], moving, quiet, res.foot_m, f"{name} {mode}")
            for kind in kinds:
                rng = np.random.default_rng(1)
                frozen = frames[int(on * FPS)]
                pert = [
                    (
                        t,
                        (frozen if kind == "frozen" else perturb(kind, y, t - on, rng, (bar, w - bar)))
                        if on <= t < off
                        else y,
                        key,
                    )
                    for t, y, key in samples
                ]
                r = analyse(pert, params, res, low_fps_from=on if kind == "low_fps" else None)
                expected = None if kind == "ramp" else kind
                score_health(
                    r,
                    [(0, on, None), (on, off, expected), (off, total, None)],
                    res.foot_h if expected else {"(false alarms)": res.unmod, **res.foot_h},
                    f"{name} + {kind} {mode}",
                )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="three scenes, no ramp on the footage (~2 min)")
    ap.add_argument("--footage", default=str(Path(__file__).resolve().parents[2] / "shared" / "footage"))
    ap.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "cctv-eval-clips"),
        help="where encoded simulator clips are kept between runs",
    )
    ap.add_argument("--verbose", action="store_true", help="print every false alarm and missed fault")
    args = ap.parse_args(argv)
    VERBOSE[0] = args.verbose
    cv2.setNumThreads(1)  # one core: what a camera's worker thread gets
    params = CheckParams()
    t_start = time.monotonic()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    results = {mode: ModeResult() for mode in MODES}
    combos = (
        [("street", 1), ("market", 2), ("river", 3)]
        if args.quick
        else [(s, seed) for s in scenes.SCENES for seed in (1, 2)]
    )
    sim_health(combos, cache, params, results)
    sim_motion(combos, cache, params, results)
    paths = sorted(Path(args.footage).glob("*_360p10.mp4"))
    if paths:
        footage(paths, args.quick, params, results)
    else:
        print(f"(no footage in {args.footage}: real-footage rows skipped)")
    print_table(results)
    out = summary(results["keyframes"])
    out["wall_s"] = round(time.monotonic() - t_start, 1)
    out["sampled"] = {mode: summary(res) for mode, res in results.items() if mode != "keyframes"}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
