"""Encode scene variants once with PyAV/libx264 into cached files of H.264 access units.

Clip files (format in ``clipfile.py``) hold the Annex B access units; every IDR carries SPS/PPS. A JSON sidecar (same name + ``.json``) holds the parameters and
counts. Files are named by a hash of every parameter plus ``ENCODER_VERSION``, so a changed generator re-encodes;
they are written to a temporary name and renamed, so a crash never leaves a half clip under a valid name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from streams.sim import scenes
from streams.sim.clipfile import pack_units, unpack_units

log = logging.getLogger(__name__)

ENCODER_VERSION = 3
BIT_RATE = 350_000
X264_PARAMS = ("keyint=20:min-keyint=20:scenecut=0:bframes=0:repeat-headers=1:annexb=1"
               ":vbv-maxrate=500:vbv-bufsize=1000:rc-lookahead=0")


@dataclass(frozen=True)
class ClipSpec:
    """What one cached clip shows. ``footage`` is the clip file's name for scene 'footage', else ''."""

    scene: str
    seed: int
    night: bool
    variant: str
    clip_seconds: int
    footage: str = ""
    footage_stamp: str = ""  # size and mtime of the footage file, so a replaced file re-encodes

    def key(self) -> str:
        raw = json.dumps({**asdict(self), "v": ENCODER_VERSION, "w": scenes.WIDTH, "h": scenes.HEIGHT,
                          "fps": scenes.FPS, "gop": scenes.GOP, "x264": X264_PARAMS, "br": BIT_RATE},
                         sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    def filename(self) -> str:
        return f"{self.scene}-{self.seed}-{'night' if self.night else 'day'}-{self.variant}-{self.key()}.au"


def _encoder(threads: int):
    import av

    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height = scenes.WIDTH, scenes.HEIGHT
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, scenes.FPS)
    ctx.framerate = Fraction(scenes.FPS, 1)
    ctx.bit_rate = BIT_RATE
    ctx.gop_size = scenes.GOP
    ctx.max_b_frames = 0
    ctx.thread_count = threads
    ctx.options = {"preset": "veryfast", "tune": "zerolatency", "profile": "baseline",
                   "x264-params": X264_PARAMS}
    ctx.open()
    return ctx


def encode_frames(frames, threads: int = 1) -> list[tuple[bytes, bool]]:
    """Encode I420 ndarrays into ``(annexb_bytes, is_keyframe)`` access units."""
    import av

    ctx = _encoder(threads)
    out: list[tuple[bytes, bool]] = []
    for i, arr in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(arr, format="yuv420p")
        frame.pts = i
        out.extend((bytes(p), bool(p.is_keyframe)) for p in ctx.encode(frame))
    out.extend((bytes(p), bool(p.is_keyframe)) for p in ctx.encode(None))
    return out


def write_clip(path: Path, units: list[tuple[bytes, bool]], meta: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(pack_units(units))
        f.flush()
        os.fsync(f.fileno())
    side = path.with_name(path.name + ".json")
    side.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, path)


def read_clip(path: Path) -> list[tuple[bytes, bool]]:
    return unpack_units(path.read_bytes(), path.name)


def _encode_group(specs: list[ClipSpec], cache_dir: str, footage_path: str | None, threads: int) -> list[dict]:
    """Worker: encode several variants of one (scene, seed, night); returns their sidecar metadata."""
    s0 = specs[0]
    n = s0.clip_seconds * scenes.FPS
    footage = scenes.load_footage(Path(footage_path), n) if footage_path else None
    pic = scenes.Picture(s0.scene, s0.seed, s0.night, n, footage)
    metas = []
    for spec in specs:
        t0 = time.monotonic()
        units = encode_frames(pic.frames(spec.variant), threads)
        n_frames = len(units)
        if n_frames % scenes.GOP or not all(k == (i % scenes.GOP == 0) for i, (_, k) in enumerate(units)):
            raise RuntimeError(f"encoder did not keep a keyframe every {scenes.GOP} frames for {spec}")
        meta = {**asdict(spec), "frames": n_frames, "bytes": sum(len(d) for d, _ in units),
                "kbit_s": round(sum(len(d) for d, _ in units) * 8 / (n_frames / scenes.FPS) / 1000, 1),
                "encode_s": round(time.monotonic() - t0, 2), "encoder_version": ENCODER_VERSION}
        write_clip(Path(cache_dir) / spec.filename(), units, meta)
        metas.append(meta)
    return metas


def ensure_clips(specs: list[ClipSpec], cache_dir: Path, footage_paths: dict[str, Path] | None = None,
                 workers: int | None = None) -> dict[ClipSpec, Path]:
    """Make sure every spec has a cached clip; encode the missing ones, groups in parallel processes."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    footage_paths = footage_paths or {}
    result = {s: cache_dir / s.filename() for s in specs}
    missing = [s for s, p in result.items() if not p.exists()]
    if not missing:
        return result
    # Split into jobs of a few variants of one picture, so two cores share even a single scene's work.
    groups: dict[tuple, list[ClipSpec]] = {}
    for s in missing:
        groups.setdefault((s.scene, s.seed, s.night, s.footage), []).append(s)
    jobs = []
    for g in groups.values():
        g = sorted(g, key=lambda s: s.variant in scenes.STILL_VARIANTS)
        jobs.extend([g[0::2], g[1::2]] if len(g) > 1 else [g])
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    t0 = time.monotonic()
    log.info("encoding %d clips (%d jobs, %d processes)", len(missing), len(jobs), workers)
    if workers <= 1:
        for i, job in enumerate(jobs, 1):
            _encode_group(job, str(cache_dir), _fp(job[0], footage_paths), 2)
            log.info("encoded %d/%d jobs (%.0f s)", i, len(jobs), time.monotonic() - t0)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futs = [pool.submit(_encode_group, job, str(cache_dir), _fp(job[0], footage_paths), 1)
                    for job in jobs]
            for done, f in enumerate(as_completed(futs), 1):
                f.result()
                log.info("encoded %d/%d jobs (%.0f s)", done, len(jobs), time.monotonic() - t0)
    log.info("encoded %d clips in %.1f s", len(missing), time.monotonic() - t0)
    return result


def _fp(spec: ClipSpec, footage_paths: dict[str, Path]) -> str | None:
    return str(footage_paths[spec.footage]) if spec.scene == "footage" else None
