"""RTP payloads (RFC 6184 H.264, RFC 7798 H.265) → access units in Annex B form.

An access unit ends at the RTP marker bit, or when the timestamp changes without one. A lost packet
(sequence gap) spoils the access unit it falls in: that unit is dropped and counted, never passed on half.
Keyframes (H.264 IDR, H.265 IRAP) get the latest parameter sets in front when the camera did not repeat them
in-band, so every keyframe decodes — and every recorded segment plays — on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

START = b"\x00\x00\x00\x01"


class DepacketizeError(ValueError):
    pass


@dataclass(slots=True)
class AccessUnit:
    data: bytes  # Annex B
    rtp_timestamp: int
    keyframe: bool


def rtp_header(packet: bytes) -> tuple[int, int, int, bool, bytes]:
    """(payload type, sequence number, timestamp, marker, payload) of one RTP packet."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        raise DepacketizeError("not an RTP version 2 packet")
    cc = packet[0] & 0x0F
    offset = 12 + 4 * cc
    if packet[0] & 0x10:  # header extension
        if len(packet) < offset + 4:
            raise DepacketizeError("truncated RTP header extension")
        offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
    end = len(packet)
    if packet[0] & 0x20:  # padding
        end -= packet[-1]
    if offset > end:
        raise DepacketizeError("RTP header longer than the packet")
    return (packet[1] & 0x7F, int.from_bytes(packet[2:4], "big"), int.from_bytes(packet[4:8], "big"),
            bool(packet[1] & 0x80), packet[offset:end])


class Depacketizer:
    """Feed RTP packets with ``push``; complete access units come out of ``push``'s return list."""

    def __init__(self, codec: str, parameter_sets: list[bytes] | None = None) -> None:
        if codec not in ("h264", "hevc"):
            raise DepacketizeError(f"codec {codec!r} is not supported by the RTSP client")
        self.hevc = codec == "hevc"
        self._nals: list[bytes] = []
        self._fu: bytearray | None = None
        self._ts: int | None = None
        self._seq: int | None = None
        self._damaged = False
        self._params: dict[int, bytes] = {}
        for ps in parameter_sets or []:
            if ps:
                self._note_param(ps)
        self.lost_packets = 0
        self.dropped_units = 0
        self.unsupported = 0

    @property
    def sps(self) -> bytes | None:
        """The latest H.264 sequence parameter set (None for H.265 or before one was seen)."""
        return None if self.hevc else self._params.get(7)

    @property
    def parameter_sets(self) -> list[bytes]:
        return [self._params[k] for k in sorted(self._params)]

    def push(self, packet: bytes) -> list[AccessUnit]:
        _pt, seq, ts, marker, payload = rtp_header(packet)
        out: list[AccessUnit] = []
        if self._seq is not None and seq != (self._seq + 1) & 0xFFFF:
            self.lost_packets += (seq - self._seq - 1) & 0xFFFF
            self._damaged = True
            self._fu = None
        self._seq = seq
        if self._ts is not None and ts != self._ts and (self._nals or self._fu is not None):
            self._flush(out)  # the camera did not set the marker bit
        self._ts = ts
        if payload:
            if self.hevc:
                self._h265(payload)
            else:
                self._h264(payload)
        if marker:
            self._flush(out)
        return out

    # -- H.264 -------------------------------------------------------------------------------------

    def _h264(self, p: bytes) -> None:
        t = p[0] & 0x1F
        if 1 <= t <= 23:
            self._nals.append(p)
        elif t == 24:  # STAP-A
            self._aggregate(p, 1)
        elif t == 28:  # FU-A
            if len(p) < 2:
                self._damaged = True
                return
            start, end = p[1] & 0x80, p[1] & 0x40
            if start:
                self._fu = bytearray(bytes([(p[0] & 0xE0) | (p[1] & 0x1F)]))
            if self._fu is None:
                self._damaged = True  # the start was lost
                return
            self._fu += p[2:]
            if end:
                self._nals.append(bytes(self._fu))
                self._fu = None
        else:
            self.unsupported += 1
            self._damaged = True

    # -- H.265 -------------------------------------------------------------------------------------

    def _h265(self, p: bytes) -> None:
        if len(p) < 3:
            self._damaged = True
            return
        t = (p[0] >> 1) & 0x3F
        if t < 48:
            self._nals.append(p)
        elif t == 48:  # aggregation packet
            self._aggregate(p, 2)
        elif t == 49:  # fragmentation unit
            start, end, ft = p[2] & 0x80, p[2] & 0x40, p[2] & 0x3F
            if start:
                self._fu = bytearray(bytes([(p[0] & 0x81) | (ft << 1), p[1]]))
            if self._fu is None:
                self._damaged = True
                return
            self._fu += p[3:]
            if end:
                self._nals.append(bytes(self._fu))
                self._fu = None
        else:
            self.unsupported += 1
            self._damaged = True

    def _aggregate(self, p: bytes, header: int) -> None:
        i = header
        while i + 2 <= len(p):
            n = int.from_bytes(p[i : i + 2], "big")
            i += 2
            if n == 0 or i + n > len(p):
                self._damaged = True
                return
            self._nals.append(p[i : i + n])
            i += n

    # -- access units ------------------------------------------------------------------------------

    def _type(self, nal: bytes) -> int:
        return (nal[0] >> 1) & 0x3F if self.hevc else nal[0] & 0x1F

    def _note_param(self, nal: bytes) -> None:
        t = self._type(nal)
        if (self.hevc and t in (32, 33, 34)) or (not self.hevc and t in (7, 8)):
            self._params[t] = nal

    def _flush(self, out: list[AccessUnit]) -> None:
        nals, self._nals = self._nals, []
        self._fu = None
        damaged, self._damaged = self._damaged, False
        if damaged:  # part of this access unit was lost: never pass on half a picture
            self.dropped_units += 1
            return
        if not nals:
            return
        types = set()
        for nal in nals:
            types.add(self._type(nal))
            self._note_param(nal)
        key = bool(types & set(range(16, 22))) if self.hevc else 5 in types
        if key:
            have = types & ({32, 33, 34} if self.hevc else {7, 8})
            missing = [v for k, v in sorted(self._params.items()) if k not in have]
            nals = missing + nals
        out.append(AccessUnit(START + START.join(nals), self._ts or 0, key))
