"""Continuous recording by stream copy (no re-encode) into MPEG-TS segments of about ``segment_s`` each.

Runs on the camera's worker thread, fed every packet after the checks saw it. A segment starts at a
keyframe; the next one starts at the first keyframe after ``segment_s``, and the old one ends exactly where
the new one starts, so segments of one session tile time without gap or overlap. Times are wall-clock ms,
mapped from packet timestamps against the session's first keyframe (re-anchored if the camera's clock
drifts more than 2 s from arrival times).

Crash-safe ordering: write ``NAME.ts.partial`` → close → fsync → rename to ``NAME.ts`` → fsync folder →
queue the row on the store's writer thread. MPEG-TS stays readable when cut short, so a partial left by a
crash is finished at start-up rather than lost (streams/recording/maintenance.py). Each packet is flushed to
the kernel as it is muxed, so a killed process loses only packets still on their way, not the segment. The
writer holds an exclusive ``flock`` on its partial until it is renamed: reconciliation leaves alone a partial
that a live process is still writing (an ingest process orphaned by a killed parent, finishing its segment).

Failures never stop ingest: backwards timestamps drop the packet and restart at the next keyframe; a full
disk pauses recording for ``retry_after_s`` (every drop is counted in ``RecorderStats``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from cctv.recording import PARTIAL_SUFFIX, SEGMENT_SUFFIX, segment_relpath
from cctv.store.segments import NewSegment

log = logging.getLogger(__name__)

DRIFT_MS = 2000


@dataclass(slots=True)
class RecorderStats:
    segments: int = 0
    packets: int = 0
    dropped_packets: int = 0  # not written: backwards timestamps, no timestamp, mux errors, disk full
    before_keyframe: int = 0  # not written because a segment must start at a keyframe (session start, restarts)
    backwards: int = 0
    errors: int = 0
    disk_full: int = 0
    paused: str = ""  # why recording is paused right now ("disk_full"), or ""


class SegmentRecorder:
    def __init__(
        self,
        camera: str,
        root: Path,
        on_segment: Callable[[NewSegment], object],
        segment_s: float = 60.0,
        retry_after_s: float = 30.0,
    ) -> None:
        self.camera = camera
        self.root = root
        self.on_segment = on_segment  # e.g. lambda seg: store.submit_write(add_segment, store, seg)
        self.segment_ms = int(segment_s * 1000)
        self.retry_after_ms = int(retry_after_s * 1000)
        self.stats = RecorderStats()
        self._out: av.container.OutputContainer | None = None
        self._ostream = None
        self._rel = ""
        self._start_ms = 0
        self._last_end_ms = 0
        self._packets = 0
        self._anchor: tuple[int, int] | None = None  # (wall ms, pts) of the session's reference keyframe
        self._last_dts: int | None = None
        self._paused_until_ms = 0
        self._frame_ms = 100
        self._held: tuple[av.Packet, int] | None = None  # a first keyframe waiting for timestamps
        self._lock_fd: int | None = None  # flock on the open partial: "a live writer has it"

    # -- packets -----------------------------------------------------------------------------------

    def on_packet(self, packet: av.Packet, stream: av.video.stream.VideoStream, arrival_ms: int) -> None:
        if packet.pts is None or packet.dts is None:
            if packet.is_keyframe and self._out is None:
                # An RTSP session's first keyframe comes before RTP/RTCP timing is known: hold it until the
                # next packet gives the timeline, then stamp it one frame earlier.
                if self._held is not None:
                    self._drop()
                self._held = (packet, arrival_ms)
                return
            self._drop()
            return
        if self._held is not None:
            held, held_arrival = self._held
            self._held = None
            step = packet.duration or max(1, round(1 / (10 * stream.time_base)))
            held.pts = held.dts = packet.dts - step
            if self._last_dts is None or held.dts > self._last_dts:
                self.on_packet(held, stream, held_arrival)
            else:
                self._drop()
        if self._last_dts is not None and packet.dts <= self._last_dts:
            # the muxer would fail with EINVAL: drop, end the segment here, restart at the next keyframe
            self.stats.backwards += 1
            self._drop()
            self._finish()
            self._anchor = None
            self._last_dts = None
            return
        wall = self._wall_ms(packet, stream, arrival_ms)
        # half a frame of slack: the keyframe due at segment_ms may map to a millisecond before it
        if self._out is not None and packet.is_keyframe and wall - self._start_ms >= self.segment_ms - self._frame_ms // 2:
            self._finish(end_ms=wall)
        if self._out is None:
            if arrival_ms < self._paused_until_ms:
                self._drop()
                return
            if not packet.is_keyframe:
                self.stats.before_keyframe += 1
                return
            if not self._begin(stream, wall):
                self._drop()
                return
        dts, duration = packet.dts, packet.duration  # mux() rescales the packet's timestamps in place
        try:
            packet.stream = self._ostream
            self._out.mux(packet)
        except OSError as exc:
            self._fail(exc, arrival_ms, salvage=True)
            return
        except av.error.FFmpegError:
            self.stats.errors += 1
            log.exception("camera %s: could not record a packet; starting a new segment", self.camera)
            self._drop()
            self._finish()
            return
        self._last_dts = dts
        self._packets += 1
        self.stats.packets += 1
        if duration:
            self._frame_ms = max(1, round(float(duration * stream.time_base) * 1000))
        self._last_end_ms = wall + self._frame_ms

    def close(self) -> None:
        """End of the session (disconnect or stop): finish the open segment."""
        if self._held is not None:
            self._held = None
            self._drop()
        self._finish()
        self._anchor = None
        self._last_dts = None

    # -- internals ---------------------------------------------------------------------------------

    def _wall_ms(self, packet: av.Packet, stream, arrival_ms: int) -> int:
        if self._anchor is not None:
            a_ms, a_pts = self._anchor
            wall = a_ms + round(float((packet.pts - a_pts) * stream.time_base) * 1000)
            if abs(wall - arrival_ms) <= DRIFT_MS:
                return wall
            log.info("camera %s: timestamps drifted %d ms from arrival; re-anchoring", self.camera,
                     wall - arrival_ms)
        if packet.is_keyframe:
            self._anchor = (arrival_ms, packet.pts)
        return arrival_ms

    def _begin(self, stream, start_ms: int) -> bool:
        rel = segment_relpath(self.camera, start_ms, PARTIAL_SUFFIX)
        path = self.root / rel
        lock_fd = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock_fd = hold_writer_lock(path)  # creates the partial; FFmpeg opens the same inode later
            # flush_packets: every packet goes to the kernel as it is muxed. FFmpeg's default buffers up to
            # 256 KiB in this process, which is a whole segment of a substream: a SIGKILL lost all of it.
            out = av.open(str(path), "w", format="mpegts", options={"flush_packets": "1"})
            if isinstance(stream, av.stream.Stream):
                self._ostream = out.add_stream_from_template(stream)
            else:  # a template from the native RTSP client (streams.camera.native.StreamTemplate)
                self._ostream = out.add_stream(stream.codec)
                self._ostream.time_base = stream.time_base
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)  # nothing was muxed into it: a header at most
            if lock_fd is not None:
                os.close(lock_fd)
            self._fail(exc, start_ms, salvage=False)
            return False
        self._out, self._rel, self._start_ms, self._packets = out, rel, start_ms, 0
        self._lock_fd = lock_fd
        self._last_end_ms = start_ms
        self._paused_until_ms, self.stats.paused = 0, ""
        return True

    def _finish(self, end_ms: int | None = None) -> None:
        out, self._out = self._out, None
        if out is None:
            return
        try:
            self._close_and_rename(out, end_ms)
        finally:
            self._release_lock()  # only once the partial is renamed (or gone)

    def _close_and_rename(self, out: av.container.OutputContainer, end_ms: int | None) -> None:
        try:
            out.close()
            if self._packets == 0:
                (self.root / self._rel).unlink(missing_ok=True)
                return
            self._publish(end_ms if end_ms is not None else self._last_end_ms, self._packets)
        except OSError as exc:
            self._fail(exc, self._last_end_ms, salvage=True)

    def _publish(self, end_ms: int, packets: int) -> None:
        """Finish the open partial in the crash-safe order: fsync and hash it, rename it to its final name, fsync
        the folder, then queue its row. Raises OSError (what is left is for :meth:`_salvage` or start-up)."""
        partial = self.root / self._rel
        final_rel = self._rel[: -len(PARTIAL_SUFFIX)] + SEGMENT_SUFFIX
        digest, size = fsync_and_hash(partial)
        os.replace(partial, self.root / final_rel)
        fsync_dir(partial.parent)
        self.stats.segments += 1
        self.on_segment(NewSegment(self.camera, self._start_ms, max(end_ms, self._start_ms), final_rel, size,
                                   digest, packets))

    def _fail(self, exc: OSError, now_ms: int, salvage: bool) -> None:
        """A write failed. ``salvage``: a segment was open, and what of it reached the disk is kept."""
        self._drop()
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            self.stats.disk_full += 1
            self.stats.paused = "disk_full"
            self._paused_until_ms = now_ms + self.retry_after_ms
            log.error("camera %s: disk full, recording paused for %d s (ingest goes on)", self.camera,
                      self.retry_after_ms // 1000)
        else:
            self.stats.errors += 1
            log.exception("camera %s: recording failed", self.camera)
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except Exception:  # noqa: BLE001 - what reached the disk is salvaged below
                log.debug("closing a failed segment of %s", self.camera, exc_info=True)
        if salvage:
            self._salvage()
        self._release_lock()

    def _salvage(self) -> None:
        """After a failed write, keep what reached the disk of the open segment as a finished, indexed segment
        (MPEG-TS stays readable when cut short) rather than leave a partial until the next start-up; remove
        the partial if nothing in it can be read (those packets are counted as dropped)."""
        partial = self.root / self._rel
        if not partial.exists():  # renamed before the failure: start-up reconciliation indexes it
            return
        probed = probe_segment(partial, self._start_ms) if self._packets else None
        if probed is None:
            partial.unlink(missing_ok=True)
            self.stats.dropped_packets += self._packets
            return
        end_ms, packets = probed
        self.stats.dropped_packets += max(0, self._packets - packets)
        try:
            self._publish(end_ms, packets)
        except OSError:
            log.warning("camera %s: could not finish %s after a failed write; start-up reconciliation will",
                        self.camera, self._rel, exc_info=True)

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def _drop(self) -> None:
        self.stats.dropped_packets += 1


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
