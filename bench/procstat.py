"""CPU time and memory of a process tree, read from /proc (Linux). Shared by the benchmarks in bench/.

CPU is utime + stime of every live process of the tree plus what its exited, waited-for children left in
cutime + cstime, so a child that exits between two samples is neither lost nor counted twice.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def proc_times(pid: int) -> float:
    """utime + stime of a process and its waited children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (those alive now).

    A child is listed under the thread that forked it (``/proc/P/task/TID/children``), so every thread of
    every process is read: a process that starts children from worker threads (one ffmpeg per camera
    thread, say) would otherwise look childless."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            with contextlib.suppress(OSError, ValueError):
                todo += [int(k) for k in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
    return pids


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the tree under ``pid``."""
    total = 0.0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += proc_times(p)
    return total


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def tree_rss_mb(pid: int) -> float:
    """Sum of the resident set sizes of the tree (shared pages count once per process), in MB."""
    total = 0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, ValueError):
            total += _status_kb(p, "VmRSS:")
    return total / 1024


def tree_pss_mb(pid: int) -> float | None:
    """Sum of the proportional set sizes of the tree (shared pages split between their users), in MB, or
    None when the kernel does not offer smaps_rollup."""
    total = 0
    seen = False
    for p in tree_pids(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                seen = True
                break
    return total / 1024 if seen else None
