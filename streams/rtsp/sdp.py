"""The part of SDP (RFC 8866) a camera client needs: the video track, its codec and parameter sets."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import urljoin


class SdpError(ValueError):
    pass


@dataclass(slots=True)
class VideoTrack:
    control: str  # absolute URL to SETUP
    payload_type: int
    codec: str  # "h264" | "hevc" | other encoding name, lower case
    clock_rate: int
    fmtp: dict[str, str] = field(default_factory=dict)
    parameter_sets: list[bytes] = field(default_factory=list)  # NAL units (no start codes) from fmtp


def parse_sdp(text: str, base_url: str) -> VideoTrack:
    """The first video track of ``text``; ``base_url`` is the Content-Base (or request URL)."""
    session_control = ""
    media: list[dict[str, object]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            parts = value.split()
            if len(parts) < 4:
                raise SdpError(f"malformed media line: {line!r}")
            media.append({"type": parts[0], "fmts": parts[3:], "attrs": []})
        elif kind == "a":
            if media:
                media[-1]["attrs"].append(value)  # type: ignore[union-attr]
            elif value.startswith("control:"):
                session_control = value[len("control:") :]
    video = next((m for m in media if m["type"] == "video"), None)
    if video is None:
        raise SdpError("no video track in the session description")
    fmts = video["fmts"]
    try:
        pt = int(fmts[0])  # type: ignore[index]
    except (ValueError, IndexError):
        raise SdpError("video track without a payload type") from None
    codec, clock, control, fmtp = "", 90000, "", {}
    for attr in video["attrs"]:  # type: ignore[union-attr]
        if attr.startswith("rtpmap:"):
            head, _, enc = attr[len("rtpmap:") :].partition(" ")
            if head.strip() == str(pt):
                name, _, rest = enc.partition("/")
                codec = _codec_name(name)
                clock = int(rest.split("/")[0]) if rest.split("/")[0].isdigit() else 90000
        elif attr.startswith("fmtp:"):
            head, _, params = attr[len("fmtp:") :].partition(" ")
            if head.strip() == str(pt):
                for kv in params.split(";"):
                    k, _, v = kv.strip().partition("=")
                    if k:
                        fmtp[k.strip().lower()] = v.strip()
        elif attr.startswith("control:"):
            control = attr[len("control:") :]
    if not codec:
        codec = {26: "mjpeg", 32: "mpeg2video"}.get(pt, "")
    base = session_control if session_control and session_control != "*" else base_url
    if not base.endswith("/"):
        base += "/"
    if control in ("", "*"):
        url = base.rstrip("/")
    elif "://" in control:
        url = control
    else:
        url = urljoin(base, control)
    return VideoTrack(url, pt, codec, clock, fmtp, _parameter_sets(codec, fmtp))


def _codec_name(encoding: str) -> str:
    e = encoding.strip().upper()
    return {"H264": "h264", "H265": "hevc", "HEVC": "hevc"}.get(e, e.lower())


def _parameter_sets(codec: str, fmtp: dict[str, str]) -> list[bytes]:
    keys = ["sprop-parameter-sets"] if codec == "h264" else ["sprop-vps", "sprop-sps", "sprop-pps"]
    out: list[bytes] = []
    for key in keys:
        for item in fmtp.get(key, "").split(","):
            if item:
                try:
                    out.append(base64.b64decode(item + "=" * (-len(item) % 4)))
                except (binascii.Error, ValueError):
                    continue  # a bad sprop is ignored: cameras repeat parameter sets in-band
    return out
