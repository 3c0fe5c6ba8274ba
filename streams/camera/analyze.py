"""`cctv analyze VIDEO`: the production checks over a file or RTSP URL, as JSON lines or a short table.

Runs exactly what a camera's worker runs: the same opener classes, the same decode mode (``ingest.decode`` or
the camera's override; keyframes by default), the same ``Analyzer`` with the same ``CheckParams`` (from
``--config``, for ``--camera`` if given). Sample times are stream seconds from the first analysed frame. In
``sampled`` mode the sampling uses stream time (a file is read faster than real time) and every keyframe is
analysed too, marked as one (``Analyzer.analyse(..., key)``: the frozen check compares keyframes only).

JSON lines (``--json``):
  {"type": "sample", "t": S, "motion_score": X, "motion": B, "health": {...}, "flags": [...]}
  {"type": "event", "kind": K, "start": S, "end": S_or_null, "peak": X}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import av

from cctv.analysis.analyzer import Analyzer, CheckParams
from cctv.analysis.events import Event, EventTracker
from cctv.config.models import Status
from cctv.status.messages import Reason
from streams.camera.opener import FileOpener, OpenError, OpenParams, PyAVRtspOpener
from streams.camera.pipeline import y_plane

EVENT_KINDS = ("black", "dark", "covered", "blurred", "frozen", "moved", "low_fps")
MOTION_HOLD_S = Status().motion_hold_s  # the monitor's rule: a motion event ends this long after its last sample


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="run the motion and health checks over a video file or RTSP URL")
    p.add_argument("video", metavar="VIDEO", help="a video file or rtsp:// URL")
    p.add_argument("--config", help="config.yaml whose checks (and camera settings) to use")
    p.add_argument("--camera", help="camera path in the config (its masks, expected fps, decode mode)")
    p.add_argument("--json", action="store_true", help="JSON lines: one per sample and one per event")
    p.add_argument("--decode", choices=["keyframes", "sampled"], help="override the decode mode")
    p.set_defaults(func=cmd_analyze)


def cmd_analyze(args: argparse.Namespace) -> int:
    params, decode, sample_fps, hold_s = _settings(args)
    out = sys.stdout
    try:
        run_analysis(args.video, params, decode, sample_fps, lambda rec: _print(rec, args.json, out), hold_s)
    except OpenError as exc:
        print(f"cctv analyze: cannot read {_safe(args.video)}: {exc}", file=sys.stderr)
        return 2
    except (av.error.FFmpegError, ValueError) as exc:
        print(f"cctv analyze: cannot read {_safe(args.video)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


def _settings(args: argparse.Namespace) -> tuple[CheckParams, str, float, float]:
    if not args.config:
        return CheckParams(), args.decode or "keyframes", 2.0, MOTION_HOLD_S
    from cctv.config.cli import load_or_exit
    from streams.camera.params import check_params, config_cameras

    config = load_or_exit(args.config)
    cam = None
    if args.camera:
        cam = config_cameras(config).get(args.camera.strip("/"))
        if cam is None:
            print(f"cctv analyze: no camera {args.camera!r} in {args.config}", file=sys.stderr)
            raise SystemExit(2)
    decode = args.decode or (cam.decode if cam is not None and cam.decode else config.ingest.decode)
    if decode == "off":
        decode = "keyframes"
    return check_params(config, cam), decode, config.ingest.sample_fps, config.status.motion_hold_s


def run_analysis(video: str, params: CheckParams, decode: str, sample_fps: float, emit,
                 motion_hold_s: float = MOTION_HOLD_S) -> list[Event]:
    """Analyse ``video``; ``emit(record)`` gets every sample and event record. Returns the events."""
    is_url = "://" in video
    if not is_url and not Path(video).is_file():
        raise OpenError(Reason.NOT_FOUND, "no such file")
    opener = PyAVRtspOpener() if is_url else FileOpener()
    container = opener.open(video, OpenParams())
    analyzer = Analyzer("analyze", params)
    trackers = {k: EventTracker(k, 0.0) for k in EVENT_KINDS}
    trackers["motion"] = EventTracker("motion", motion_hold_s)
    events: list[Event] = []
    t0: float | None = None
    last_sample: float | None = None

    def feed(frame: av.VideoFrame) -> None:
        nonlocal t0, last_sample
        t = float(frame.time) if frame.time is not None else 0.0
        key = decode == "keyframes" or bool(frame.key_frame)
        # sampled: every keyframe (the frozen check compares keyframes only), and frames 1/sample_fps apart
        if not key and last_sample is not None and t - last_sample < 1.0 / sample_fps:
            return
        last_sample = t
        t0 = t if t0 is None else t0
        s = analyzer.analyse(y_plane(frame), t, 0, key)
        rel = round(t - t0, 3)
        emit(
            {
                "type": "sample",
                "t": rel,
                "motion_score": s.motion_score,
                "motion": s.motion,
                "health": analyzer.health,
                "flags": sorted(analyzer.conditions),
            }
        )
        for kind, tr in trackers.items():
            active = s.motion if kind == "motion" else kind in analyzer.conditions
            for ev in tr.update(rel, active, s.motion_score if kind == "motion" else 0.0):
                if ev.end is not None:
                    events.append(ev)
                    emit(_event(ev))

    try:
        video_stream = next((s for s in container.streams if s.type == "video"), None)
        if video_stream is None:
            raise OpenError(Reason.DECODE, "no video stream")
        cc = video_stream.codec_context
        cc.thread_type = "NONE"
        cc.thread_count = 1
        tb = video_stream.time_base
        for packet in container.demux(video_stream):
            if packet.size == 0:
                continue
            if packet.pts is not None and tb:
                analyzer.note_packet(float(packet.pts * tb))
            if decode == "keyframes" and not packet.is_keyframe:
                continue
            try:
                frames = cc.decode(packet)
            except av.error.InvalidDataError:
                continue
            for frame in frames:
                feed(frame)
        if t0 is None:
            raise ValueError("no decodable video frame")
    finally:
        container.close()
    for tr in trackers.values():
        ev = tr.current
        if ev is not None:
            events.append(ev)
            emit(_event(ev))  # still open at the end of the input: end null
    return events


def _event(ev: Event) -> dict[str, Any]:
    rec: dict[str, Any] = {"type": "event", "kind": ev.kind, "start": ev.start, "end": ev.end}
    if ev.kind == "motion":
        rec["peak"] = round(ev.peak, 3)
    return rec


def _print(rec: dict[str, Any], as_json: bool, out) -> None:
    if as_json:
        out.write(json.dumps(rec) + "\n")
    elif rec["type"] == "event":
        end = "open" if rec["end"] is None else f"{rec['end']:7.1f}"
        out.write(f"event  {rec['kind']:<8} {rec['start']:7.1f} → {end}\n")
    else:
        h = rec["health"]
        out.write(
            f"{rec['t']:7.1f}s motion {rec['motion_score']:6.2f}{'*' if rec['motion'] else ' '} "
            f"luma {h['luma']:6.1f} sharp {h['sharpness_ratio']} view {h['view_corr']} "
            f"{','.join(rec['flags'])}\n"
        )


def _safe(video: str) -> str:
    from cctv.redact import redact_url

    return redact_url(video) if "://" in video else video
