"""Recording and export: CPU of stream-copy recording per camera, export speed against re-encoding.

1. Encodes one minute of the simulator's street scene (640x360, 10 fps, GOP 20, ~350 kbit/s, the simulator's
   own encoder settings) and feeds its access units, looped with synthetic ever-increasing timestamps (and
   arrival times that follow them), through the real ``streams.recording.segment_writer.SegmentRecorder`` into 60 s MPEG-TS
   segments indexed in a real SQLite store, the disk work on a ``SegmentWriterThread`` as in an ingest process
   (fed no faster than it writes, so nothing is dropped). An hour of recording takes seconds, not an hour.
   Recording CPU is the process CPU time of that run (all threads) minus the same loop making the same packets
   without recording, per second of video: the share of one core one recorded camera costs. Of it, the part on
   the caller's thread (the ingest loop, in a shard) is shown apart.
2. Exports the whole range as one MP4 with ``cctv.evidence.export.export_clip`` (stream copy, hashes checked):
   seconds and multiple of real time.
3. Re-encodes the same range with PyAV/libx264 (decode every frame, encode with the simulator's settings, mux to
   MP4): seconds and multiple of real time.

Prints a table; the last line is JSON: record_cpu_pct_per_camera, export_x_realtime, reencode_x_realtime and
ratio (export over re-encode). Targets: recording <= 0.2 % of a core per camera, export >= 500x real time.

    .venv/bin/python bench/recording.py            # one hour (~2 minutes, most of it the re-encode)
    .venv/bin/python bench/recording.py --quick    # ten minutes (~30 s)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402

from cctv.evidence.export import covering_segments, export_clip  # noqa: E402
from cctv.store import Store  # noqa: E402
from cctv.store.segments import add_segment  # noqa: E402
from streams.recording.segment_writer import SegmentRecorder  # noqa: E402
from streams.recording.writer_thread import SegmentWriterThread  # noqa: E402
from streams.sim import scenes  # noqa: E402
from streams.sim.encode import BIT_RATE, X264_PARAMS, encode_frames  # noqa: E402

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
CAMERA = "bench/kel/rt-01/cam-1"
LOOP_S = 60


def source(tmp: Path) -> tuple[list[tuple[bytes, bool]], av.container.InputContainer]:
    """One minute of encoded access units, and a container whose stream is the packets' template."""
    pic = scenes.Picture("street", 1, False, LOOP_S * scenes.FPS)
    units = encode_frames(pic.frames("normal"), threads=2)
    raw = tmp / "source.h264"
    raw.write_bytes(b"".join(data for data, _ in units))
    return units, av.open(str(raw), format="h264")


def packets(units: list[tuple[bytes, bool]], tb: Fraction, seconds: int) -> Iterator[tuple[av.Packet, int]]:
    """(packet, arrival ms) as a camera would send them, looping ``units`` for ``seconds``."""
    step = round(Fraction(1, scenes.FPS) / tb)
    for i in range(seconds * scenes.FPS):
        data, key = units[i % len(units)]
        p = av.Packet(data)
        p.pts = p.dts = i * step
        p.duration = step
        p.time_base = tb
        p.is_keyframe = key
        yield p, T0 + i * 1000 // scenes.FPS


def measure_recording(units, template, root: Path, store: Store, seconds: int) -> dict:  # type: ignore[no-untyped-def]
    stream = template.streams.video[0]
    tb = stream.time_base
    t, c = time.process_time(), time.thread_time()
    n = sum(1 for _ in packets(units, tb, seconds))
    baseline, caller_baseline = time.process_time() - t, time.thread_time() - c

    writer = SegmentWriterThread()
    writer.start()
    rec = SegmentRecorder(CAMERA, root, lambda seg: store.submit_write(add_segment, store, seg), segment_s=60,
                          writer=writer)
    w, t, c = time.perf_counter(), time.process_time(), time.thread_time()
    for p, arrival in packets(units, tb, seconds):
        rec.on_packet(p, stream, arrival)
        while writer.queued_packets > writer.max_packets // 2:  # faster than real time: let the disk keep up
            time.sleep(0.001)
    rec.close()
    caller = time.thread_time() - c
    writer.close()
    store.submit_write(lambda: None).result(600)  # rows written (on the store's thread) are part of the cost
    total = time.process_time() - t
    wall = time.perf_counter() - w
    cpu = max(0.0, total - baseline)
    caller_cpu = max(0.0, caller - caller_baseline)
    assert rec.stats.dropped_packets == 0 and rec.stats.errors == 0, rec.stats
    return {
        "packets": n,
        "segments": rec.stats.segments,
        "cpu_s": cpu,
        "wall_s": wall,
        "pct_per_camera": 100 * cpu / seconds,
        "caller_cpu_s": caller_cpu,
        "caller_pct_per_camera": 100 * caller_cpu / seconds,
        "bytes": sum(p.stat().st_size for p in root.rglob("*.ts")),
    }


def measure_export(store: Store, root: Path, out: Path, seconds: int) -> dict:
    t = time.perf_counter()
    r = export_clip(store, root, CAMERA, T0, T0 + seconds * 1000, out)
    secs = time.perf_counter() - t
    return {"seconds": secs, "x_realtime": seconds / secs, "bytes": r.size_bytes, "packets": r.packets}


def measure_reencode(store: Store, root: Path, out: Path, seconds: int) -> dict:
    """Decode every frame of the range and encode it again with libx264 (the simulator's settings)."""
    t = time.perf_counter()
    frames = 0
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
        enc = dst.add_stream("libx264", rate=scenes.FPS)
        enc.width, enc.height, enc.pix_fmt = scenes.WIDTH, scenes.HEIGHT, "yuv420p"
        enc.bit_rate = BIT_RATE
        enc.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": X264_PARAMS,
        }
        for seg in covering_segments(store, CAMERA, T0, T0 + seconds * 1000):
            with av.open(str(root / seg.path)) as src:
                for frame in src.decode(src.streams.video[0]):
                    frame.pts, frame.time_base = frames, Fraction(1, scenes.FPS)
                    frame.pict_type = av.video.frame.PictureType.NONE
                    dst.mux(enc.encode(frame))
                    frames += 1
        dst.mux(enc.encode(None))
    secs = time.perf_counter() - t
    return {"seconds": secs, "x_realtime": seconds / secs, "frames": frames, "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="ten minutes of video instead of an hour")
    ap.add_argument("--minutes", type=int, default=None, help="minutes of video to record and export")
    args = ap.parse_args(argv)
    minutes = args.minutes or (10 if args.quick else 60)
    seconds = minutes * 60
    with tempfile.TemporaryDirectory(prefix="cctv-bench-rec-") as d:
        tmp = Path(d)
        store = Store(f"sqlite:///{tmp / 'cctv.sqlite3'}")
        store.migrate()
        try:
            units, template = source(tmp)
            with template:
                rec = measure_recording(units, template, tmp / "recordings", store, seconds)
            (tmp / "out").mkdir()
            exp = measure_export(store, tmp / "recordings", tmp / "out", seconds)
            ree = measure_reencode(store, tmp / "recordings", tmp / "reencoded.mp4", seconds)
        finally:
            store.close()
    kbit = rec["bytes"] * 8 / seconds / 1000
    print(
        f"one camera, {scenes.WIDTH}x{scenes.HEIGHT} {scenes.FPS} fps, {minutes} min of video "
        f"({rec['packets']} packets, {rec['segments']} segments, {kbit:.0f} kbit/s)"
    )
    print(f"{'what':<34} {'seconds':>9} {'x real time':>12} {'CPU % of a core':>16}")
    print(
        f"{'record (stream copy, per camera)':<34} {rec['cpu_s']:>9.2f} {seconds / rec['wall_s']:>12.0f} "
        f"{rec['pct_per_camera']:>16.4f}"
    )
    print(
        f"{'  of which on the caller (loop)':<34} {rec['caller_cpu_s']:>9.2f} {'':>12} "
        f"{rec['caller_pct_per_camera']:>16.4f}"
    )
    print(
        f"{'export (stream copy to one MP4)':<34} {exp['seconds']:>9.2f} {exp['x_realtime']:>12.0f} {'':>16}"
    )
    print(
        f"{'re-encode (PyAV/libx264 veryfast)':<34} {ree['seconds']:>9.2f} {ree['x_realtime']:>12.1f} {'':>16}"
    )
    print("targets: recording <= 0.2 % of a core per camera; export >= 500x real time")
    print(
        json.dumps(
            {
                "record_cpu_pct_per_camera": round(rec["pct_per_camera"], 4),
                "record_loop_cpu_pct_per_camera": round(rec["caller_pct_per_camera"], 4),
                "export_x_realtime": round(exp["x_realtime"], 1),
                "reencode_x_realtime": round(ree["x_realtime"], 2),
                "ratio": round(exp["x_realtime"] / ree["x_realtime"], 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
