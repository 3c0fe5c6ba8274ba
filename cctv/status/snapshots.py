"""Latest JPEG snapshot per camera: kept in memory, mirrored to disk so a restart still has a picture.

Disk writes are atomic (temp file + rename) and rate-limited per camera; they run on the store's own writer
thread, never on the caller's (the ingest node's event loop): only each camera's newest picture waits there, so
the backlog is bounded by the number of cameras, and a slow disk delays pictures on disk, never the loop.

Tiles are smaller than the snapshot: :meth:`SnapshotStore.sized` serves a copy scaled down to one of a few
widths (:data:`SIZES`), cached per (camera, width) for the snapshot version it was made from, so 64 tiles on
many screens cost one resize per camera and snapshot, not one per request. It never scales up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

SIZES: tuple[int, ...] = (160, 320, 480, 640, 960, 1280)  # the widths a tile may ask for
SIZED_JPEG_QUALITY = 80
SIZED_CACHE_BYTES = 64 * 1024 * 1024  # scaled copies kept, least recently used dropped first


def fit_width(requested: int) -> int:
    """The smallest of :data:`SIZES` at least ``requested`` wide (the largest when none is)."""
    for w in SIZES:
        if w >= requested:
            return w
    return SIZES[-1]


_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, or None when ``data`` is not a readable JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _SOF:
            if i + 9 > n:
                return None
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return (width, height) if width and height else None
        if marker == 0xDA or length < 2:  # start of scan before any frame header: not a JPEG we read
            return None
        i += 2 + length
    return None


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    jpeg: bytes
    t_ms: int
    etag: str = ""  # computed from the bytes when not given
    width: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.etag:
            object.__setattr__(self, "etag", hashlib.blake2b(self.jpeg, digest_size=8).hexdigest())
        if self.width is None:
            size = jpeg_size(self.jpeg)
            object.__setattr__(self, "width", size[0] if size else None)


def sized_etag(src: StoredSnapshot, width: int) -> str:
    """The ETag of ``src`` served at ``width`` (a width in SIZES): known without scaling anything."""
    return src.etag if src.width is None or width >= src.width else f"{src.etag}-w{width}"


class SnapshotStore:
    def __init__(self, root: Path, persist_every_s: float = 30.0) -> None:
        self.root = root
        self.persist_every_ms = int(persist_every_s * 1000)
        self._lock = threading.Lock()
        self._latest: dict[str, StoredSnapshot] = {}
        self._persisted_ms: dict[str, int] = {}
        self.write_errors = 0
        # (camera, width) -> scaled copy (its etag names the source version); LRU, bounded in bytes
        self._sized: OrderedDict[tuple[str, int], StoredSnapshot] = OrderedDict()
        self._sized_bytes = 0
        self._making: dict[tuple[str, int], threading.Lock] = {}
        self.resizes = 0  # scaled copies made (a cache miss each)
        self.resize_errors = 0
        self._to_write: dict[str, StoredSnapshot] = {}  # camera -> newest picture not yet on disk
        self._wake = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None
        self._closed = False
        self._writing = False
        self.written = 0

    def _file(self, camera: str) -> Path:
        return self.root.joinpath(*camera.split("/")).with_suffix(".jpg")

    def put(self, camera: str, jpeg: bytes, t_ms: int) -> None:
        """Keep ``jpeg`` as the camera's snapshot; queue it for the disk when its camera is due. Never blocks."""
        snap = StoredSnapshot(jpeg, t_ms)
        with self._lock:
            self._latest[camera] = snap
            due = t_ms - self._persisted_ms.get(camera, -(10**15)) >= self.persist_every_ms
            if due and not self._closed:
                self._persisted_ms[camera] = t_ms
                self._to_write[camera] = snap
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="snapshot-writer", daemon=True)
                    self._writer.start()
                self._wake.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued picture is on disk (tests, shutdown); False if that took over ``timeout``."""
        with self._lock:
            return self._wake.wait_for(lambda: not self._to_write and not self._writing, timeout)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread. Idempotent."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join(30)

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._to_write or self._closed)
                if not self._to_write:
                    return  # closed and empty
                batch, self._to_write = self._to_write, {}
                self._writing = True
            for camera, snap in batch.items():
                self._persist(camera, snap)
            with self._lock:
                self._writing = False
                self.written += len(batch)
                self._wake.notify_all()

    def get(self, camera: str) -> StoredSnapshot | None:
        with self._lock:
            snap = self._latest.get(camera)
        if snap is not None:
            return snap
        path = self._file(camera)
        try:
            data = path.read_bytes()
            t_ms = path.stat().st_mtime_ns // 1_000_000
        except OSError:
            return None
        snap = StoredSnapshot(data, t_ms)
        with self._lock:
            self._latest.setdefault(camera, snap)
        return snap

    def sized(self, camera: str, src: StoredSnapshot, width: int) -> StoredSnapshot:
        """``src`` (the camera's snapshot) scaled down to ``width`` (one of SIZES), from the cache when this
        version was scaled before. ``src`` itself when it is not wider, or when it cannot be decoded.
        Blocking (decode, resize, encode): call it off the event loop."""
        etag = sized_etag(src, width)
        if etag == src.etag:
            return src
        key = (camera, width)
        with self._lock:
            hit = self._hit(key, etag)
            if hit is not None:
                return hit
            making = self._making.setdefault(key, threading.Lock())
        with making:  # one resize per (camera, width, version), however many tiles ask at once
            with self._lock:
                hit = self._hit(key, etag)
            if hit is not None:
                return hit
            out = self._scale(camera, src, width, etag)
            with self._lock:
                self._remember(key, out)
                self._making.pop(key, None)
        return out

    def _hit(self, key: tuple[str, int], etag: str) -> StoredSnapshot | None:
        hit = self._sized.get(key)
        if hit is None or hit.etag != etag:
            return None
        self._sized.move_to_end(key)
        return hit

    def _scale(self, camera: str, src: StoredSnapshot, width: int, etag: str) -> StoredSnapshot:
        assert src.width is not None
        try:
            bgr = cv2.imdecode(np.frombuffer(src.jpeg, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError("not a decodable JPEG")
            h = max(2, round(bgr.shape[0] * width / bgr.shape[1] / 2) * 2)
            small = cv2.resize(bgr, (width, h), interpolation=cv2.INTER_AREA)
            ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, SIZED_JPEG_QUALITY])
            if not ok:
                raise ValueError("JPEG encoding failed")
        except (ValueError, cv2.error):
            self.resize_errors += 1
            log.exception(
                "could not scale the snapshot of %s to %d px; serving it at full size", camera, width
            )
            return StoredSnapshot(src.jpeg, src.t_ms, etag=etag, width=src.width)  # cached: tried once
        self.resizes += 1
        return StoredSnapshot(buf.tobytes(), src.t_ms, etag=etag, width=width)

    def _remember(self, key: tuple[str, int], snap: StoredSnapshot) -> None:
        old = self._sized.pop(key, None)
        if old is not None:
            self._sized_bytes -= len(old.jpeg)
        self._sized[key] = snap
        self._sized_bytes += len(snap.jpeg)
        while self._sized_bytes > SIZED_CACHE_BYTES and len(self._sized) > 1:
            _, dropped = self._sized.popitem(last=False)
            self._sized_bytes -= len(dropped.jpeg)

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
