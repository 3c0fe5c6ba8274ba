"""The export job of approved clip requests: one at a time per node, on a thread of its own (never the loop).

For each camera of the request ``cctv.evidence.clip.produce`` remuxes the locked segments into one MP4 and
writes its signed manifest beside it, under ``<data_dir>/exports/<request id>/``. Progress goes to the store
(``clip_requests.progress_pct``, at most once per percent) so any page can show it. On success the request is
``ready``; on failure (or when the node stops mid-way) it goes back to ``approved`` with the reason and can be
exported again. A crash mid-export leaves ``*.partial`` files and the request ``exporting``: :meth:`recover`,
run at start-up before serving, removes them and puts the request back to ``approved``.

A camera of the request with nothing recorded in the range gets no files (listed as such); a request none of
whose cameras has anything fails. Every start, end and failure is audited (object ``clip-request:<id>``).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cctv.audit.log import AuditLog
from cctv.clock import Clock
from cctv.evidence import EvidenceError
from cctv.evidence.files import PARTIAL
from cctv.evidence.keys import NodeKey, load_or_create
from cctv.evidence.requests import ClipRequest, holder
from cctv.sites import Sites
from cctv.store import Store
from cctv.store.clip_store import ClipStore, ExportedFiles

log = logging.getLogger(__name__)

INTERRUPTED = "the export was interrupted (the server stopped or crashed); export again"
SYSTEM = "system"


class Stopping(Exception):
    """Raised from the progress callback when the node stops: the export abandons its partial file."""


class ExportRunner:
    def __init__(
        self,
        store: Store,
        clips: ClipStore,
        sites: Sites,
        clock: Clock,
        audit: AuditLog,
        data_dir: Path,
        recordings: Path,
        node: str | None = None,
    ) -> None:
        self.store, self.clips, self.sites, self.clock, self.audit = store, clips, sites, clock, audit
        self.data_dir = Path(data_dir)
        self.exports_dir = self.data_dir / "exports"
        self.recordings = Path(recordings)
        self.node = node or socket.gethostname()
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: dict[int, Future[None]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._key: NodeKey | None = None
        # a web node among many: where each segment's file is read (fetched from the node that recorded it)
        self.locate: Any = None

    # -- files -------------------------------------------------------------------------------------------

    def key(self) -> NodeKey:
        """The node's signing key (created on first use). Blocking: file I/O."""
        with self._lock:
            if self._key is None:
                self._key = load_or_create(self.data_dir)
            return self._key

    def request_dir(self, request_id: int) -> Path:
        return self.exports_dir / str(int(request_id))

    def file(self, request_id: int, name: str | None) -> Path | None:
        """The exported file ``name`` of a request, if it is a plain name that exists there."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.request_dir(request_id) / name
        return path if path.is_file() else None

    # -- start-up ----------------------------------------------------------------------------------------

    def recover(self) -> list[int]:
        """Discard what a crash left half-done: ``*.partial`` files, requests stuck in ``exporting`` on this
        node (back to ``approved``, audited). Call before serving. Returns the requests put back."""
        removed = 0
        if self.exports_dir.is_dir():
            for p in self.exports_dir.rglob(f"*{PARTIAL}"):
                p.unlink(missing_ok=True)
                removed += 1
        ids = self.store.submit_write(self.clips.recover, self.node, INTERRUPTED).result()
        now = self.clock.now_ms()
        for request_id in ids:
            self.store.submit_write(
                self.audit.append,
                now,
                SYSTEM,
                "clip.export.interrupted",
                holder(request_id),
                {"node": self.node, "partial_files_removed": removed},
            ).result()
        if ids or removed:
            log.warning(
                "exports: %d interrupted export(s) back to approved, %d partial file(s) removed",
                len(ids),
                removed,
            )
        return ids

    # -- jobs --------------------------------------------------------------------------------------------

    async def start(self, req: ClipRequest, actor: str) -> None:
        """approved → exporting (a 409 ClipError if someone else moved it), then queue the job."""
        now = self.clock.now_ms()
        added = await self.store.awrite(self.clips.begin_export, req.id, self.node, now)
        await self.store.awrite(
            self.audit.append,
            now,
            actor,
            "clip.export.start",
            holder(req.id),
            {"node": self.node, "cameras": list(req.camera_paths), "locks_added": added},
        )
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="clip-export")
            self._jobs[req.id] = self._executor.submit(self._job, req.id, actor)

    def job(self, request_id: int) -> Future[None] | None:
        """The job of a request started by this runner (tests await it with ``asyncio.wrap_future``)."""
        with self._lock:
            return self._jobs.get(request_id)

    async def stop(self) -> None:
        """Abandon the running export (its request goes back to approved) and wait for the thread."""
        self._stopping.set()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _job(self, request_id: int, actor: str) -> None:
        req = self.clips.get(request_id)
        if req is None:
            return
        out = self.request_dir(request_id)
        try:
            files, empty = self._export(req, out)
        except Exception as exc:  # noqa: BLE001 - every failure puts the request back and is audited
            if isinstance(exc, (EvidenceError, Stopping)):
                reason = str(exc) if not isinstance(exc, Stopping) else INTERRUPTED
                log.warning("export of %s failed: %s", holder(request_id), reason)
            else:
                reason = f"unexpected error ({type(exc).__name__}); see the server log"
                log.exception("export of %s failed", holder(request_id))
            shutil.rmtree(out, ignore_errors=True)
            self._write(self.clips.fail_export, request_id, reason)
            self._write(
                self.audit.append,
                self.clock.now_ms(),
                actor,
                "clip.export.failed",
                holder(request_id),
                {"error": reason},
            )
            return
        self._write(self.clips.finish_export, request_id, files, self.clock.now_ms())
        self._write(
            self.audit.append,
            self.clock.now_ms(),
            actor,
            "clip.export",
            holder(request_id),
            {
                "case": req.case_ref,
                "files": [
                    {
                        "camera": req.cameras[f.position - 1].camera,
                        "clip": f.clip_file,
                        "clip_sha256": f.clip_sha256,
                        "size_bytes": f.clip_size_bytes,
                        "manifest": f.manifest_file,
                        "manifest_sha256": f.manifest_sha256,
                    }
                    for f in files
                ],
                "no_recordings": empty,
                "key": self.key().fingerprint,
            },
        )

    def _export(self, req: ClipRequest, out: Path) -> tuple[list[ExportedFiles], list[str]]:
        from cctv.evidence.clip import produce  # PyAV: imported by the job, not by every process
        from cctv.evidence.export import NoRecordings
        from cctv.evidence.files import sha256_file

        # files of an earlier attempt are referenced by nothing (the request was never ready): start afresh
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        key = self.key()
        progress = _Progress(self, req.id, len(req.cameras))
        files: list[ExportedFiles] = []
        empty: list[str] = []
        for i, cam in enumerate(req.cameras):
            try:
                ev = produce(
                    self.store,
                    self.sites,
                    self.recordings,
                    key,
                    camera=cam.camera,
                    start_ms=req.start_ms,
                    end_ms=req.end_ms,
                    case_ref=req.case_ref,
                    approver=req.decided_by or "",
                    out_dir=out,
                    now_ms=self.clock.now_ms(),
                    request_id=str(req.id),
                    progress=progress.camera(i),
                    locate=self.locate,
                )
            except NoRecordings:
                empty.append(cam.camera)
                continue
            manifest_sha, _ = sha256_file(ev.manifest)
            r = ev.export
            files.append(
                ExportedFiles(
                    cam.position,
                    ev.clip.name,
                    r.sha256,
                    r.size_bytes,
                    ev.manifest.name,
                    manifest_sha,
                    r.start_ms,
                    r.end_ms,
                )
            )
        if not files:
            raise EvidenceError("nothing was recorded of any camera of the request in its time range")
        return files, empty

    def _write(self, fn: Any, *args: Any) -> Any:
        return self.store.submit_write(fn, *args).result()


class _Progress:
    """Maps each camera's fraction to the request's percentage; writes it when it moves a whole percent."""

    def __init__(self, runner: ExportRunner, request_id: int, cameras: int) -> None:
        self.runner, self.request_id, self.n = runner, request_id, max(1, cameras)
        self.last = 0

    def camera(self, index: int):  # type: ignore[no-untyped-def]
        def report(fraction: float) -> None:
            if self.runner._stopping.is_set():
                raise Stopping(INTERRUPTED)
            pct = min(99, int((index + fraction) * 100 / self.n))  # 100 only once the request is ready
            if pct > self.last:
                self.last = pct
                self.runner.store.submit_write(self.runner.clips.set_progress, self.request_id, pct)

        return report
