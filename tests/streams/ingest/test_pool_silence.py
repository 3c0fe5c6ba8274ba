"""An ingest process that sends nothing (streams/ingest/pool.py ``silent``): after ``SILENT_S`` its whole silence
is excused for its cameras, then each further moment once; a process that speaks again starts afresh; one
silent for ``HUNG_S`` is killed (its supervisor restarts it and reports its cameras)."""

from __future__ import annotations

from typing import Any

from streams.ingest.pool import HUNG_S, SILENT_S, ShardProcess


class FakeProc:
    def __init__(self) -> None:
        self.returncode: int | None = None
        self.stdin = object()
        self.killed = False

    def kill(self) -> None:
        self.killed = True


def pool_of(shard: ShardProcess) -> Any:
    from streams.ingest.pool import ShardPool

    pool = ShardPool.__new__(ShardPool)  # only what silent() reads: the processes
    pool.shards = [shard]
    return pool


def test_silence_is_excused_whole_then_in_steps_and_a_hung_process_is_killed() -> None:
    s = ShardProcess(0, ("k/l/rt-01/cam-1", "k/l/rt-01/cam-2"))
    s.proc = FakeProc()  # type: ignore[assignment]
    s.heard_mono = 100.0
    pool = pool_of(s)
    assert pool.silent(100.0 + SILENT_S - 0.1) == []  # a report every 2 s: not silent yet
    [(shard, first)] = pool.silent(100.0 + SILENT_S + 1.0)
    assert shard is s and first == SILENT_S + 1.0 and s.stalls == 1  # all of it, from its last frame
    [(_, step)] = pool.silent(100.0 + SILENT_S + 2.0)
    assert step == 1.0 and s.stalls == 1  # then only what is new
    s.heard_mono = 110.0  # it spoke again
    assert pool.silent(111.0) == []
    [(_, again)] = pool.silent(110.0 + SILENT_S + 0.5)
    assert again == SILENT_S + 0.5 and s.stalls == 2
    pool.silent(110.0 + HUNG_S)
    assert s.proc.killed and s.heard_mono is None  # type: ignore[union-attr]
