"""What crosses the pipe between `cctv run` and its ingest processes.

Frames are a 4-byte big-endian length and a pickle (both ends are this program, started by the parent; the
pipe is never a network socket). Parent → child: one ``ShardSpec``, then an ``Assign`` whenever the process's
share of cameras changes (an ingest node among many takes and gives cameras while running). Child → parent:
lists of messages — ``WorkerEvent``, ``StreamStats``, ``CameraSample``, ``Snapshot`` (the JPEG), ``NewSegment``
(a recorded file to index), ``Released`` (a camera taken away has stopped) and ``ShardHealth`` every few seconds.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 << 20


@dataclass(frozen=True, slots=True)
class ShardSpec:
    index: int
    config: dict[str, Any]  # Config.model_dump(mode="json"): carries camera URLs, so never logged
    cameras: tuple[str, ...]
    recordings_root: str
    log_level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Assign:
    """The cameras the process watches from now on (the whole set): the new ones start, the others stop."""

    cameras: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Released:
    """A camera taken away has stopped: its session is closed and its open segment queued to be finished."""

    camera: str


@dataclass(frozen=True, slots=True)
class ShardHealth:
    index: int
    pid: int
    cameras: int
    receiving: int  # cameras with a packet in the last 5 s
    packets: int
    samples: int
    reconnects: int
    errors: int  # sessions that ended in an error other than a plain disconnect
    auth_breakers_open: int
    dropped: int  # messages dropped by the uplink's bounded channel
    lag_counts: list[int] = field(default_factory=list)
    recording: dict[str, Any] = field(default_factory=dict)
    clients: dict[str, int] = field(default_factory=dict)  # "native" / "ffmpeg" → cameras
    shed: dict[str, Any] = field(default_factory=dict)  # streams/ingest/shed.py: level, skipped work, loop delay


def encode(obj: Any) -> bytes:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def decode_length(header: bytes) -> int:
    (n,) = HEADER.unpack(header)
    if n > MAX_FRAME:
        raise ValueError(f"frame of {n} bytes from an ingest process")
    return n
