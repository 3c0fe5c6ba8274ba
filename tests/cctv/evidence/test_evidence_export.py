"""Clip export by stream copy: real H.264 recorded by the real recorder into a real SQLite store, remuxed to MP4.

Minutes of recording are built in a second by feeding a short generated clip's packets again and again with
synthetic, ever-increasing timestamps (and arrival times that follow them) through ``SegmentRecorder``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from cctv.evidence.export import ExportError, NoRecordings, covering_segments, export_clip
from cctv.store import Store
from tests.helpers.clips import FPS, GOP
from tests.helpers.evidence import CAMERA, T0, record, source_clip

GOP_MS = GOP * 1000 // FPS
FRAME_MS = 1000 // FPS


def pictures(avcc: bytes) -> list[bytes]:
    """The coded slices (NAL types 1-5) of an MP4 sample: 4-byte big-endian lengths, then the NAL units. (Parsed
    as such: a length of 256-511 starts with 00 00 01, which a guess between framings takes for a start code.)"""
    units, pos = [], 0
    while pos + 4 <= len(avcc):
        n = int.from_bytes(avcc[pos : pos + 4], "big")
        units.append(avcc[pos + 4 : pos + 4 + n])
        pos += 4 + n
    assert pos == len(avcc), "not a length-prefixed sample"
    return [u for u in units if u and 1 <= (u[0] & 0x1F) <= 5]


def clip_packets(path: Path) -> list[tuple[int, bool, bytes]]:
    """(ms from the clip's start, keyframe, data) of every video packet of an MP4."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [
            (round(float(p.pts * s.time_base) * 1000), p.is_keyframe, bytes(p)) for p in c.demux(s) if p.size
        ]


def top_level_boxes(path: Path) -> list[str]:
    boxes, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size == 0:
            break
        pos += size
    return boxes


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'cctv.sqlite3'}")
    s.migrate()
    yield s
    s.close()


def test_a_ten_minute_export_holds_exactly_the_source_packets(tmp_path, store):
    root = tmp_path / "rec"
    sent = record(store, root, source_clip(tmp_path / "src.mp4"), 12 * 60)
    start, end = T0 + 61_234, T0 + 661_234  # 10 minutes, neither end on a keyframe or a segment boundary
    seen: list[float] = []
    out = tmp_path / "out"
    out.mkdir()
    r = export_clip(store, root, CAMERA, start, end, out, progress=seen.append)

    # begins at the last keyframe at or before the start (nothing before the start lost), ends at the end
    keys_before = [s.wall_ms for s in sent if s.keyframe and s.wall_ms <= start]
    assert r.start_ms == keys_before[-1] and start - GOP_MS < r.start_ms <= start
    assert end <= r.end_ms < end + FRAME_MS
    assert abs((r.end_ms - r.start_ms) - (end - start)) <= GOP_MS  # within one GOP of the request

    # byte-identical coded pictures, in order, at their wall-clock times from the clip's start
    want = [
        (s.wall_ms - r.start_ms, s.keyframe, pictures(s.data)) for s in sent if r.start_ms <= s.wall_ms < end
    ]
    got = [(ms, key, pictures(data)) for ms, key, data in clip_packets(r.path)]
    assert len(got) == len(want) == r.packets == (end - 1 - r.start_ms) // FRAME_MS + 1  # 60.0 s .. 661.2 s
    assert got == want

    # one MP4, faststart (index before the media), creation_time = wall-clock start, hash and size as returned
    boxes = top_level_boxes(r.path)
    assert boxes.index("moov") < boxes.index("mdat")
    with av.open(str(r.path)) as c:
        created = datetime.fromisoformat(c.metadata["creation_time"].replace("Z", "+00:00"))
        assert created == datetime.fromtimestamp(r.start_ms // 1000, tz=UTC)  # MP4 keeps whole seconds
        assert abs(c.duration / 1000 - (r.end_ms - r.start_ms)) <= FRAME_MS
    import hashlib

    assert (
        hashlib.sha256(r.path.read_bytes()).hexdigest() == r.sha256 and r.path.stat().st_size == r.size_bytes
    )
    assert sorted(p.name for p in out.iterdir()) == [r.path.name]  # no .partial left
    assert [s.start_ms for s in r.segments] == [T0 + 60_000 * i for i in range(1, 12)]
    assert r.gaps == ()

    # progress: from 0 up to 1, never backwards
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 20
    with pytest.raises(ExportError, match="exists already"):
        export_clip(store, root, CAMERA, start, end, out)
    assert hashlib.sha256(r.path.read_bytes()).hexdigest() == r.sha256  # untouched


def test_gaps_are_skipped_in_time_and_listed(tmp_path, store):
    root = tmp_path / "rec"
    sent = record(store, root, source_clip(tmp_path / "src.mp4"), 6 * 60, offline=(150, 210))
    out = tmp_path / "out"
    out.mkdir()
    start, end = T0 + 60_000, T0 + 300_000
    r = export_clip(store, root, CAMERA, start, end, out)
    assert len(r.gaps) == 1
    gap = r.gaps[0]
    assert abs(gap.start_ms - (T0 + 150_000)) <= FRAME_MS
    resumed = min(s.wall_ms for s in sent if s.keyframe and s.wall_ms >= T0 + 210_000)
    assert gap.end_ms == resumed  # the new session begins at its first keyframe
    # the clip's timeline is wall-clock: it jumps over the gap, and holds every packet recorded around it
    want = [
        (s.wall_ms - r.start_ms, pictures(s.data))
        for s in sent
        if r.start_ms <= s.wall_ms < end and not (gap.start_ms <= s.wall_ms < gap.end_ms)
    ]
    got = [(ms, pictures(data)) for ms, _key, data in clip_packets(r.path)]
    assert got == want
    assert r.start_ms == start  # a keyframe exactly at the start is where the clip begins


def test_a_segment_that_fails_its_hash_stops_the_export(tmp_path, store):
    root = tmp_path / "rec"
    record(store, root, source_clip(tmp_path / "src.mp4"), 3 * 60)
    victim = covering_segments(store, CAMERA, T0, T0 + 180_000)[1]
    data = bytearray((root / victim.path).read_bytes())
    data[len(data) // 2] ^= 0x01
    (root / victim.path).write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError, match=f"segment {victim.path} does not match the SHA-256"):
        export_clip(store, root, CAMERA, T0 + 30_000, T0 + 150_000, out)
    assert list(out.iterdir()) == []  # nothing half-made left behind


def test_no_recordings_in_the_range(tmp_path, store):
    root = tmp_path / "rec"
    record(store, root, source_clip(tmp_path / "src.mp4"), 60)
    with pytest.raises(NoRecordings, match="no recordings of"):
        export_clip(store, root, CAMERA, T0 + 3_600_000, T0 + 3_700_000, tmp_path)
    with pytest.raises(NoRecordings):
        export_clip(store, root, "kota-baru/paal-lima/rt-07/cam-2", T0, T0 + 30_000, tmp_path)
    with pytest.raises(ExportError, match="is not after"):
        export_clip(store, root, CAMERA, T0 + 30_000, T0 + 30_000, tmp_path)
