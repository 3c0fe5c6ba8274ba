"""Rows waiting for the store, on disk: a long outage of PostgreSQL, or a stop while it is away, loses nothing.

The store writer (cctv/store/writer.py) keeps waiting rows in memory up to ``MEMORY_ROWS``; beyond that, and at a
stop with the store still away, it writes them here instead, oldest first, and while any file is here every new
row goes after them, so the store receives rows in the order they happened. Each file is one batch: a JSON line
per row with the fence (lease node and token) it was observed under, written to a temporary name, fsynced and
renamed, so a file is either whole or absent. Files are replayed in order once the store answers and deleted
when their rows are committed.

A row replayed after a restart is written under the fence it was observed with, so the store's fencing refuses a
status row whose lease has been released or taken meanwhile (counted as ``fenced_out``, as any late write). A
segment row whose file was indexed meanwhile (start-up reconciliation) is not written twice.

Status: built (issue 12).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cctv.status.messages import MotionChange, State, StatusChange
from cctv.store.leases import Fence, LeaseRelease
from cctv.store.segments import NewSegment

log = logging.getLogger(__name__)

MEMORY_ROWS = 20_000  # rows waiting in memory for an absent store before they go to disk
PREFIX, SUFFIX = "rows-", ".jsonl"


@dataclass(frozen=True, slots=True)
class Spooled:
    """A row read back from the spool, with the fence it was observed under (None: no lease, one node)."""

    message: Any
    fence: Fence | None
    earlier_run: bool  # written by an earlier process (a restart came between)


class SpoolError(ValueError):
    """A line of a spool file that cannot be read back (its file and line in the message)."""


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root  # made at the first spill: a node whose store never went away has no spool folder
        self._mine: set[str] = set()  # files this process wrote
        self._seq = max((_seq(p) for p in self.files()), default=0)
        self.rows = sum(_lines(p) for p in self.files())  # rows on disk now
        self.spilled = 0  # rows this process put on disk
        self.bad = 0  # lines that could not be read back (logged with file and line)

    def files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob(f"{PREFIX}*{SUFFIX}"), key=_seq)

    def write(self, rows: list[tuple[Any, Fence | None]]) -> Path:
        """Put ``rows`` on disk after the files already here (blocking: run it off the event loop)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._seq += 1
        path = self.root / f"{PREFIX}{self._seq:012d}{SUFFIX}"
        _write_whole(path, rows)
        self._mine.add(path.name)
        self.rows += len(rows)
        self.spilled += len(rows)
        return path

    def rewrite(self, path: Path, rows: list[Spooled], written: int) -> None:
        """``path``'s first ``written`` rows are in the store: keep only ``rows``, the rest (blocking)."""
        _write_whole(path, [(r.message, r.fence) for r in rows])
        self.rows = max(0, self.rows - written)

    def read(self, path: Path) -> list[Spooled]:
        """The rows of one file, in order; a line that cannot be read is logged, counted and skipped."""
        out = []
        earlier = path.name not in self._mine
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    message, fence = decode(line)
                except SpoolError as exc:
                    self.bad += 1
                    log.error("spool %s line %d: %s; skipped", path.name, n, exc)
                    continue
                out.append(Spooled(message, fence, earlier))
        return out

    def done(self, path: Path, rows: int) -> None:
        """``path``'s rows are in the store: forget it."""
        path.unlink(missing_ok=True)
        self._mine.discard(path.name)
        self.rows = max(0, self.rows - rows)


def encode(m: Any, fence: Fence | None) -> dict[str, Any]:
    f = [fence.node, fence.token] if fence is not None else None
    if isinstance(m, StatusChange):
        return {"t": "status", "fence": f, "camera": m.camera, "state": str(m.state), "reason": m.reason,
                "since_ms": m.since_ms, "previous": None if m.previous is None else str(m.previous),
                "previous_reason": m.previous_reason}
    if isinstance(m, MotionChange):
        return {"t": "motion", "fence": f, "camera": m.camera, "motion": m.motion, "score": m.score, "t_ms": m.t_ms}
    if isinstance(m, NewSegment):
        return {"t": "segment", "camera": m.camera, "start_ms": m.start_ms, "end_ms": m.end_ms, "path": m.path,
                "size_bytes": m.size_bytes, "sha256": m.sha256, "packets": m.packets, "node": m.node}
    if isinstance(m, LeaseRelease):
        return {"t": "release", "camera": m.camera, "fence": [m.fence.node, m.fence.token], "at_ms": m.at_ms}
    raise TypeError(f"not a row the store writer takes: {type(m).__name__}")


def decode(line: str) -> tuple[Any, Fence | None]:
    try:
        d = json.loads(line)
        kind = d["t"]
        f = d.get("fence")
        fence = Fence(str(f[0]), int(f[1])) if f is not None else None
        if kind == "status":
            prev = d["previous"]
            return StatusChange(str(d["camera"]), State(d["state"]), str(d["reason"]), int(d["since_ms"]),
                                None if prev is None else State(prev), str(d["previous_reason"])), fence
        if kind == "motion":
            return MotionChange(str(d["camera"]), bool(d["motion"]), float(d["score"]), int(d["t_ms"])), fence
        if kind == "segment":
            return NewSegment(str(d["camera"]), int(d["start_ms"]), int(d["end_ms"]), str(d["path"]),
                              int(d["size_bytes"]), str(d["sha256"]), int(d["packets"]),
                              None if d["node"] is None else str(d["node"])), None
        if kind == "release":
            if fence is None:
                raise ValueError("a lease release without its fence")
            return LeaseRelease(str(d["camera"]), fence, int(d["at_ms"])), fence
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise SpoolError(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    raise SpoolError(f"unknown row kind {str(d.get('t'))[:40]!r}")


def _write_whole(path: Path, rows: list[tuple[Any, Fence | None]]) -> None:
    """``rows`` as ``path``, whole or not at all: a temporary file, fsynced, renamed, the folder fsynced."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for message, fence in rows:
            f.write(json.dumps(encode(message, fence), separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _seq(path: Path) -> int:
    try:
        return int(path.name[len(PREFIX) : -len(SUFFIX)])
    except ValueError:
        return 0


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)
