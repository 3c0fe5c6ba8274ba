"""`cctv analyze`: the production checks over a generated clip, JSON lines as the issue specifies."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np

from tests.helpers.clips import noisy_scene, textured, write_clip


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cctv", "analyze", *args], capture_output=True, text=True, timeout=120
    )


def test_json_lines_for_samples_and_events(tmp_path):
    bg = textured(2)
    rng = np.random.default_rng(0)

    def frame(i: int) -> np.ndarray:
        if i >= 160:  # the last 8 s: black
            return np.full_like(bg, 16)
        if 60 <= i < 100:
            return noisy_scene(i * 30, rng, bg)  # a moving block
        return np.clip(bg.astype(np.int16) + rng.integers(-4, 5, bg.shape), 0, 255).astype(np.uint8)

    clip = write_clip(tmp_path / "c.mp4", 24, frame)
    r = analyze(str(clip), "--json")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    samples = [x for x in recs if x["type"] == "sample"]
    events = [x for x in recs if x["type"] == "event"]
    assert [s["t"] for s in samples] == [2.0 * i for i in range(12)]  # keyframes only, seconds from start
    s = samples[1]
    assert set(s) == {"type", "t", "motion_score", "motion", "health", "flags"}
    assert isinstance(s["health"], dict) and "luma" in s["health"]
    kinds = {e["kind"] for e in events}
    assert "motion" in kinds and "black" in kinds, events
    black = next(e for e in events if e["kind"] == "black")
    assert black["start"] == 16.0 and black["end"] is None  # still black at the end of the file
    motion = next(e for e in events if e["kind"] == "motion")
    assert 6.0 <= motion["start"] <= 8.0 and motion["end"] is not None


def test_unreadable_input_exits_2_with_a_message(tmp_path):
    r = analyze(str(tmp_path / "missing.mp4"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    r = analyze(str(bad), "--json")
    assert r.returncode == 2 and "cannot read" in r.stderr and r.stdout == ""


def test_sampled_mode_analyses_every_keyframe_and_finds_a_freeze(tmp_path):
    rng = np.random.default_rng(1)
    bg = cv2.GaussianBlur(textured(4), (0, 0), 1.0)
    detail = np.clip(bg + rng.normal(0, 10, bg.shape), 0, 255).astype(np.uint8)
    still = detail.copy()

    def frame(i: int) -> np.ndarray:
        if i >= 80:  # from 8 s on: the same picture, frozen
            return still
        return np.clip(detail.astype(np.int16) + rng.integers(-6, 7, bg.shape), 0, 255).astype(np.uint8)

    clip = write_clip(tmp_path / "f.mp4", 20, frame)
    r = analyze(str(clip), "--json", "--decode", "sampled")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    times = [x["t"] for x in recs if x["type"] == "sample"]
    assert len(times) >= 35 and all(2.0 * k in times for k in range(10))  # 2 fps, every keyframe among them
    frozen = [e for e in recs if e["type"] == "event" and e["kind"] == "frozen"]
    assert frozen and 8.0 <= frozen[0]["start"] <= 18.0, frozen
