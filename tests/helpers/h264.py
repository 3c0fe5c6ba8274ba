"""H.264 access units as NAL units, to compare what was recorded with what the camera sent.

Containers frame the same NAL units differently (MP4: 4-byte lengths; MPEG-TS and RTSP: Annex B start codes)
and the TS muxer adds access unit delimiters and repeats SPS/PPS in-band before each IDR. The coded pictures
are the VCL NAL units (types 1-5): compare those.
"""

from __future__ import annotations

import re

_START = re.compile(b"\x00\x00\x01")


def nal_units(data: bytes) -> list[bytes]:
    if data[:3] == b"\x00\x00\x01" or data[:4] == b"\x00\x00\x00\x01":
        units = [u.rstrip(b"\x00") for u in _START.split(data) if u.strip(b"\x00")]
    else:  # length-prefixed (AVCC)
        units, pos = [], 0
        while pos + 4 <= len(data):
            n = int.from_bytes(data[pos : pos + 4], "big")
            units.append(data[pos + 4 : pos + 4 + n])
            pos += 4 + n
    return [u for u in units if u]


def picture_nals(data: bytes) -> list[bytes]:
    """The coded slices of one access unit (NAL types 1-5), without delimiters, SEI or parameter sets."""
    return [u for u in nal_units(data) if 1 <= (u[0] & 0x1F) <= 5]


def same_pictures(a: list[bytes], b: list[bytes]) -> bool:
    return len(a) == len(b) and all(picture_nals(x) == picture_nals(y) for x, y in zip(a, b, strict=True))
