"""Start-up reconciliation and retention over real segment files and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from cctv.recording import PARTIAL_SUFFIX, RetentionPolicy
from cctv.store import Store
from cctv.store.segments import NewSegment, add_segment, lock, segments
from streams.recording.maintenance import apply_retention, files_under, reconcile_recordings
from streams.recording.segment_writer import SegmentRecorder
from tests.helpers.clips import moving_clip
from tests.helpers.recording import T0, feed

CAM = "k/l/rt-01/cam-1"


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    s.migrate()
    yield s
    s.close()


def record(tmp_path: Path, seconds: int = 13, segment_s: float = 4) -> tuple[Path, list[NewSegment]]:
    root = tmp_path / "rec"
    got: list[NewSegment] = []
    feed(SegmentRecorder(CAM, root, got.append, segment_s=segment_s), moving_clip(tmp_path / "src.mp4", seconds))
    return root, got


def invariants(root: Path, store: Store) -> None:
    rows = {s.path for s in segments(store, include_garbage=True)}
    files = set(files_under(root))
    assert rows == files, f"rows without files: {rows - files}; files without rows: {files - rows}"
    assert not [f for f in files if f.endswith(PARTIAL_SUFFIX)]


def test_reconcile_finishes_what_a_crash_left(tmp_path, store):
    root, got = record(tmp_path)
    s0, s1, s2, s3 = got
    add_segment(store, s0)  # indexed normally
    # s1: complete file, crash before its row → must be indexed
    # s2: crash while writing → a partial cut in half → finished and indexed, shorter
    partial = root / (s2.path[: -len(".ts")] + PARTIAL_SUFFIX)
    data = (root / s2.path).read_bytes()
    (root / s2.path).unlink()
    partial.write_bytes(data[: len(data) // 2 // 188 * 188])
    # s3: row written, file lost → the row goes
    add_segment(store, s3)
    (root / s3.path).unlink()
    # an empty partial (crash right after opening) → discarded
    empty = root / (s0.path[: -len(".ts")] + "9" + PARTIAL_SUFFIX)
    empty.write_bytes(b"")

    rep = reconcile_recordings(root, store)
    assert (rep.indexed, rep.finished_partials, rep.dropped_rows, rep.discarded_partials) == (1, 1, 1, 1)
    invariants(root, store)
    rows = {r.path: r for r in segments(store)}
    assert set(rows) == {s0.path, s1.path, s2.path}
    assert rows[s1.path].end_ms == s1.end_ms  # probed from the file: same span as when it was written
    assert s2.start_ms == rows[s2.path].start_ms < rows[s2.path].end_ms < s2.end_ms
    assert reconcile_recordings(root, store).indexed == 0  # idempotent


def test_reconcile_finishes_an_interrupted_delete(tmp_path, store):
    root, got = record(tmp_path, seconds=9)
    for s in got:
        add_segment(store, s)
    from cctv.store.segments import mark_garbage

    ids = [s.id for s in segments(store)]
    mark_garbage(store, ids[:1])  # crash after marking, before unlinking
    reconcile_recordings(root, store)
    invariants(root, store)
    assert [s.path for s in segments(store)] == [s.path for s in got[1:]]


def test_retention_by_quota_deletes_oldest_first_and_never_locked(tmp_path, store):
    root, got = record(tmp_path, seconds=17)
    for s in got:
        add_segment(store, s)
    rows = segments(store)
    lock(store, [rows[0].id], "clip-request:1", T0)
    total = sum(r.size_bytes for r in rows)
    quota = total - rows[1].size_bytes - rows[2].size_bytes // 2  # need to free more than one segment
    deleted = apply_retention(root, store, RetentionPolicy(default_days=365, quota_bytes=quota), T0 + 60_000)
    assert deleted == 2
    left = [r.path for r in segments(store)]
    assert left == [rows[0].path] + [r.path for r in rows[3:]]  # the locked oldest stays; next two went
    invariants(root, store)


def test_retention_by_days_per_camera(tmp_path, store):
    root, got = record(tmp_path, seconds=9)
    for s in got:
        add_segment(store, s)
    day = 86_400_000
    policy = RetentionPolicy(default_days=1, days_by_camera={CAM: 30})
    assert apply_retention(root, store, policy, T0 + 2 * day) == 0  # this camera keeps 30 days
    assert apply_retention(root, store, RetentionPolicy(default_days=1), T0 + 2 * day) == len(got)
    invariants(root, store)
