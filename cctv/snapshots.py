"""Latest JPEG snapshot per camera: kept in memory, mirrored to disk so a restart still has a picture.

Disk writes are atomic (temp file + rename) and rate-limited per camera; they run on the caller's thread
(the camera's worker), never on the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    jpeg: bytes
    t_ms: int

    @property
    def etag(self) -> str:
        return hashlib.blake2b(self.jpeg, digest_size=8).hexdigest()


class SnapshotStore:
    def __init__(self, root: Path, persist_every_s: float = 30.0) -> None:
        self.root = root
        self.persist_every_ms = int(persist_every_s * 1000)
        self._lock = threading.Lock()
        self._latest: dict[str, StoredSnapshot] = {}
        self._persisted_ms: dict[str, int] = {}
        self.write_errors = 0

    def _file(self, camera: str) -> Path:
        return self.root.joinpath(*camera.split("/")).with_suffix(".jpg")

    def put(self, camera: str, jpeg: bytes, t_ms: int) -> None:
        snap = StoredSnapshot(jpeg, t_ms)
        with self._lock:
            self._latest[camera] = snap
            due = t_ms - self._persisted_ms.get(camera, -(10**15)) >= self.persist_every_ms
            if due:
                self._persisted_ms[camera] = t_ms
        if due:
            self._persist(camera, snap)

    def get(self, camera: str) -> StoredSnapshot | None:
        with self._lock:
            snap = self._latest.get(camera)
        if snap is not None:
            return snap
        path = self._file(camera)
        try:
            data = path.read_bytes()
            t_ms = int(path.stat().st_mtime * 1000)
        except OSError:
            return None
        snap = StoredSnapshot(data, t_ms)
        with self._lock:
            self._latest.setdefault(camera, snap)
        return snap

    def _persist(self, camera: str, snap: StoredSnapshot) -> None:
        path = self._file(camera)
        tmp = path.with_suffix(".jpg.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(snap.jpeg)
            os.replace(tmp, path)
            os.utime(path, ns=(snap.t_ms * 1_000_000, snap.t_ms * 1_000_000))
        except OSError:
            self.write_errors += 1
            log.exception("could not write snapshot of %s to %s", camera, path)
