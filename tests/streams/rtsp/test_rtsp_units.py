"""The native RTSP client's pure parts: RTP depacketizing (H.264, H.265), SDP, digest auth, interleaved framing."""

from __future__ import annotations

import asyncio
import base64
import struct

import pytest

from streams.rtsp.auth import Credentials, authorization, choose_challenge
from streams.rtsp.connection import MAX_GARBAGE, ProtocolViolation, RtspConnection
from streams.rtsp.depacketize import DepacketizeError, Depacketizer, rtp_header
from streams.rtsp.sdp import SdpError, parse_sdp

SPS = bytes([0x67, 0x42, 0xC0, 0x16, 0xDA, 0x02, 0x80, 0xBF])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes(range(200))
P = bytes([0x41]) + bytes(range(50))


def rtp(seq: int, ts: int, payload: bytes, marker: bool = False, pt: int = 96) -> bytes:
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, 1234) + payload


def stap_a(*nals: bytes) -> bytes:
    return bytes([24]) + b"".join(struct.pack(">H", len(n)) + n for n in nals)


def fu_a(nal: bytes, pieces: int) -> list[bytes]:
    body, ind = nal[1:], (nal[0] & 0xE0) | 28
    step = -(-len(body) // pieces)
    out = []
    for i in range(pieces):
        hdr = (0x80 if i == 0 else 0) | (0x40 if i == pieces - 1 else 0) | (nal[0] & 0x1F)
        out.append(bytes([ind, hdr]) + body[i * step : (i + 1) * step])
    return out


def annexb(*nals: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


def test_stap_a_and_fu_a_make_one_keyframe_access_unit():
    d = Depacketizer("h264")
    frags = fu_a(IDR, 3)
    units = d.push(rtp(1, 9000, stap_a(SPS, PPS)))
    units += d.push(rtp(2, 9000, frags[0]))
    units += d.push(rtp(3, 9000, frags[1]))
    units += d.push(rtp(4, 9000, frags[2], marker=True))
    assert len(units) == 1
    assert units[0].keyframe and units[0].rtp_timestamp == 9000
    assert units[0].data == annexb(SPS, PPS, IDR)
    (p,) = d.push(rtp(5, 18000, P, marker=True))
    assert not p.keyframe and p.data == annexb(P)


def test_keyframe_without_in_band_parameter_sets_gets_those_from_the_sdp():
    d = Depacketizer("h264", [SPS, PPS])
    (u,) = d.push(rtp(1, 0, IDR, marker=True))
    assert u.keyframe and u.data == annexb(SPS, PPS, IDR)


def test_a_lost_packet_drops_only_the_access_unit_it_falls_in():
    d = Depacketizer("h264", [SPS, PPS])
    frags = fu_a(IDR, 3)
    assert d.push(rtp(10, 0, frags[0])) == []
    assert d.push(rtp(12, 0, frags[2], marker=True)) == []  # 11 lost
    assert d.lost_packets == 1 and d.dropped_units == 1
    (p,) = d.push(rtp(13, 9000, P, marker=True))
    assert p.data == annexb(P)


def test_timestamp_change_without_marker_ends_the_access_unit():
    d = Depacketizer("h264")
    assert d.push(rtp(1, 0, P)) == []
    (first,) = d.push(rtp(2, 3000, P))
    assert first.rtp_timestamp == 0 and first.data == annexb(P)


def test_sequence_numbers_wrap_without_counting_a_loss():
    d = Depacketizer("h264")
    d.push(rtp(0xFFFF, 0, P, marker=True))
    d.push(rtp(0, 3000, P, marker=True))
    assert d.lost_packets == 0


def test_hevc_fragmentation_unit_and_irap_keyframe():
    vps, sps, pps = bytes([0x40, 0x01, 1, 2]), bytes([0x42, 0x01, 3, 4]), bytes([0x44, 0x01, 5, 6])
    idr = bytes([0x26, 0x01]) + bytes(range(100))  # type 19 (IDR_W_RADL)
    d = Depacketizer("hevc", [vps, sps, pps])
    body = idr[2:]
    fu_hdr = bytes([(49 << 1), 0x01])
    a = fu_hdr + bytes([0x80 | 19]) + body[:50]
    b = fu_hdr + bytes([0x40 | 19]) + body[50:]
    assert d.push(rtp(1, 0, a)) == []
    (u,) = d.push(rtp(2, 0, b, marker=True))
    assert u.keyframe and u.data == annexb(vps, sps, pps, idr)


def test_unsupported_codec_and_bad_rtp_are_refused():
    with pytest.raises(DepacketizeError):
        Depacketizer("mjpeg")
    with pytest.raises(DepacketizeError):
        rtp_header(b"\x00" * 8)
    with pytest.raises(DepacketizeError):
        rtp_header(bytes([0x40]) + b"\x00" * 20)  # version 1


SDP = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=Session
t=0 0
a=control:*
m=audio 0 RTP/AVP 0
a=control:stream=1
m=video 0 RTP/AVP 96
a=rtpmap:96 H264/90000
a=fmtp:96 packetization-mode=1;sprop-parameter-sets={sps},{pps};profile-level-id=42c016
a=control:stream=0
"""


def test_sdp_video_track_with_relative_control_and_parameter_sets():
    text = SDP.format(sps=base64.b64encode(SPS).decode(), pps=base64.b64encode(PPS).decode().rstrip("="))
    t = parse_sdp(text, "rtsp://10.0.0.5:554/live/sub/")
    assert t.codec == "h264" and t.payload_type == 96 and t.clock_rate == 90000
    assert t.control == "rtsp://10.0.0.5:554/live/sub/stream=0"
    assert t.parameter_sets == [SPS, PPS]
    abs_ = parse_sdp(text.replace("a=control:stream=0", "a=control:rtsp://x/y/trackID=1"), "rtsp://a/b")
    assert abs_.control == "rtsp://x/y/trackID=1"


def test_sdp_without_video_is_a_clear_error():
    with pytest.raises(SdpError, match="no video track"):
        parse_sdp("v=0\nm=audio 0 RTP/AVP 0\n", "rtsp://a/b")


def test_digest_response_matches_rfc_2617_example():
    scheme, params = choose_challenge([
        'Basic realm="x"',
        'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    ])
    assert scheme == "digest"
    header = authorization(scheme, params, Credentials("Mufasa", "Circle Of Life"), "GET", "/dir/index.html",
                           nc=1, cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "Circle Of Life" not in header and "Circle" not in repr(Credentials("Mufasa", "Circle Of Life"))


def test_basic_authorization():
    assert authorization("basic", {}, Credentials("a", "b"), "DESCRIBE", "rtsp://x/") == "Basic YTpi"


def _feed(chunks: list[bytes]) -> tuple[list[tuple[int, bytes]], RtspConnection]:
    async def run() -> tuple[list[tuple[int, bytes]], RtspConnection]:
        frames: list[tuple[int, bytes]] = []
        conn = RtspConnection(lambda ch, p: frames.append((ch, p)))
        for c in chunks:
            conn.data_received(c)
        return frames, conn

    return asyncio.run(run())


def test_interleaved_frames_split_across_reads_and_mixed_with_a_response():
    data = b"$\x00\x00\x05hello" + b"RTSP/1.0 200 OK\r\nCSeq: 7\r\nContent-Length: 2\r\n\r\nok" + b"$\x01\x00\x02hi"
    frames, conn = _feed([data[i : i + 3] for i in range(0, len(data), 3)])
    assert frames == [(0, b"hello"), (1, b"hi")]
    assert conn.garbage_bytes == 0 and not conn.closed.done()


def test_garbage_is_skipped_counted_and_finally_drops_the_connection():
    frames, conn = _feed([b"\x01\x02\x03" + b"$\x00\x00\x01x"])
    assert frames == [(0, b"x")] and conn.garbage_bytes == 3
    frames, conn = _feed([b"\x07" * 4096] * (MAX_GARBAGE // 4096 + 2))
    assert conn.closed.done() and isinstance(conn.closed.result(), ProtocolViolation)


def _encoded_sps(width: int, height: int, profile: str) -> bytes:
    import av
    import numpy as np

    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
    cc.time_base = __import__("fractions").Fraction(1, 10)
    cc.options = {"profile": profile, "preset": "ultrafast"}
    frame = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24").reformat(
        format="yuv420p")
    data = b"".join(bytes(p) for p in cc.encode(frame) + cc.encode(None))
    nals = [n for n in data.split(b"\x00\x00\x01") if n]
    return next(n.rstrip(b"\x00") for n in nals if n[0] & 0x1F == 7)


@pytest.mark.parametrize(("w", "h", "profile"), [(640, 360, "baseline"), (1920, 1080, "high"), (704, 576, "main"),
                                                 (352, 240, "high")])
def test_picture_size_from_the_sps_alone(w, h, profile):
    from streams.rtsp.sps import h264_picture_size

    assert h264_picture_size(_encoded_sps(w, h, profile)) == (w, h)
    assert h264_picture_size(b"\x67\x42") is None  # truncated
    assert h264_picture_size(b"\x68\x00") is None  # not an SPS
