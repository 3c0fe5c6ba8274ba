"""A camera worker over a generated clip (FileOpener): packets, keyframe decode, samples, snapshots, EOF."""

from __future__ import annotations

import pytest

from cctv.analysis.analyzer import CheckParams
from cctv.clock import SystemClock
from cctv.status.channel import Channel
from cctv.status.messages import CameraSample, SnapshotReady, StreamStats, WorkerEvent
from cctv.status.snapshots import SnapshotStore
from streams.camera.opener import FileOpener, OpenError, OpenParams, PyAVRtspOpener
from streams.camera.thread_worker import CameraWorker, WorkerParams
from tests.helpers.clips import black_clip, moving_clip
from tests.helpers.eventually import eventually


def run_one_session(tmp_path, clip, decode="keyframes"):
    ch: Channel = Channel(10_000)
    snaps = SnapshotStore(tmp_path / "snaps")
    w = CameraWorker(
        "kec/kel/rt/cam", str(clip), FileOpener(), WorkerParams(OpenParams(), decode=decode, snapshot_interval_s=0),
        CheckParams(), ch, snaps, SystemClock(),
    )
    had_media = w.run_once()
    return had_media, ch.take(), w, snaps


def test_keyframe_mode_decodes_only_keyframes(tmp_path):
    clip = moving_clip(tmp_path / "m.mp4", seconds=6)
    had_media, msgs, w, snaps = run_one_session(tmp_path, clip)
    assert had_media
    assert isinstance(msgs[0], WorkerEvent) and msgs[0].kind == "connected"
    assert w.stats.packets == 60 and w.stats.keyframes == 3 and w.stats.decoded == 3
    samples = [m for m in msgs if isinstance(m, CameraSample)]
    assert len(samples) == 3
    assert samples[1].motion_score > 0.5
    assert any(isinstance(m, StreamStats) for m in msgs)
    assert [m for m in msgs if isinstance(m, SnapshotReady)]
    snap = snaps.get("kec/kel/rt/cam")
    assert snap is not None and snap.jpeg[:2] == b"\xff\xd8"
    assert (w.stats.width, w.stats.height, w.stats.codec) == (640, 360, "h264")


def test_off_mode_counts_packets_without_decoding(tmp_path):
    clip = moving_clip(tmp_path / "m.mp4", seconds=4)
    _, msgs, w, _ = run_one_session(tmp_path, clip, decode="off")
    assert w.stats.packets == 40 and w.stats.decoded == 0
    assert not [m for m in msgs if isinstance(m, CameraSample)]


def test_sampled_mode_decodes_every_frame(tmp_path):
    clip = moving_clip(tmp_path / "m.mp4", seconds=2)
    _, _, w, _ = run_one_session(tmp_path, clip, decode="sampled")
    assert w.stats.decoded == 20


def test_black_clip_samples_are_flagged_black(tmp_path):
    clip = black_clip(tmp_path / "b.mp4", seconds=6)
    _, msgs, _, _ = run_one_session(tmp_path, clip)
    samples = [m for m in msgs if isinstance(m, CameraSample)]
    assert samples and all(s.flags == frozenset({"black"}) for s in samples)


def test_supervised_loop_reports_eof_and_reconnects(tmp_path):
    clip = moving_clip(tmp_path / "m.mp4", seconds=2)
    ch: Channel = Channel(100_000)
    w = CameraWorker(
        "c", str(clip), FileOpener(),
        WorkerParams(OpenParams(), backoff_initial_s=0.01, backoff_max_s=0.02),
        CheckParams(), ch, SnapshotStore(tmp_path / "s"), SystemClock(),
    )
    w.start()
    seen: list = []

    def two_disconnects() -> bool:
        seen.extend(ch.take())
        return sum(1 for m in seen if isinstance(m, WorkerEvent) and m.kind == "disconnected") >= 2

    try:
        eventually(two_disconnects, 20, "two disconnects (EOF)", every=0.02)
    finally:
        w.stop()
    assert w.join(5)
    events = [(m.kind, m.reason) for m in seen if isinstance(m, WorkerEvent)]
    assert events[:4] == [("connected", ""), ("disconnected", "eof"), ("connected", ""), ("disconnected", "eof")]
    assert w.stats.reconnects >= 1


def test_missing_file_is_an_open_error_and_worker_backs_off(tmp_path):
    with pytest.raises(OpenError):
        FileOpener().open(str(tmp_path / "nope.mp4"), OpenParams())


def test_refused_rtsp_is_classified_and_password_never_leaks():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = f"rtsp://admin:s3cr3t-pw@127.0.0.1:{port}/cam"
    with pytest.raises(OpenError) as info:
        PyAVRtspOpener().open(url, OpenParams(connect_timeout_s=2, read_timeout_s=2))
    assert info.value.reason == "refused"
    assert "s3cr3t-pw" not in str(info.value)
