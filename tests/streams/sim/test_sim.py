"""Camera simulator: scenes (pure), encoded clips, and a real server process read over real RTSP with PyAV."""

from __future__ import annotations

import json
import time

import av
import cv2
import numpy as np
import pytest

from cctv.config.models import Config
from streams.sim import SimControl, SimError, SimulatorProcess, scenes
from streams.sim.encode import ClipSpec, ensure_clips, read_clip
from tests.helpers.eventually import eventually
from tests.helpers.paths import FOOTAGE
from tests.helpers.servers import free_port, gst_rtsp_missing

OPTS = {"rtsp_transport": "tcp", "timeout": "5000000", "analyzeduration": "0", "probesize": "32"}
PREFIX = "kota-baru/paal-lima/rt-07"


def _config(port: int = 8554) -> Config:
    def cam(i: int, scene: str, seed: int, night: bool = False, auth: str = "") -> dict:
        url = f"rtsp://{auth}127.0.0.1:{port}/{PREFIX}/cam-{i}"
        return {"slug": f"cam-{i}", "name": f"Cam {i}", "url": url,
                "sim": {"scene": scene, "seed": seed, "night": night}}

    cams = [cam(0, "street", 1), cam(1, "street", 1), cam(2, "alley", 2, night=True),
            cam(3, "street", 1, auth="admin:s3cret@"), cam(4, "street", 1)]
    return Config.model_validate({
        "site": {"name": "Test"}, "sim": {"clip_seconds": 4},
        "kecamatan": [{"slug": "kota-baru", "name": "Kota Baru", "kelurahan": [
            {"slug": "paal-lima", "name": "Paal Lima", "rt": [{"slug": "rt-07", "name": "RT 07", "cameras": cams}]},
        ]}]})


def _luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="gray")


def _decode_keyframes(units: list[tuple[bytes, bool]]) -> list[np.ndarray]:
    ctx = av.CodecContext.create("h264", "r")
    out = []
    for data, key in units:
        if key:
            for f in ctx.decode(av.Packet(data)):
                out.append(_luma(f).astype(np.float32))
    return out


def _lap_var(y: np.ndarray) -> float:
    return float(cv2.Laplacian(y.astype(np.float32), cv2.CV_32F).var())


# --- scenes, pure ---------------------------------------------------------------------------------------

def _y(pic: scenes.Picture, variant: str, n: int = 2) -> list[np.ndarray]:
    it = pic.frames(variant)
    return [next(it)[: scenes.HEIGHT].astype(np.float32) for _ in range(n)]


def test_scenes_are_deterministic_and_differ_by_seed_and_kind():
    a, b = scenes.background("street", 3), scenes.background("street", 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, scenes.background("street", 4))
    kinds = [scenes.background(k, 3).astype(np.float32) for k in scenes.SCENES]
    for i in range(len(kinds)):
        for j in range(i + 1, len(kinds)):
            assert np.abs(kinds[i] - kinds[j]).mean() > 10


def test_picture_variants_look_like_their_state():
    pic = scenes.Picture("market", 5, False, 40)
    normal = _y(pic, "normal", 21)
    assert np.abs(normal[0] - normal[20]).mean() > 0.5  # noise + movers: never identical
    frozen = list(pic.frames("frozen"))
    assert len(frozen) == scenes.GOP and all(np.array_equal(frozen[0], f) for f in frozen)
    assert _y(pic, "black", 1)[0].mean() < 5
    dark = _y(pic, "dark", 1)[0]
    assert 10 <= dark.mean() <= 25 and dark.std() > 3
    assert _lap_var(_y(pic, "blurred", 1)[0]) < _lap_var(normal[0]) / 10
    assert _y(pic, "covered", 1)[0].std() < 6 < normal[0].std()
    assert np.abs(_y(pic, "moved", 1)[0] - normal[0]).mean() > 20
    night = _y(scenes.Picture("market", 5, True, 40), "normal", 1)[0]
    assert night.mean() < normal[0].mean() / 2 and _lap_var(night) > 50


def test_encoded_clips_have_gop_20_baseline_and_noisy_keyframes(tmp_path):
    specs = [ClipSpec("river", 7, False, v, 4) for v in ("normal", "frozen", "blurred")]
    files = ensure_clips(specs, tmp_path, workers=1)
    normal = read_clip(files[specs[0]])
    assert len(normal) == 40 and [k for _, k in normal] == [i % 20 == 0 for i in range(40)]
    key = normal[0][0]
    assert key.startswith(b"\x00\x00\x00\x01\x67\x42\xc0")  # Annex B SPS first, Constrained Baseline
    assert b"\x00\x00\x00\x01\x68" in key[:200]  # PPS with every IDR
    kbit_s = sum(len(d) for d, _ in normal) * 8 / 4 / 1000
    assert 100 < kbit_s < 700
    k0, k1 = _decode_keyframes(normal)
    assert np.abs(k0 - k1).mean() > 0.5 and k0.shape == (360, 640)
    f0, f1 = _decode_keyframes(read_clip(files[specs[1]]) * 2)
    assert np.array_equal(f0, f1)
    (b0,) = _decode_keyframes(read_clip(files[specs[2]])[:20])
    assert _lap_var(b0) < _lap_var(k0) / 10
    before = {p: p.stat().st_mtime_ns for p in files.values()}
    assert ensure_clips(specs, tmp_path) == files  # cached: nothing re-encoded
    assert {p: p.stat().st_mtime_ns for p in files.values()} == before


def test_footage_scene_loops_a_real_clip(tmp_path):
    if not FOOTAGE.is_dir():
        pytest.skip(f"real footage folder {FOOTAGE} is absent")
    clip = scenes.footage_clips(FOOTAGE)[0]
    spec = ClipSpec("footage", 0, False, "covered", 4, clip.name, "x")
    normal = ClipSpec("footage", 0, False, "normal", 4, clip.name, "x")
    files = ensure_clips([spec, normal], tmp_path, {clip.name: clip}, workers=1)
    (cov,) = _decode_keyframes(read_clip(files[spec])[:20])
    (nor,) = _decode_keyframes(read_clip(files[normal])[:20])
    assert cov.std() < 6 < nor.std()


# --- the real server -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    reason = gst_rtsp_missing()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("sim")
    proc = SimulatorProcess(_config(), tmp / "cache", tmp / "gt.jsonl",
                            rtsp_port=free_port(), control_port=free_port())
    with proc:
        yield proc


def _open(url: str, read_timeout: float = 10, deadline_s: float = 15) -> av.container.InputContainer:
    """Open like a camera client: a 5XX (the server busy preparing the media) is retried until the deadline,
    as the ingest worker does; 401/404 and the rest raise at once."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            return av.open(url, options=OPTS, timeout=(10, read_timeout))
        except av.error.HTTPServerError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def _packets(c, seconds: float) -> list[av.Packet]:
    out, end = [], time.monotonic() + seconds
    for p in c.demux(c.streams.video[0]):
        if p.size:
            out.append(p)
        if time.monotonic() > end:
            break
    return out


@pytest.mark.rtsp
def test_serves_h264_640x360_10fps_gop_2s(sim):
    paths = [f"{PREFIX}/cam-{i}" for i in (0, 1, 2)]
    containers = [_open(sim.url_for(p)) for p in paths]
    try:
        for c in containers:
            s = c.streams.video[0]
            assert s.codec_context.name == "h264"
            t0 = time.monotonic()
            pkts = _packets(c, 4.5)
            pts = [p.pts for p in pkts if p.pts is not None]
            span = float((pts[-1] - pts[0]) * s.time_base)
            assert 8.5 <= (len(pts) - 1) / span <= 11.5, (len(pts), span)  # by the stream's timestamps
            if c is containers[0]:  # and by the wall clock, once what queued during the opens is read
                late = _packets(c, 3.0)
                assert 7 <= len(late) / (time.monotonic() - t0 - 4.5) <= 13
            keys = [i for i, p in enumerate(pkts) if p.is_keyframe]
            assert len(keys) >= 2 and all(b - a == 20 for a, b in zip(keys, keys[1:], strict=False))
            frames = s.codec_context.decode(pkts[keys[0]])
            assert (frames[0].width, frames[0].height) == (640, 360)
    finally:
        for c in containers:
            c.close()


def _keyframe_means(c, seconds: float) -> list[float]:
    out, end = [], time.monotonic() + seconds
    ctx = c.streams.video[0].codec_context
    for p in c.demux(c.streams.video[0]):
        if p.is_keyframe:
            out.extend(float(_luma(f).mean()) for f in ctx.decode(p))
            if out and (out[-1] < 5 or time.monotonic() > end):
                break
        if time.monotonic() > end:
            break
    return out


@pytest.mark.rtsp
def test_black_then_normal(sim):
    path = f"{PREFIX}/cam-0"
    c = _open(sim.url_for(path))
    try:
        assert _keyframe_means(c, 2.5)[-1] > 40
        sim.set_state(path, "black")
        # the switch takes effect at the next keyframe (≤ 2 s): poll with a deadline, never time it
        assert eventually(lambda: _keyframe_means(c, 2.5)[-1] < 5, 10, "black picture", every=0.1)
        sim.set_state(path, "normal")
        assert eventually(lambda: _keyframe_means(c, 3)[-1] > 40, 6, "normal picture", every=0.1)
        assert sim.states()[path] == "normal"
    finally:
        c.close()


@pytest.mark.rtsp
def test_stalled_keeps_session_but_sends_nothing(sim):
    path = f"{PREFIX}/cam-1"
    c = _open(sim.url_for(path), read_timeout=1.5)
    try:
        assert _packets(c, 1.0)
        sim.set_state(path, "stalled")
        stalled_at = time.monotonic()
        last = stalled_at
        with pytest.raises((av.error.ExitError, TimeoutError, av.error.FFmpegError)):
            for _ in c.demux(c.streams.video[0]):
                last = time.monotonic()
                assert last - stalled_at < 10, "packets kept flowing while stalled"
        assert last - stalled_at < 3.0  # only what was already queued or in flight
    finally:
        c.close()
    sim.set_state(path, "normal")
    c2 = eventually(lambda: _try_open(sim.url_for(path)), 10, "reopen after stall", every=0.1)
    try:
        assert _packets(c2, 2.5)
    finally:
        c2.close()


def _try_open(url: str):
    try:
        return _open(url)
    except (av.error.FFmpegError, OSError):
        return None


@pytest.mark.rtsp
def test_offline_removes_mount_and_drops_readers(sim):
    path = f"{PREFIX}/cam-4"
    c = _open(sim.url_for(path), read_timeout=8)
    try:
        assert _packets(c, 1.0)
        sim.set_state(path, "offline")
        t0 = time.monotonic()
        try:
            for _ in c.demux(c.streams.video[0]):
                assert time.monotonic() - t0 < 5, "reader not disconnected"
        except av.error.FFmpegError as exc:
            assert not isinstance(exc, av.error.ExitError), "reader timed out instead of being disconnected"
    finally:
        c.close()

    def refused():
        try:
            _open(sim.url_for(path)).close()
        except av.error.HTTPNotFoundError:
            return True
        return False

    assert refused()
    sim.set_state(path, "normal")
    c2 = eventually(lambda: _try_open(sim.url_for(path)), 10, "mount back", every=0.1)
    try:
        assert _packets(c2, 2.5)
    finally:
        c2.close()


@pytest.mark.rtsp
def test_credentials_required(sim):
    url = sim.url_for(f"{PREFIX}/cam-3")
    assert "admin:s3cret@" in url
    for bad in (url.replace("s3cret", "wrong"), url.replace("admin:s3cret@", "")):
        with pytest.raises((av.error.FFmpegError, OSError)) as info:
            _open(bad).close()
        assert "401" in str(info.value) or "authoriz" in str(info.value).lower()
    c = _open(url)
    try:
        assert _packets(c, 2.5)
    finally:
        c.close()


@pytest.mark.rtsp
def test_ground_truth_lists_changes_in_order(sim):
    path = f"{PREFIX}/cam-2"
    before = time.time() * 1000
    for state in ("frozen", "covered", "normal"):
        sim.set_state(path, state)
        eventually(lambda s=state: _gt(sim, path)[-1:] and _gt(sim, path)[-1]["state"] == s, 6, state, every=0.1)
    lines = _gt(sim, path)
    assert lines[0]["state"] == "normal" and lines[0]["previous"] is None  # initial state at start
    tail = lines[-3:]
    assert [(x["state"], x["previous"]) for x in tail] == [("frozen", "normal"), ("covered", "frozen"),
                                                           ("normal", "covered")]
    ts = [x["t_ms"] for x in tail]
    assert ts == sorted(ts) and ts[0] >= before - 1
    assert ts[1] - ts[0] >= 1800 and ts[2] - ts[1] >= 1800  # picture changes land on 2 s keyframes


def _gt(sim: SimulatorProcess, path: str) -> list[dict]:
    text = sim.ground_truth_path.read_text()
    return [x for x in map(json.loads, text.splitlines()) if x["camera"] == path]


@pytest.mark.rtsp
def test_control_errors(sim):
    with pytest.raises(SimError, match="no/such/camera"):
        sim.set_state("no/such/camera", "black")
    with pytest.raises(SimError, match="purple"):
        sim.set_state(f"{PREFIX}/cam-0", "purple")
    with pytest.raises(SimError, match="not reachable"):
        SimControl("127.0.0.1", free_port(), timeout=2).states()
    assert set(sim.states()) == {f"{PREFIX}/cam-{i}" for i in range(5)}


@pytest.mark.rtsp
def test_cli_ctl_and_ls(sim, tmp_path, capsys):
    import argparse

    from streams.sim import cli

    # a real config file for the real loader (JSON is YAML), pointing at the running simulator
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(json.dumps(_config().model_dump(mode="json", exclude_none=True)))
    ap = argparse.ArgumentParser()
    cli.register(ap.add_subparsers())
    port = str(sim.control_port)
    c = ("--config", str(cfg))

    def run(*argv: str) -> int:
        args = ap.parse_args(list(argv))
        return args.func(args)

    assert run("sim", "ctl", f"{PREFIX}/cam-0", "normal", *c, "--control-port", port) == 0
    assert run("sim", "--config", str(cfg), "ls", "--control-port", port) == 0
    assert f"{PREFIX}/cam-0  normal" in capsys.readouterr().out
    assert run("sim", "ctl", f"{PREFIX}/nope", "black", *c, "--control-port", port) == 2
    assert "nope" in capsys.readouterr().err
    assert run("sim", "ctl", f"{PREFIX}/cam-0", "purple", *c, "--control-port", port) == 2
    assert run("sim", "ls", *c, "--control-port", str(free_port())) == 2
    assert "not reachable" in capsys.readouterr().err


def test_footage_flag_puts_real_clips_on_every_camera(tmp_path):
    if not FOOTAGE.is_dir():
        pytest.skip(f"real footage folder {FOOTAGE} is absent")
    sim = SimulatorProcess(_config(), tmp_path / "c", tmp_path / "gt.jsonl", footage_dir=FOOTAGE, all_footage=True)
    assert {c.scene for c in sim.cameras.values()} == {"footage"}
    clips = {sim._footage(c.seed).name for c in sim.cameras.values()}
    assert clips <= {p.name for p in scenes.footage_clips(FOOTAGE)} and len(clips) >= 2
    plain = SimulatorProcess(_config(), tmp_path / "c", tmp_path / "gt.jsonl", footage_dir=FOOTAGE)
    assert "footage" not in {c.scene for c in plain.cameras.values()}
