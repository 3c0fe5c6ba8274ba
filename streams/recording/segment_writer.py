"""Continuous recording by stream copy (no re-encode) into MPEG-TS segments of about ``segment_s`` each.

``SegmentRecorder`` runs on the camera's caller thread (the shard's event loop for native RTSP cameras, a PyAV
worker thread otherwise), fed every packet after the checks saw it, and does no I/O there: it maps timestamps
to wall-clock ms, decides the segment boundaries, and hands work items to the shard's writer thread
(``streams.recording.writer_thread``), which muxes, hashes, fsyncs and renames (``streams.recording.segment_file``).

A segment starts at a keyframe; the next one starts at the first keyframe after ``segment_s``, and the old one
ends exactly where the new one starts, so segments of one session tile time without gap or overlap. Times are
wall-clock ms, mapped from packet timestamps against the session's first keyframe (re-anchored if the camera's
clock drifts more than 2 s from arrival times).

Failures never stop ingest: backwards timestamps drop the packet and restart at the next keyframe; a full
writer queue (a slow disk) drops packets to the next keyframe, ending the segment at its last queued packet (a
gap in the index); a full disk, seen by the writer thread, pauses recording for ``retry_after_s``. Every drop
is counted in ``RecorderStats``.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av

from cctv.recording import PARTIAL_SUFFIX, segment_relpath
from cctv.store.segments import NewSegment
from streams.recording.segment_file import (  # noqa: F401 - re-exported: the recording's file helpers
    SegmentFile,
    fsync_and_hash,
    fsync_dir,
    held_by_a_writer,
    hold_writer_lock,
    probe_segment,
)
from streams.recording.writer_thread import FINISH, OPEN, PACKET, InlineWriter, Item

log = logging.getLogger(__name__)

DRIFT_MS = 2000


@dataclass(slots=True)
class RecorderStats:
    segments: int = 0
    packets: int = 0  # written (muxed into a segment file)
    dropped_packets: int = 0  # not written: backwards or no timestamps, mux errors, disk full, a full queue
    before_keyframe: int = 0  # not written because a segment must start at a keyframe (session start, restarts)
    backwards: int = 0
    errors: int = 0
    disk_full: int = 0
    queue_dropped: int = 0  # of dropped_packets: the writer queue was full (a slow disk), dropped to a keyframe
    queue_overflows: int = 0  # times this camera's recording hit a full writer queue
    paused: str = ""  # why recording is paused right now ("disk_full"), or ""


class Writer(Protocol):
    def offer(self, items: tuple[Item, ...]) -> bool: ...
    def put(self, item: Item) -> None: ...


class SegmentRecorder:
    def __init__(
        self,
        camera: str,
        root: Path,
        on_segment: Callable[[NewSegment], object],
        segment_s: float = 60.0,
        retry_after_s: float = 30.0,
        writer: Writer | None = None,
    ) -> None:
        self.camera = camera
        self.root = root
        self.on_segment = on_segment  # called on the writer thread: must be thread-safe
        self.segment_ms = int(segment_s * 1000)
        self.retry_after_ms = int(retry_after_s * 1000)
        self.writer: Writer = writer if writer is not None else InlineWriter()  # None: I/O on the caller's thread
        self.stats = RecorderStats()
        self._lock = threading.Lock()  # stats both threads change (dropped_packets), the failures list
        self._failures: list[tuple[SegmentFile, bool]] = []  # reported by the writer thread, taken by the caller
        self._seg: SegmentFile | None = None  # the open segment, as the caller sees it
        self._last_end_ms = 0
        self._anchor: tuple[int, int] | None = None  # (wall ms, pts) of the session's reference keyframe
        self._last_dts: int | None = None
        self._paused_until_ms = 0
        self._frame_ms = 100
        self._held: tuple[av.Packet, int] | None = None  # a first keyframe waiting for timestamps
        self._overflowing = False  # the writer queue was full: dropping to the next keyframe
        self._tpl_src: Any = None  # a demuxer stream, and the copy of its parameters the writer thread uses
        self._tpl: Any = None

    # -- packets (the caller's thread: no I/O) -------------------------------------------------------

    def on_packet(self, packet: av.Packet, stream: Any, arrival_ms: int) -> None:
        if self._failures:
            self._take_failures(arrival_ms)
        if packet.pts is None or packet.dts is None:
            if packet.is_keyframe and self._seg is None:
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
        key = packet.is_keyframe
        # half a frame of slack: the keyframe due at segment_ms may map to a millisecond before it
        if self._seg is not None and key and wall - self._seg.start_ms >= self.segment_ms - self._frame_ms // 2:
            self._finish(end_ms=wall)
        dts, duration = packet.dts, packet.duration  # mux() rescales the packet's timestamps in place
        if duration:
            self._frame_ms = max(1, round(float(duration * stream.time_base) * 1000))
        end_ms = wall + self._frame_ms
        if self._seg is None:
            if arrival_ms < self._paused_until_ms:
                self._drop()
                return
            if not key:
                if self._overflowing:
                    self._queue_drop()
                else:
                    self.stats.before_keyframe += 1
                return
            seg = SegmentFile(self, segment_relpath(self.camera, wall, PARTIAL_SUFFIX), wall)
            opened = self.writer.offer(((OPEN, seg, self._template(stream), None, 0),
                                        (PACKET, seg, packet, end_ms, packet.size)))
            if not opened:
                self._overflow()
                return
            self._seg, self._overflowing = seg, False
        elif not self.writer.offer(((PACKET, self._seg, packet, end_ms, packet.size),)):
            self._finish()  # at its last queued packet: the index shows the gap
            self._overflow()
            return
        self._last_dts = dts
        self._last_end_ms = end_ms

    def close(self) -> None:
        """End of the session (disconnect or stop): the open segment is finished (queued to the writer)."""
        if self._held is not None:
            self._held = None
            self._drop()
        self._finish()
        self._anchor = None
        self._last_dts = None
        self._overflowing = False

    # -- called by the writer thread (SegmentFile) --------------------------------------------------

    def written(self, packets: int) -> None:
        self.stats.packets += 1
        if packets == 1 and self.stats.paused:
            self.stats.paused = ""  # a packet reached the disk again

    def published(self) -> None:
        self.stats.segments += 1

    def dropped(self, packets: int) -> None:
        if packets:
            with self._lock:
                self.stats.dropped_packets += packets

    def writer_failed(self, seg: SegmentFile, exc: BaseException, disk_full: bool) -> None:
        if disk_full:
            self.stats.disk_full += 1
            self.stats.paused = "disk_full"
            log.error("camera %s: disk full, recording paused for %d s (ingest goes on)", self.camera,
                      self.retry_after_ms // 1000)
        else:
            self.stats.errors += 1
        with self._lock:
            self._failures.append((seg, disk_full))

    # -- internals ---------------------------------------------------------------------------------

    def _take_failures(self, now_ms: int) -> None:
        with self._lock:
            failures, self._failures = self._failures, []
        for seg, disk_full in failures:
            if seg is self._seg:
                self._seg = None  # the writer ended it; the next segment begins at a keyframe
            if disk_full:
                self._finish()  # a newer segment queued before the news came would fail the same way
                self._paused_until_ms = now_ms + self.retry_after_ms

    def _template(self, stream: Any) -> Any:
        """What the writer thread builds the output stream from. A demuxer stream belongs to a container its
        camera thread may close at any moment: copy its parameters into a container of our own (never
        written) once per session. The native client's StreamTemplate is immutable: used as it is."""
        if not isinstance(stream, av.stream.Stream):
            return stream
        if stream is not self._tpl_src:
            holder = av.open(io.BytesIO(), "w", format="mpegts")  # the copy keeps its container alive
            self._tpl, self._tpl_src = holder.add_stream_from_template(stream), stream
        return self._tpl

    def _wall_ms(self, packet: av.Packet, stream: Any, arrival_ms: int) -> int:
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

    def _finish(self, end_ms: int | None = None) -> None:
        seg, self._seg = self._seg, None
        if seg is not None:
            self.writer.put((FINISH, seg, None, end_ms, 0))

    def _overflow(self) -> None:
        self._queue_drop()
        if not self._overflowing:
            self._overflowing = True
            self.stats.queue_overflows += 1

    def _queue_drop(self) -> None:
        with self._lock:
            self.stats.dropped_packets += 1
            self.stats.queue_dropped += 1

    def _drop(self) -> None:
        with self._lock:
            self.stats.dropped_packets += 1
