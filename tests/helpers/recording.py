"""Feeding the segment recorder a clip's packets (arrival times that follow their timestamps) and reading back
the packets of a recorded segment."""

from __future__ import annotations

from pathlib import Path

import av

from streams.recording.segment_writer import SegmentRecorder

T0 = 1_767_225_600_000


def feed(rec: SegmentRecorder, clip: Path, t0_ms: int = T0, tamper=None) -> list[bytes]:
    """Play the clip's packets into the recorder with arrival times that follow their timestamps."""
    sent = []
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        for i, p in enumerate(c.demux(s)):
            if p.size == 0:
                continue
            arrival = t0_ms + round(float(p.pts * s.time_base) * 1000) + 7  # a little network delay
            if tamper:
                tamper(i, p)
            sent.append(bytes(p))
            rec.on_packet(p, s, arrival)
    rec.close()
    return sent


def read_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
