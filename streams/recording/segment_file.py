"""One segment file as the writer thread has it: the partial, its lock, the muxer and the running hash.

Everything here is disk I/O and runs on the shard's writer thread (streams/recording/writer_thread.py), never on
the ingest loop. Crash-safe order: write ``NAME.ts.partial`` (each packet reaches the kernel as it is muxed) →
close → fsync → rename to ``NAME.ts`` → fsync the folder → hand the row to ``on_segment``. The SHA-256 is taken
from the bytes as they are written (``HashingSink``), so finishing never reads the file again. The writer holds
an exclusive ``flock`` on the partial until it is renamed (reconciliation leaves such a partial alone).

A failed write keeps what reached the disk as a finished, indexed segment (MPEG-TS stays readable when cut
short); a full disk (ENOSPC / EDQUOT) also pauses that camera's recording (the recorder learns of it through
``SegmentOwner.writer_failed``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import av

from cctv.recording import PARTIAL_SUFFIX, SEGMENT_SUFFIX
from cctv.store.segments import NewSegment

log = logging.getLogger("streams.recording.segment_writer")

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class SegmentOwner(Protocol):
    """What a segment reports to (the camera's ``SegmentRecorder``); every method is called on the writer thread."""

    camera: str
    root: Path
    on_segment: Any

    def written(self, packets: int) -> None: ...
    def published(self) -> None: ...
    def dropped(self, packets: int) -> None: ...
    def writer_failed(self, seg: SegmentFile, exc: BaseException, disk_full: bool) -> None: ...


class HashingSink:
    """PyAV's output file object: each write goes straight to the descriptor (``flush_packets`` makes FFmpeg
    call it once per muxed packet) and into the SHA-256 of the file. No ``seek``: MPEG-TS never needs it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.sha = hashlib.sha256()
        self.size = 0
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                self.sha.update(view[:n])  # exactly what reached the file, even if a later write fails
                self.size += n
                view = view[n:]
        except OSError as exc:
            self.error = exc
            raise
        return len(data)


NEW, OPEN, DONE = "new", "open", "done"


class SegmentFile:
    def __init__(self, owner: SegmentOwner, rel: str, start_ms: int) -> None:
        self.owner = owner
        self.rel = rel  # the partial's path under owner.root
        self.start_ms = start_ms
        self.state = NEW
        self.packets = 0
        self.last_end_ms = start_ms
        self._out: Any = None
        self._ostream: Any = None
        self._sink: HashingSink | None = None
        self._lock_fd: int | None = None

    # -- the writer thread's steps ----------------------------------------------------------------

    def open(self, template: Any) -> None:
        path = self.owner.root / self.rel
        fd = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = hold_writer_lock(path)  # creates the partial: "a live writer has it"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            self._sink = HashingSink(fd)
            # flush_packets: every packet goes to the kernel as it is muxed. FFmpeg's default buffers up to
            # 256 KiB in this process, which is a whole segment of a substream: a SIGKILL lost all of it.
            self._out = av.open(self._sink, "w", format="mpegts", options={"flush_packets": "1"})
            if isinstance(template, av.stream.Stream):
                self._ostream = self._out.add_stream_from_template(template)
            else:  # a template from the native RTSP client (streams.camera.native.StreamTemplate)
                self._ostream = self._out.add_stream(template.codec)
                self._ostream.time_base = template.time_base
        except (OSError, av.error.FFmpegError, ValueError) as exc:  # the last two: a stream the muxer refuses
            self._out = None
            if fd is not None:
                os.close(fd)
            self._sink = None
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)  # nothing was muxed into it
            self._release_lock()
            self.state = DONE
            self._report_failure(exc)
            return
        self.state = OPEN

    def write(self, packet: av.Packet, end_ms: int) -> None:
        if self.state != OPEN:  # the segment failed meanwhile: what was queued for it is lost
            self.owner.dropped(1)
            return
        try:
            packet.stream = self._ostream
            self._out.mux(packet)
        except OSError as exc:
            self._fail(exc, salvage=True)
            return
        except av.error.FFmpegError:
            log.exception("camera %s: could not record a packet; starting a new segment", self.owner.camera)
            self.owner.dropped(1)
            self.finish(None)
            self.owner.writer_failed(self, RuntimeError("mux error"), disk_full=False)
            return
        self.packets += 1
        self.last_end_ms = end_ms
        self.owner.written(self.packets)

    def finish(self, end_ms: int | None) -> None:
        """Close, fsync, rename, fsync the folder, then hand over the row. ``end_ms`` None: the last packet's end."""
        if self.state != OPEN:
            return
        self.state = DONE
        out, self._out = self._out, None
        try:
            out.close()
            if self.packets == 0:
                (self.owner.root / self.rel).unlink(missing_ok=True)
                return
            self._publish(end_ms if end_ms is not None else self.last_end_ms, self.packets)
        except OSError as exc:
            self._fail(exc, salvage=True)
        finally:
            self._close_files()  # only once the partial is renamed (or gone)

    def discard(self, packets: int) -> None:
        self.owner.dropped(packets)

    # -- internals ---------------------------------------------------------------------------------

    def _publish(self, end_ms: int, packets: int) -> None:
        """Raises OSError: what is left is for :meth:`_salvage` or start-up reconciliation."""
        root = self.owner.root
        partial = root / self.rel
        final_rel = self.rel[: -len(PARTIAL_SUFFIX)] + SEGMENT_SUFFIX
        sink = self._sink
        assert sink is not None
        os.fsync(sink.fd)
        digest, size = sink.sha.hexdigest(), sink.size
        if os.fstat(sink.fd).st_size != size:  # something else wrote to it: hash what is really there
            digest, size = fsync_and_hash(partial)
        os.replace(partial, root / final_rel)
        fsync_dir(partial.parent)
        self.owner.published()
        self.owner.on_segment(NewSegment(self.owner.camera, self.start_ms, max(end_ms, self.start_ms), final_rel,
                                         size, digest, packets))

    def _fail(self, exc: OSError, salvage: bool) -> None:
        """A write failed: keep what of the segment reached the disk, then tell the recorder."""
        self.owner.dropped(1)
        self.state = DONE
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except Exception:  # noqa: BLE001 - what reached the disk is salvaged below
                log.debug("closing a failed segment of %s", self.owner.camera, exc_info=True)
        try:
            if salvage:
                self._salvage()
        finally:
            self._close_files()
            self._report_failure(exc)

    def _report_failure(self, exc: Exception) -> None:
        disk_full = getattr(exc, "errno", None) in DISK_FULL
        if not disk_full:
            log.error("camera %s: recording failed", self.owner.camera, exc_info=exc)
        self.owner.writer_failed(self, exc, disk_full)

    def _salvage(self) -> None:
        """Keep what reached the disk as a finished, indexed segment rather than leave a partial until the next
        start-up; remove the partial if nothing in it can be read (those packets count as dropped)."""
        partial = self.owner.root / self.rel
        if not partial.exists():  # renamed before the failure: start-up reconciliation indexes it
            return
        probed = probe_segment(partial, self.start_ms) if self.packets else None
        if probed is None:
            partial.unlink(missing_ok=True)
            self.owner.dropped(self.packets)
            return
        end_ms, packets = probed
        self.owner.dropped(max(0, self.packets - packets))
        try:
            self._publish(end_ms, packets)
        except OSError:
            log.warning("camera %s: could not finish %s after a failed write; start-up reconciliation will",
                        self.owner.camera, self.rel, exc_info=True)

    def _close_files(self) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            with contextlib.suppress(OSError):
                os.close(sink.fd)
        self._release_lock()

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)


def hold_writer_lock(path: Path) -> int | None:
    """Create ``path`` if need be and hold an exclusive ``flock`` on it while this process writes it (released
    by closing the descriptor, or by the kernel when the process dies). None if the lock cannot be taken:
    recording goes on without it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # never contended for long: a reconciliation probe holds it for a moment
    except OSError:
        os.close(fd)
        return None
    return fd


def held_by_a_writer(path: Path) -> bool:
    """True while a live process holds ``hold_writer_lock`` on ``path`` (False if the file is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no flock on this filesystem: nobody can hold one either
        return False
    finally:
        os.close(fd)  # releases the probe's own lock, if it got it
    return False


def fsync_and_hash(path: Path) -> tuple[str, int]:
    """fsync a file and hash it by reading it back: for files this process did not write (reconciliation)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def probe_segment(path: Path, start_ms: int) -> tuple[int, int] | None:
    """(end_ms, packets) of a (possibly cut short) MPEG-TS segment that starts at ``start_ms``; None if nothing
    in it can be read."""
    first = last = None
    packets = 0
    frame_ms = 100
    tb = None
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            tb = s.time_base
            for p in c.demux(s):
                if p.pts is None or p.size == 0:
                    continue
                first = p.pts if first is None else first
                last = p.pts
                packets += 1
                if p.duration:
                    frame_ms = max(1, round(float(p.duration * s.time_base) * 1000))
    except (av.error.FFmpegError, IndexError, OSError):
        pass  # cut short: what was read before the cut counts
    if packets == 0 or first is None or last is None or tb is None:
        return None
    return start_ms + round(float((last - first) * tb) * 1000) + frame_ms, packets
