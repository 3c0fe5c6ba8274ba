"""Export one camera's recordings over [start, end) as ONE MP4, by stream copy (no re-encode).

The clip begins at the last keyframe at or before ``start`` (so nothing before the start is lost: a player can
decode from the first frame) and ends before the first packet at or after ``end``. Its timeline is wall-clock
time: the first packet is at 0 and ``creation_time`` (container metadata) is its UTC wall-clock time, so the
position of any frame in the clip plus ``creation_time`` is when it was recorded. Where the camera was offline
(a gap between segments), the timeline jumps over the gap (the last picture before it stays on screen) and the
gap is listed in the result. ``movflags=+faststart`` puts the index first so a browser plays while it loads.

Crash-safe: the clip is written as ``NAME.mp4.partial``, then fsynced, hashed and renamed. Every source
segment is checked against the SHA-256 in the index before it is used; a segment that does not match stops the
export (a damaged or altered recording never becomes evidence).

The caller keeps the covered segments from retention while this runs (``cctv.store.segments.lock``).
Blocking: run it on a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from sqlalchemy import select

from cctv.evidence import EvidenceError
from cctv.evidence.files import PARTIAL, publish, sha256_file
from cctv.evidence.manifest import iso_ms
from cctv.recording import Segment, Span, coverage
from cctv.store import Store
from cctv.store.segment_models import SegmentRow

log = logging.getLogger(__name__)

TICKS_PER_S = 90_000  # the clip's time base, as MPEG-TS and RTP video: 90 ticks a millisecond
TB = Fraction(1, TICKS_PER_S)
Progress = Callable[[float], None]


class ExportError(EvidenceError):
    """The export cannot be made: a segment that fails its hash or cannot be read, a format change..."""


class NoRecordings(ExportError):
    """Nothing was recorded of the camera in the range."""


@dataclass(frozen=True, slots=True)
class SourceSegment:
    id: int
    camera: str
    start_ms: int
    end_ms: int
    path: str  # relative to the recordings root (of its node)
    sha256: str
    size_bytes: int
    node: str | None = None  # the ingest node whose disk holds it (None: this one, ``cctv run``)


# Where a segment's file is to be read: the recordings root, or (a web node among many) a copy fetched from the
# ingest node that recorded it. Its hash is checked against the row either way.
Locate = Callable[[SourceSegment], Path]


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    sha256: str
    size_bytes: int
    start_ms: int  # wall-clock time of the first packet (a keyframe at or before the requested start)
    end_ms: int  # wall-clock end of the last packet (its time plus one frame)
    packets: int
    segments: tuple[SourceSegment, ...]  # the segments the clip took packets from, in order
    gaps: tuple[Span, ...]  # unrecorded spans within the requested range


def covering_segments(store: Store, camera: str, start_ms: int, end_ms: int) -> list[SourceSegment]:
    """The camera's segments that overlap [start_ms, end_ms), oldest first (never garbage ones)."""
    q = (
        select(
            SegmentRow.id,
            SegmentRow.camera,
            SegmentRow.start_ms,
            SegmentRow.end_ms,
            SegmentRow.path,
            SegmentRow.sha256,
            SegmentRow.size_bytes,
            SegmentRow.node,
        )
        .where(
            SegmentRow.camera == camera,
            SegmentRow.end_ms > start_ms,
            SegmentRow.start_ms < end_ms,
            SegmentRow.garbage.is_(False),
        )
        .order_by(SegmentRow.start_ms, SegmentRow.id)
    )
    with store.engine.connect() as conn:
        return [SourceSegment(*row) for row in conn.execute(q)]


def export_clip(
    store: Store,
    root: Path,
    camera: str,
    start_ms: int,
    end_ms: int,
    out_dir: Path,
    *,
    name: str | None = None,
    progress: Progress | None = None,
    locate: Locate | None = None,
) -> ExportResult:
    """Export ``camera`` over [start_ms, end_ms) into ``out_dir/name`` (default ``<camera>_<start>.mp4``)."""
    if end_ms <= start_ms:
        raise ExportError(f"the end ({iso_ms(end_ms)}) is not after the start ({iso_ms(start_ms)})")
    sources = covering_segments(store, camera, start_ms, end_ms)
    if not sources:
        raise NoRecordings(f"no recordings of {camera} between {iso_ms(start_ms)} and {iso_ms(end_ms)}")
    out = Path(out_dir) / (name or default_clip_name(camera, start_ms))
    return remux(sources, Path(root), start_ms, end_ms, out, progress=progress, locate=locate)


def default_clip_name(camera: str, start_ms: int, prefix: str = "") -> str:
    stamp = iso_ms(start_ms).replace("-", "").replace(":", "").replace(".", "")  # 20260101T000000000Z
    return f"{prefix}{camera.replace('/', '_')}_{stamp}.mp4"


def remux(
    sources: Sequence[SourceSegment],
    root: Path,
    start_ms: int,
    end_ms: int,
    out: Path,
    *,
    progress: Progress | None = None,
    locate: Locate | None = None,
) -> ExportResult:
    """Stream-copy the packets of ``sources`` (one camera, oldest first) over [start_ms, end_ms) into ``out``;
    each segment read from ``locate(seg)`` when given, else ``root / seg.path``."""
    if out.exists():
        raise ExportError(f"{out} exists already: an earlier clip is never overwritten")
    partial = out.with_name(out.name + PARTIAL)
    report = _Reporter(progress, start_ms, end_ms)
    cutter = _Cutter(start_ms * 90)
    writer = _Writer(partial)
    used: list[SourceSegment] = []
    try:
        for seg in sources:
            if cutter.done:
                break
            path = locate(seg) if locate is not None else root / seg.path
            _check_hash(path, seg)
            if _copy_segment(path, seg, end_ms, cutter, writer, report):
                used.append(seg)
        writer.write(cutter.flush())
        if writer.packets == 0:
            raise NoRecordings(f"no recorded video between {iso_ms(start_ms)} and {iso_ms(end_ms)}")
        writer.close()
        digest, size = sha256_file(partial)
        publish(partial, out)
    except BaseException:
        writer.abandon()
        partial.unlink(missing_ok=True)
        raise
    report.finish()
    as_rows = [Segment(s.id, s.camera, s.start_ms, s.end_ms, s.size_bytes) for s in sources]
    _spans, gaps = coverage(as_rows, start_ms, end_ms)
    first_ms = writer.first_abs // 90
    return ExportResult(
        out, digest, size, first_ms, -(-writer.end_abs // 90), writer.packets, tuple(used), tuple(gaps)
    )


# -- internals -----------------------------------------------------------------------------------------


def _check_hash(path: Path, seg: SourceSegment) -> None:
    try:
        digest, _size = sha256_file(path)
    except OSError as exc:
        raise ExportError(f"cannot read segment {seg.path}: {exc.strerror or exc}") from None
    if digest != seg.sha256:
        raise ExportError(
            f"segment {seg.path} does not match the SHA-256 recorded when it was written: it was "
            "altered or damaged, so it cannot be exported as evidence"
        )


def _copy_segment(
    path: Path, seg: SourceSegment, end_ms: int, cutter: _Cutter, writer: _Writer, report: _Reporter
) -> bool:
    """Feed one segment's packets; True if any of them went into the clip."""
    before = writer.packets + len(cutter.pending)
    base = seg.start_ms * 90  # absolute ticks (1/90000 s since the epoch) of the segment's first packet
    end_abs = end_ms * 90
    try:
        with av.open(str(path)) as inp:
            stream = inp.streams.video[0]
            writer.check_format(stream, seg)
            tb = stream.time_base
            first: int | None = None
            shift = 0
            for p in inp.demux(stream):
                if p.size == 0 or p.pts is None or p.dts is None:
                    continue
                if first is None:
                    first = p.pts
                    # segments of one session tile time; an overlap (a clock re-anchored) must not run time back
                    shift = max(0, writer.last_dts + 1 - (base + _ticks(p.dts - first, tb)))
                    if shift:
                        log.warning(
                            "segment %s overlaps the one before by %d ms; shifted", seg.path, shift // 90
                        )
                pts = base + shift + _ticks(p.pts - first, tb)
                if pts >= end_abs:
                    cutter.done = True
                    break
                dts = base + shift + _ticks(p.dts - first, tb)
                dur = _ticks(p.duration, tb) if p.duration else 0
                writer.write(cutter.feed(p, pts, dts, dur))
                report(pts / 90)
    except av.error.FFmpegError as exc:
        raise ExportError(f"cannot read segment {seg.path}: {exc}") from None
    return writer.packets + len(cutter.pending) > before


def _ticks(value: int, tb: Fraction) -> int:
    return value * tb.numerator * TICKS_PER_S // tb.denominator


class _Cutter:
    """Decides which packets go into the clip: from the last keyframe at or before the start on."""

    def __init__(self, start_abs: int) -> None:
        self.start_abs = start_abs
        self.started = False
        self.done = False
        self.pending: list[tuple[av.Packet, int, int, int]] = []

    def feed(self, p: av.Packet, pts: int, dts: int, dur: int) -> list[tuple[av.Packet, int, int, int]]:
        item = (p, pts, dts, dur)
        if self.started:
            return [item]
        if p.is_keyframe and pts <= self.start_abs:
            self.pending = [item]  # a later keyframe still at or before the start: begin there instead
            return []
        if pts < self.start_abs:
            if self.pending:
                self.pending.append(item)
            return []
        if self.pending or p.is_keyframe:  # at or past the start: begin (at a keyframe)
            self.started = True
            out, self.pending = [*self.pending, item], []
            return out
        return []  # past the start with no keyframe before it: undecodable, not evidence

    def flush(self) -> list[tuple[av.Packet, int, int, int]]:
        out, self.pending = self.pending, []
        return out


class _Writer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.out: av.container.OutputContainer | None = None
        self.stream = None
        self.format: tuple[str, int, int] | None = None
        self.template = None  # the first segment's stream: the clip's codec parameters
        self.first_abs = 0
        self.last_dts = -(1 << 62)
        self.end_abs = 0
        self.packets = 0
        self.frame = TICKS_PER_S // 10

    def check_format(self, stream, seg: SourceSegment) -> None:
        fmt = (stream.codec_context.name, stream.codec_context.width, stream.codec_context.height)
        if self.format is None:
            self.format = fmt
            self.template = stream
        elif fmt != self.format:
            raise ExportError(
                f"the camera's stream changed at {iso_ms(seg.start_ms)} ({self.format[0]} "
                f"{self.format[1]}x{self.format[2]} to {fmt[0]} {fmt[1]}x{fmt[2]}): export the two parts separately"
            )

    def write(self, items: list[tuple[av.Packet, int, int, int]]) -> None:
        for p, pts, dts, dur in items:
            if self.out is None:
                self._open(pts)
            if dts <= self.last_dts:
                continue  # cannot happen after the shift above; never hand the muxer time running back
            if self.packets and dts - self.last_dts <= TICKS_PER_S:  # a frame interval, not a gap
                self.frame = dts - self.last_dts
            p.pts, p.dts = pts - self.first_abs, dts - self.first_abs
            p.duration = dur or self.frame
            p.time_base = TB
            p.stream = self.stream
            self.out.mux(p)
            self.last_dts = dts
            self.end_abs = max(self.end_abs, pts + (dur or self.frame))
            self.packets += 1

    def _open(self, first_pts: int) -> None:
        self.first_abs = first_pts
        try:
            out = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        except OSError as exc:
            raise ExportError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        # mvhd/mdhd creation_time: the wall-clock time of the clip's first frame (docs/evidence.md)
        stamp = iso_ms(first_pts // 90)[:-1] + "000Z"  # microseconds, as FFmpeg writes it
        out.metadata["creation_time"] = stamp
        self.stream = out.add_stream_from_template(self.template)
        self.stream.time_base = TB
        self.stream.metadata["creation_time"] = stamp
        self.out = out

    def close(self) -> None:
        out, self.out = self.out, None
        if out is not None:
            out.close()

    def abandon(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - the partial file is removed by the caller anyway
            log.debug("closing an abandoned export", exc_info=True)


class _Reporter:
    """Calls ``progress(fraction)`` as the export moves through the range, at most every 0.5 %; 1.0 when the
    clip is written."""

    def __init__(self, progress: Progress | None, start_ms: int, end_ms: int) -> None:
        self.progress, self.start_ms, self.span = progress, start_ms, max(1, end_ms - start_ms)
        self.last = -1.0

    def __call__(self, at_ms: float) -> None:
        if self.progress is None:
            return
        f = min(0.99, max(0.0, (at_ms - self.start_ms) / self.span))  # 1.0 once the clip is complete
        if f - self.last >= 0.005:
            self.last = f
            self.progress(f)

    def finish(self) -> None:
        if self.progress is not None and self.last < 1.0:
            self.last = 1.0
            self.progress(1.0)
