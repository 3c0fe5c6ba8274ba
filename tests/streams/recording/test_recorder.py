"""Stream-copy segment recording over a generated clip: continuity, identical packets, hashes, faults."""

from __future__ import annotations

import hashlib

import pytest

from cctv.recording import PARTIAL_SUFFIX
from cctv.store import Store
from cctv.store.segments import NewSegment, add_segment, segments
from streams.recording.segment_writer import SegmentRecorder
from streams.recording.writer_thread import InlineWriter, SegmentWriterThread
from tests.helpers.clips import moving_clip
from tests.helpers.h264 import same_pictures
from tests.helpers.recording import T0, feed, read_packets


@pytest.fixture(params=["inline", "thread"])
def writer(request):
    """Where the disk work runs: on the caller's thread, or on a writer thread as in a shard (then the test's
    ``writer.close()`` drains it before looking)."""
    w = InlineWriter() if request.param == "inline" else SegmentWriterThread()
    if isinstance(w, SegmentWriterThread):
        w.start()
    yield w
    w.close()


def test_segments_tile_time_and_hold_exactly_the_source_packets(tmp_path, writer):
    clip = moving_clip(tmp_path / "src.mp4", seconds=13)
    got: list[NewSegment] = []
    rec = SegmentRecorder("k/l/rt-01/cam-1", tmp_path / "rec", got.append, segment_s=4, writer=writer)
    sent = feed(rec, clip)
    writer.close()
    assert len(got) == 4  # cuts at the keyframes at 4, 8 and 12 s
    for a, b in zip(got, got[1:], strict=False):
        assert a.end_ms == b.start_ms  # no gap, no overlap
    assert got[0].start_ms == T0 + 7 and got[-1].end_ms == T0 + 7 + 13_000
    written: list[bytes] = []
    for seg in got:
        path = tmp_path / "rec" / seg.path
        assert seg.path.startswith("k/l/rt-01/cam-1/2026-01-01/") and path.suffix == ".ts"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == seg.sha256
        assert seg.size_bytes == path.stat().st_size
        pk = read_packets(path)
        assert len(pk) == seg.packets
        written += pk
    assert same_pictures(written, sent)  # stream copy: every packet, the same NAL units
    assert not list((tmp_path / "rec").rglob(f"*{PARTIAL_SUFFIX}"))
    assert rec.stats.dropped_packets == 0 and rec.stats.segments == 4


def test_backwards_timestamps_drop_the_packet_and_restart_at_a_keyframe(tmp_path, writer):
    clip = moving_clip(tmp_path / "src.mp4", seconds=6)
    got: list[NewSegment] = []
    rec = SegmentRecorder("k/l/rt-01/cam-1", tmp_path / "rec", got.append, segment_s=60, writer=writer)

    def tamper(i, p):
        if i == 25:  # a packet from the past, as RTSP sometimes delivers
            p.dts -= 9000 * 3
            p.pts -= 9000 * 3

    feed(rec, clip, tamper=tamper)
    writer.close()
    assert rec.stats.backwards == 1
    assert len(got) == 2  # the first segment ended at the bad packet; the next began at the next keyframe
    assert got[0].end_ms <= got[1].start_ms
    assert rec.stats.dropped_packets == 1 and rec.stats.before_keyframe == 14  # 26..39 until the keyframe at 40


def test_a_disk_error_pauses_recording_without_raising(tmp_path, writer):
    clip = moving_clip(tmp_path / "src.mp4", seconds=4)
    blocker = tmp_path / "rec"
    blocker.write_text("not a folder")  # every segment fails to open: like a broken disk
    rec = SegmentRecorder("k/l/rt-01/cam-1", blocker, lambda s: pytest.fail("no segment expected"), writer=writer)
    feed(rec, clip)
    writer.close()
    assert rec.stats.errors >= 1 and rec.stats.segments == 0


def test_segment_rows_round_trip_through_the_store(tmp_path, writer):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.migrate()
    try:
        clip = moving_clip(tmp_path / "src.mp4", seconds=9)
        rec = SegmentRecorder("k/l/rt-01/cam-1", tmp_path / "rec",
                              lambda seg: store.submit_write(add_segment, store, seg), segment_s=4,
                              writer=writer)
        feed(rec, clip)
        writer.close()
        store.submit_write(lambda: None).result(10)  # everything queued before it is written
        rows = segments(store, "k/l/rt-01/cam-1")
        assert [(r.start_ms, r.end_ms) for r in rows] == [(T0 + 7, T0 + 4007), (T0 + 4007, T0 + 8007),
                                                            (T0 + 8007, T0 + 9007)]
    finally:
        store.close()


def test_a_first_keyframe_without_timestamps_is_kept(tmp_path, writer):
    """RTSP gives the first keyframe of a session no timestamps; it must still open the first segment."""
    clip = moving_clip(tmp_path / "src.mp4", seconds=5)
    got: list[NewSegment] = []
    rec = SegmentRecorder("k/l/rt-01/cam-1", tmp_path / "rec", got.append, segment_s=60, writer=writer)

    def strip_first(i, p):
        if i == 0:
            p.pts = None
            p.dts = None

    sent = feed(rec, clip, tamper=strip_first)
    writer.close()
    assert len(got) == 1 and got[0].packets == len(sent) == 50
    assert rec.stats.dropped_packets == 0 and rec.stats.before_keyframe == 0
