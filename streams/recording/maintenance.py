"""Keeping the recordings and their index true to each other: start-up reconciliation and retention.

Reconciliation runs before any worker starts (nothing else writes then) and applies
``cctv.recording.reconcile``: partial segments a crash left are finished (MPEG-TS stays readable when cut
short), complete files without a row are indexed, rows without a file are dropped, garbage rows are finished.
Retention runs periodically: mark garbage → unlink → delete rows, in that order, so a crash at any point
leaves nothing a later reconciliation cannot finish.

A partial that a live process still writes (its ``flock`` is held: an ingest process orphaned by a killed
``cctv run``, finishing its segment as it stops) is waited for, never finished under the writer's feet: that
would index a file that then changes (its hash no longer holds), and the writer's own rename would fail.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cctv.clock import Clock
from cctv.recording import (
    PARTIAL_SUFFIX,
    SEGMENT_SUFFIX,
    RetentionPolicy,
    camera_of_relpath,
    reconcile,
    retention_victims,
)
from cctv.store import Store
from cctv.store.segments import (
    NewSegment,
    add_segment,
    delete_rows,
    garbage_paths,
    mark_garbage,
    segments,
)
from streams.recording.segment_file import fsync_and_hash, fsync_dir, held_by_a_writer, probe_segment

log = logging.getLogger(__name__)

WRITERS_WAIT_S = 20.0  # an orphaned ingest process stops within a few seconds (docs/recording.md)


@dataclass(slots=True)
class ReconcileReport:
    indexed: int = 0
    finished_partials: int = 0
    discarded_partials: int = 0
    dropped_rows: int = 0
    unlinked_garbage: int = 0
    unreadable: list[str] = field(default_factory=list)
    still_written: list[str] = field(default_factory=list)  # partials a live process held past the wait


def files_under(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and (p.name.endswith(SEGMENT_SUFFIX) or p.name.endswith(PARTIAL_SUFFIX))
    )


def reconcile_recordings(root: Path, store: Store, cameras: Iterable[str] | None = None,
                         writers_wait_s: float = WRITERS_WAIT_S, node: str | None = None) -> ReconcileReport:
    """Finish what an unclean stop left (all cameras, or only ``cameras``: an ingest process that died).
    ``node``: an ingest node among many on one store — only the rows of its own disk are compared with it."""
    rep = ReconcileReport()
    only = None if cameras is None else set(cameras)

    def listing() -> list[str]:
        if only is None:
            return files_under(root)
        return [f"{c}/{rel}" for c in sorted(only) for rel in files_under(root / c)]

    files, rep.still_written = _wait_for_writers(root, listing, writers_wait_s)
    if rep.still_written:
        log.warning("%d partial segments are still held by a live process after %g s; left for the next "
                    "reconciliation: %s", len(rep.still_written), writers_wait_s, rep.still_written)
    rows = segments(store, include_garbage=True, node=node)
    if only is not None:
        rows = [r for r in rows if r.camera in only]
    plan = reconcile(files, rows)
    for rel in plan.unlink_garbage:
        (root / rel).unlink(missing_ok=True)
        rep.unlinked_garbage += 1
    done_garbage = [i for i, p in garbage_paths(store, node) if p in set(plan.unlink_garbage)]
    delete_rows(store, sorted(set(done_garbage) | set(plan.drop_rows)))
    rep.dropped_rows = len(plan.drop_rows)
    indexed = {r.path for r in rows}
    for rel in plan.finish_partials:
        final_rel = rel[: -len(PARTIAL_SUFFIX)] + SEGMENT_SUFFIX
        if not (root / rel).exists() and (root / final_rel).exists():  # its writer finished it meanwhile
            if final_rel not in indexed and _index(root, store, final_rel, final_rel, rep, node):
                rep.indexed += 1
                indexed.add(final_rel)
            continue
        if _index(root, store, rel, final_rel, rep, node):
            rep.finished_partials += 1
        else:
            (root / rel).unlink(missing_ok=True)
            rep.discarded_partials += 1
    for rel in plan.index_files:
        if rel not in indexed and _index(root, store, rel, rel, rep, node):
            rep.indexed += 1
    if any((rep.indexed, rep.finished_partials, rep.discarded_partials, rep.dropped_rows, rep.unlinked_garbage)):
        log.warning("recordings reconciled after an unclean stop: %s", rep)
    return rep


def _wait_for_writers(root: Path, listing: Callable[[], list[str]], wait_s: float) -> tuple[list[str], list[str]]:
    """The files to reconcile, once no live process holds a partial among them (waiting up to ``wait_s``), and
    the partials still held after that (left out). A writer that lets go of one partial may have begun the
    next, so the folder is listed again each time every known one is released."""
    files = listing()
    held = _held(root, files)
    if not held:
        return files, []
    log.warning("%d partial segments are being written by another process (an orphaned ingest process "
                "finishing them?); waiting up to %g s", len(held), wait_s)
    deadline = time.monotonic() + wait_s
    while held and time.monotonic() < deadline:
        time.sleep(0.1)  # another process's progress: nothing to wait on but its lock
        held = [f for f in held if held_by_a_writer(root / f)]
        if not held:
            files = listing()
            held = _held(root, files)
    left_out = set(held)
    return [f for f in files if f not in left_out], held


def _held(root: Path, files: list[str]) -> list[str]:
    return [f for f in files if f.endswith(PARTIAL_SUFFIX) and held_by_a_writer(root / f)]


def _index(root: Path, store: Store, rel: str, final_rel: str, rep: ReconcileReport, node: str | None) -> bool:
    camera = camera_of_relpath(rel)
    try:
        start_ms = int(Path(rel).name.split(".")[0])
    except ValueError:
        camera = None
    probed = probe_segment(root / rel, start_ms) if camera else None
    if camera is None or probed is None:
        rep.unreadable.append(rel)
        return False
    end_ms, packets = probed
    digest, size = fsync_and_hash(root / rel)
    if final_rel != rel:
        os.replace(root / rel, root / final_rel)
        fsync_dir((root / final_rel).parent)
    add_segment(store, NewSegment(camera, start_ms, end_ms, final_rel, size, digest, packets, node))
    return True


def apply_retention(root: Path, store: Store, policy: RetentionPolicy, now_ms: int, node: str | None = None) -> int:
    """One retention pass (runs on the store's writer thread through ``Store.awrite``). Returns deletions.
    ``node``: an ingest node among many keeps its own disk (its quota, its files)."""
    victims = retention_victims(segments(store, node=node), policy, now_ms)
    if not victims:
        return 0
    mark_garbage(store, [v.id for v in victims])
    gone = []
    for seg_id, rel in garbage_paths(store, node):
        try:
            (root / rel).unlink(missing_ok=True)
            gone.append(seg_id)
        except OSError:
            log.exception("retention: could not delete %s; will retry", rel)
    delete_rows(store, gone)
    return len(gone)


class RetentionTask:
    def __init__(self, root: Path, store: Store, policy: RetentionPolicy, clock: Clock, every_s: float,
                 node: str | None = None) -> None:
        self.root, self.store, self.policy, self.clock, self.every_s = root, store, policy, clock, every_s
        self.node = node
        self.deleted = 0
        self.errors = 0

    async def run(self) -> None:
        while True:
            try:
                self.deleted += await self.store.awrite(
                    apply_retention, self.root, self.store, self.policy, self.clock.now_ms(), self.node
                )
            except Exception:  # noqa: BLE001 - counted; the next pass tries again
                self.errors += 1
                log.exception("retention pass failed")
            await asyncio.sleep(self.every_s)
