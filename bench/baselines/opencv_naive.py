"""Naive OpenCV baseline: ``cv2.VideoCapture(url)`` and ``.read()`` in a thread per camera.

Every frame is decoded (that is what ``read()`` does); every 5th is converted to grey and handed to the
project's Analyzer, which scales it to the analysis size. A frame's presentation time is
``CAP_PROP_POS_MSEC``. A failed open or a failed read counts one error; the camera is reopened after a second.

The only setting: ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` gives RTSP over TCP and the fast-open probe options
``cctv run``'s opener uses (analyzeduration 0, probesize 32). OpenCV opens one capture at a time per process
(~4 s each with FFmpeg's default probing, ~1 s with these, measured here), so without them 250 cameras would
take a quarter of an hour just to open; the steady state, which is what the benchmark measures, is the same.

    .venv/bin/python -m bench.baselines.opencv_naive --config CITY.yaml
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;0|probesize;32")

import cv2  # noqa: E402

from bench.baselines import Camera, CameraStats, run_baseline  # noqa: E402
from cctv.analysis.analyzer import Analyzer, CheckParams  # noqa: E402

EVERY = 5  # analyse every 5th frame (2 per second of a 10 fps stream)


def camera_session(cam: Camera, params: CheckParams, stats: CameraStats, stop: threading.Event) -> None:
    analyzer = Analyzer(cam.path, params)
    cap = cv2.VideoCapture(cam.url, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            stats.errors += 1
            return
        stats.lag.new_session()
        n = 0
        while not stop.is_set():
            ok, frame = cap.read()
            if not ok:
                stats.errors += 1
                return
            stats.last_frame = time.monotonic()
            pts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            analyzer.note_packet(pts)
            n += 1
            if n % EVERY:
                continue
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            analyzer.analyse(grey, pts, time.time_ns() // 1_000_000)
            stats.lag.observe(pts, time.monotonic())
            stats.samples += 1
    finally:
        cap.release()


if __name__ == "__main__":
    raise SystemExit(run_baseline("opencv", camera_session))
