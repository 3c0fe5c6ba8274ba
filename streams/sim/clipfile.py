"""The simulator's clip file format, shared by the encoder (venv) and server.py (system python3).

Standard library only: server.py imports it as a sibling module (its folder is first on sys.path).
A clip file is ``MAGIC`` then one record per access unit: 4-byte big-endian length, 1 flag byte
(1 = keyframe), then the Annex B bytes.
"""

from __future__ import annotations

import struct

MAGIC = b"KTAU1\n"
RECORD = struct.Struct(">IB")


def pack_units(units: list[tuple[bytes, bool]]) -> bytes:
    parts = [MAGIC]
    for data, key in units:
        parts.append(RECORD.pack(len(data), 1 if key else 0))
        parts.append(data)
    return b"".join(parts)


def unpack_units(data: bytes, name: str) -> list[tuple[bytes, bool]]:
    """The (access unit, is_keyframe) records of a clip file's bytes; ValueError naming ``name`` if not one."""
    if not data.startswith(MAGIC):
        raise ValueError(f"{name} is not a simulator clip")
    units, pos = [], len(MAGIC)
    while pos < len(data):
        if pos + RECORD.size > len(data):
            raise ValueError(f"{name} is truncated at byte {pos}")
        n, flags = RECORD.unpack_from(data, pos)
        pos += RECORD.size
        if pos + n > len(data):
            raise ValueError(f"{name} is truncated at byte {pos}")
        units.append((data[pos : pos + n], bool(flags & 1)))
        pos += n
    return units
