"""The spool: rows waiting for an absent store on disk, read back exactly, whole files only, bad lines named."""

from __future__ import annotations

from pathlib import Path

from cctv.status.messages import MotionChange, State, StatusChange
from cctv.store.leases import Fence, LeaseRelease
from cctv.store.segments import NewSegment
from cctv.store.spool import Spool

CAM = "kota-baru/paal-lima/rt-07/cam-1"
ROWS = [
    (StatusChange(CAM, State.OFFLINE, "timeout", 1_000, State.ONLINE, ""), Fence("ingest-a", 7)),
    (StatusChange(CAM, State.ONLINE, "", 2_000, None), None),
    (MotionChange(CAM, True, 0.25, 2_500), Fence("ingest-a", 7)),
    (NewSegment(CAM, 0, 60_000, f"{CAM}/20260101/000000.ts", 123_456, "ab" * 32, 600, "ingest-a"), None),
    (LeaseRelease(CAM, Fence("ingest-a", 7), 3_000), Fence("ingest-a", 7)),
]


def test_rows_come_back_as_written_in_order_and_files_are_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert spool.files() == [] and not (tmp_path / "spool").exists()  # nothing spilled: no folder
    first, second = spool.write(ROWS[:2]), spool.write(ROWS[2:])
    assert spool.files() == [first, second] and spool.rows == 5 and not list((tmp_path / "spool").glob("*.tmp"))
    got = [(r.message, r.fence) for p in spool.files() for r in spool.read(p)]
    assert got == ROWS and not any(r.earlier_run for r in spool.read(first))
    again = Spool(tmp_path / "spool")  # a restart
    assert again.rows == 5 and all(r.earlier_run for r in again.read(first))
    third = again.write(ROWS[:1])
    assert again.files() == [first, second, third]  # after the earlier run's files
    again.rewrite(second, again.read(second)[2:], 1)  # its first row is in the store
    assert [r.message for r in again.read(second)] == [ROWS[4][0]] and again.rows == 5
    again.done(first, 2)
    assert again.files() == [second, third] and again.rows == 3


def test_a_line_that_cannot_be_read_is_skipped_counted_and_named(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    spool = Spool(tmp_path)
    path = spool.write(ROWS[:2])
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0], '{"t": "status", "camera": 5}', "not json", text[1]]) + "\n")
    got = spool.read(path)
    assert [r.message for r in got] == [ROWS[0][0], ROWS[1][0]] and spool.bad == 2
    assert f"{path.name} line 2" in caplog.text and f"{path.name} line 3" in caplog.text
