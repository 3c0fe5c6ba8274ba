"""Frigate-style baseline: one ffmpeg process per camera decoding every frame into raw grey video for Python.

Per camera: ``ffmpeg -hide_banner -loglevel error -rtsp_transport tcp -i URL -vf fps=5,scale=W:H -f rawvideo
-pix_fmt gray pipe:`` (W:H the analysis size, 160x90 by default, so Python gets exactly what the checks need),
and a reader thread that hands each frame to the project's Analyzer. A frame's presentation time is its index
in the session / 5. ffmpeg exiting (failed open, broken stream) counts one error; the camera is reopened after
a second, as Frigate's watchdog would.

    .venv/bin/python -m bench.baselines.frigate_style --config CITY.yaml
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.baselines import Camera, CameraStats, analysis_size, run_baseline
from cctv.analysis.analyzer import Analyzer, CheckParams

FPS = 5
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"

_procs: set[subprocess.Popen] = set()
_procs_lock = threading.Lock()


def ffmpeg_command(url: str, width: int, height: int, fps: int = FPS) -> list[str]:
    return [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
        "-vf", f"fps={fps},scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:",
    ]  # fmt: skip


def camera_session(cam: Camera, params: CheckParams, stats: CameraStats, stop: threading.Event) -> None:
    width, height = analysis_size(params.analysis_width)
    size = width * height
    analyzer = Analyzer(cam.path, params)
    # stderr is dropped: ffmpeg's messages may carry the URL, password included
    proc = subprocess.Popen(
        ffmpeg_command(cam.url, width, height),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    with _procs_lock:
        _procs.add(proc)
    stats.lag.new_session()
    index = 0
    try:
        assert proc.stdout is not None
        while not stop.is_set():
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            now = time.monotonic()
            stats.last_frame = now
            pts = index / FPS
            index += 1
            analyzer.note_packet(pts)
            analyzer.analyse(
                np.frombuffer(buf, np.uint8).reshape(height, width), pts, time.time_ns() // 1_000_000
            )
            stats.lag.observe(pts, time.monotonic())
            stats.samples += 1
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with _procs_lock:
            _procs.discard(proc)
    if not stop.is_set():
        stats.errors += 1  # a failed open (no frame) or a broken stream


def stop_all() -> None:
    with _procs_lock:
        procs = list(_procs)
    for p in procs:
        if p.poll() is None:
            p.terminate()


if __name__ == "__main__":
    raise SystemExit(run_baseline("frigate_style", camera_session, stop_all))
