"""Real H.264 recorded by the real recorder into a store, for the evidence tests: a generated 20 s source clip,
and minutes of recording made in a second by feeding its packets again and again with synthetic,
ever-increasing timestamps (and arrival times that follow them) through ``SegmentRecorder``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from cctv.store import Store
from cctv.store.segments import add_segment
from streams.recording.segment_writer import SegmentRecorder
from tests.helpers.clips import textured, write_clip

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
CAMERA = "kota-baru/paal-lima/rt-07/cam-1"
LOOP_S = 20


@dataclass(frozen=True, slots=True)
class Sent:
    wall_ms: int
    keyframe: bool
    data: bytes


def source_clip(path: Path) -> Path:
    """20 s of 640x360 10 fps H.264 (GOP 2 s): a textured scene with a block moving across it."""
    if not path.exists():
        bg = textured(3)

        def frame(i: int) -> np.ndarray:
            y = bg.copy()
            x0 = (i * 7) % (640 - 60)
            y[150 + (i % 40) : 190 + (i % 40), x0 : x0 + 60] = 230
            return y

        write_clip(path, LOOP_S, frame)
    return path


def record(
    store: Store,
    root: Path,
    clip: Path,
    seconds: int,
    *,
    camera: str = CAMERA,
    t0_ms: int = T0,
    offline: tuple[int, int] | None = None,
    segment_s: float = 60,
) -> list[Sent]:
    """Record ``seconds`` of ``clip`` looped, from ``t0_ms``; ``offline`` = (from_s, to_s) the camera is down.
    Returns every packet the camera sent, with its wall-clock time."""
    rec = SegmentRecorder(
        camera, root, lambda seg: store.submit_write(add_segment, store, seg), segment_s=segment_s
    )
    sent: list[Sent] = []
    down = False
    for p, stream, wall in _looped(clip, seconds, t0_ms):
        if offline and offline[0] * 1000 <= wall - t0_ms < offline[1] * 1000:
            if not down:
                rec.close()  # the session ends; a new one starts when packets flow again
                down = True
            continue
        down = False
        sent.append(Sent(wall, p.is_keyframe, bytes(p)))
        rec.on_packet(p, stream, wall)
    rec.close()
    store.submit_write(lambda: None).result(30)  # every row queued before it is in
    return sent


def _looped(clip: Path, seconds: int, t0_ms: int) -> Iterator[tuple[av.Packet, object, int]]:
    loops = -(-seconds // LOOP_S)
    for n in range(loops):
        with av.open(str(clip)) as c:
            s = c.streams.video[0]
            period = round(LOOP_S / s.time_base)
            for p in c.demux(s):
                if p.size == 0:
                    continue
                p.pts += n * period
                p.dts += n * period
                wall = t0_ms + round(float(p.pts * s.time_base) * 1000)
                if wall - t0_ms >= seconds * 1000:
                    return
                yield p, s, wall
