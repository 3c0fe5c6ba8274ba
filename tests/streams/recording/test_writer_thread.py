"""The shard's segment writer thread: order, hashes taken while writing, the crash-safe publish order, a full
queue dropping to the next keyframe (counted, a gap in the index), a full disk seen on the thread pausing the
recorder, and draining at close. The slow disk is a ``threading.Event`` the writer's sink waits on."""

from __future__ import annotations

import errno
import hashlib
import logging
import threading
import time
from pathlib import Path

import av
import pytest

from cctv.recording import PARTIAL_SUFFIX
from cctv.store.segments import NewSegment
from streams.recording import segment_file
from streams.recording.segment_file import HashingSink
from streams.recording.segment_writer import SegmentRecorder
from streams.recording.writer_thread import SegmentWriterThread
from tests.helpers.clips import moving_clip
from tests.helpers.eventually import eventually
from tests.helpers.h264 import same_pictures
from tests.helpers.recording import T0, read_packets

CAM = "k/l/rt-01/cam-1"


def packets_of(clip: Path) -> tuple[list[tuple[av.Packet, int]], av.container.InputContainer]:
    c = av.open(str(clip))
    s = c.streams.video[0]
    out = [(p, T0 + round(float(p.pts * s.time_base) * 1000) + 7) for p in c.demux(s) if p.size]
    return out, c


class Gate:
    """The controlled slow disk: every write of a segment file waits until the gate is open."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()  # the writer thread is inside a write
        real = HashingSink.write

        def write(sink: HashingSink, data: bytes) -> int:
            self.entered.set()
            assert self.open.wait(30), "the test never opened the gate"
            return real(sink, data)

        monkeypatch.setattr(HashingSink, "write", write)


@pytest.fixture
def clip(tmp_path):
    return moving_clip(tmp_path / "src.mp4", seconds=8)


def test_order_hash_and_the_row_only_after_rename_and_folder_fsync(tmp_path, clip, monkeypatch):
    events: list[str] = []
    real_replace, real_fsync_dir = segment_file.os.replace, segment_file.fsync_dir
    monkeypatch.setattr(segment_file.os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b)))
    monkeypatch.setattr(segment_file, "fsync_dir", lambda p: (events.append("fsync dir"), real_fsync_dir(p)))
    root = tmp_path / "rec"
    got: list[NewSegment] = []

    def on_segment(seg: NewSegment) -> None:
        assert threading.current_thread().name == "segment-writer"  # not the caller's thread
        assert (root / seg.path).exists() and not list(root.rglob(f"*{PARTIAL_SUFFIX}"))
        events.append("row")
        got.append(seg)

    writer = SegmentWriterThread()
    writer.start()
    rec = SegmentRecorder(CAM, root, on_segment, segment_s=4, writer=writer)
    pk, c = packets_of(clip)
    with c:
        sent = [bytes(p) for p, _ in pk]
        for p, arrival in pk:
            rec.on_packet(p, c.streams.video[0], arrival)
        rec.close()
        writer.close()
    assert events == ["rename", "fsync dir", "row"] * len(got) and len(got) == 2
    written: list[bytes] = []
    for seg in got:
        data = (root / seg.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == seg.sha256 and len(data) == seg.size_bytes
        written += read_packets(root / seg.path)
    assert len(written) == len(sent) and got[0].end_ms == got[1].start_ms  # in order, none lost, tiling


def test_a_full_queue_drops_to_the_next_keyframe_counts_and_leaves_a_gap(tmp_path, clip, monkeypatch, caplog):
    gate = Gate(monkeypatch)
    got: list[NewSegment] = []
    writer = SegmentWriterThread(max_packets=8)
    writer.start()
    rec = SegmentRecorder(CAM, tmp_path / "rec", got.append, segment_s=60, writer=writer)
    pk, c = packets_of(clip)
    keys = [i for i, (p, _) in enumerate(pk) if p.is_keyframe]
    assert len(keys) >= 3
    stream = c.streams.video[0]
    sent = [bytes(p) for p, _ in pk]
    # all packets up to and including the second keyframe come while the disk is stuck
    stuck_until = keys[1] + 1
    caplog.set_level(logging.INFO)
    with c:
        rec.on_packet(pk[0][0], stream, pk[0][1])
        assert gate.entered.wait(10)  # the writer thread holds packet 0 in a write that does not return
        t = time.monotonic()
        for p, arrival in pk[1:stuck_until]:
            rec.on_packet(p, stream, arrival)
        assert time.monotonic() - t < 2.0  # the caller never waited for the disk
        assert rec.stats.queue_overflows == 1 and writer.overflows == 1
        gate.open.set()
        # another thread's progress: nothing to wait on but its counters (polled every 5 ms)
        eventually(lambda: writer.queued_packets == 0, 10, "the writer to catch up", every=0.005)
        for p, arrival in pk[stuck_until:]:  # now the disk keeps up
            eventually(lambda: writer.queued_packets < 8, 10, "room in the queue", every=0.005)
            rec.on_packet(p, stream, arrival)
        rec.close()
        writer.close()
    accepted = 8  # a full queue, the one being written included (it is in memory until written)
    reopened = next(k for k in keys if k >= stuck_until)
    assert rec.stats.queue_dropped == reopened - accepted == rec.stats.dropped_packets
    assert rec.stats.queue_overflows == 1 and rec.stats.before_keyframe == 0
    assert len(got) == 2
    first, second = got
    assert first.packets == accepted and same_pictures(read_packets(tmp_path / "rec" / first.path), sent[:accepted])
    assert first.end_ms < second.start_ms  # the gap is in the index
    assert second.start_ms == pk[reopened][1] and second.packets == len(pk) - reopened
    assert rec.stats.packets == accepted + second.packets
    full = [r for r in caplog.records if "recording queue full" in r.getMessage()]
    assert len(full) == 1  # once per episode, not once per packet


def test_close_drains_and_a_drain_deadline_still_finishes_segments(tmp_path, clip, monkeypatch):
    gate = Gate(monkeypatch)
    for drain_s, name in ((None, "a"), (0.0, "b")):
        gate.open.clear()
        gate.entered.clear()
        got: list[NewSegment] = []
        writer = SegmentWriterThread()
        writer.start()
        rec = SegmentRecorder(CAM, tmp_path / name, got.append, segment_s=60, writer=writer)
        pk, c = packets_of(clip)
        with c:
            for p, arrival in pk:
                rec.on_packet(p, c.streams.video[0], arrival)
            rec.close()
        assert gate.entered.wait(10) and got == []  # everything still queued: close() only queued the finish
        closing = threading.Thread(target=writer.close, args=(drain_s,))
        closing.start()
        gate.open.set()
        closing.join(30)
        assert not closing.is_alive() and len(got) == 1
        assert not list((tmp_path / name).rglob(f"*{PARTIAL_SUFFIX}"))
        if drain_s is None:  # everything queued was written
            assert got[0].packets == len(pk) and rec.stats.dropped_packets == 0
        else:  # past the deadline packets are dropped (counted), the segment is still finished and indexed
            assert got[0].packets == rec.stats.packets >= 1
            assert rec.stats.dropped_packets == len(pk) - got[0].packets
        assert len(read_packets(tmp_path / name / got[0].path)) == got[0].packets


def test_a_full_disk_on_the_writer_thread_pauses_the_recorder(tmp_path, clip, monkeypatch):
    full = threading.Event()
    real = HashingSink.write

    def write(sink: HashingSink, data: bytes) -> int:
        if full.is_set():
            sink.error = OSError(errno.ENOSPC, "No space left on device")
            raise sink.error
        return real(sink, data)

    monkeypatch.setattr(HashingSink, "write", write)
    got: list[NewSegment] = []
    writer = SegmentWriterThread()
    writer.start()
    rec = SegmentRecorder(CAM, tmp_path / "rec", got.append, segment_s=60, retry_after_s=30, writer=writer)
    pk, c = packets_of(clip)
    stream = c.streams.video[0]
    with c:
        for p, arrival in pk[:20]:
            rec.on_packet(p, stream, arrival)
        # written, not just taken off the queue: the disk fills only after the 20th reached it
        eventually(lambda: writer.handled_packets == 20, 10, "the first packets written", every=0.005)
        full.set()
        rec.on_packet(pk[20][0], stream, pk[20][1])
        eventually(lambda: rec.stats.paused == "disk_full", 10, "the writer to see the full disk", every=0.005)
        for p, arrival in pk[21:]:  # still within retry_after_s: dropped on the caller's side
            rec.on_packet(p, stream, arrival)
        rec.close()
        writer.close()
    assert rec.stats.disk_full == 1 and rec.stats.errors == 0
    assert len(got) == 1 and got[0].packets == 20  # what reached the disk is kept, finished and indexed
    data = (tmp_path / "rec" / got[0].path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == got[0].sha256
    assert rec.stats.dropped_packets == len(pk) - 20
    assert not list((tmp_path / "rec").rglob(f"*{PARTIAL_SUFFIX}"))
