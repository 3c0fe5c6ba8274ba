"""The native RTSP client against the real simulator (GStreamer RTSP server) and against broken servers.

Backoff and breaker timing use an injected sleep that records the delays, so nothing here waits for them.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from cctv.analysis.analyzer import CheckParams
from cctv.clock import SystemClock
from cctv.config import load_config
from cctv.status.messages import CameraSample, Reason, StreamStats, WorkerEvent
from streams.camera.backoff import Backoff
from streams.camera.breaker import AuthBreaker
from streams.camera.native import NativeCamera
from streams.camera.pipeline import CameraPipeline, PipelineParams
from streams.ingest.lag import LagHistogram
from streams.rtsp.session import RtspSession, SessionError, SessionParams
from streams.sim import SimulatorProcess
from tests.helpers.city import camera_paths, write_city
from tests.helpers.eventually import aeventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.rtsp]

PATHS = camera_paths(3)
LOCKED = PATHS[1]  # served only with user:password


@pytest.fixture(scope="module")
def sim(tmp_path_factory):  # type: ignore[no-untyped-def]
    if why := gst_rtsp_missing():
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("native-sim")
    cfg = load_config(write_city(tmp, free_port(), free_port(), 3, credentials={LOCKED: "petugas:rahasia-99"}))
    with SimulatorProcess(cfg, tmp / "cache", tmp / "truth.jsonl") as s:
        yield s


class Collector:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.snapshots: list[bytes] = []

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]


def make_camera(url: str, out: Collector, *, sleep=None, breaker=None, backoff=None,  # type: ignore[no-untyped-def]
                stall_s: float = 2.5, decode: str = "keyframes") -> NativeCamera:
    clock = SystemClock()
    pipeline = CameraPipeline(
        "kec/kel/rt/cam", PipelineParams(decode=decode, snapshot_interval_s=0), CheckParams(),
        out.messages.append, lambda c, jpeg, ms: out.snapshots.append(jpeg), clock, None, LagHistogram(),
    )
    kwargs = {"sleep": sleep} if sleep is not None else {}
    return NativeCamera("kec/kel/rt/cam", url, SessionParams(3.0, stall_s), pipeline, out.messages.append, clock,
                        backoff or Backoff(0.2, 1.0), breaker or AuthBreaker(3, 600.0), **kwargs)


def test_keyframes_are_decoded_analysed_and_snapshotted(sim):  # type: ignore[no-untyped-def]
    out = Collector()

    async def main() -> NativeCamera:
        cam = make_camera(sim.url_for(PATHS[0]), out)
        task = asyncio.create_task(cam.run())
        await aeventually(lambda: len(out.of(CameraSample)) >= 3, 30, "three samples")
        cam.stop()
        await asyncio.wait_for(task, 10)
        return cam

    cam = asyncio.run(main())
    assert out.of(WorkerEvent)[0].kind == "connected"
    stats = out.of(StreamStats)[-1]
    assert stats.codec == "h264" and (stats.width, stats.height) == (640, 360)
    assert stats.keyframe_interval_s == pytest.approx(2.0, abs=0.05)  # from packets: GOP 20 at 10 fps
    assert stats.decoded == stats.keyframes  # keyframe mode decodes nothing else
    assert out.snapshots and out.snapshots[0][:2] == b"\xff\xd8"
    assert cam.pipeline.lag is not None and sum(cam.pipeline.lag.counts) >= 3


def test_credentials_open_a_protected_camera_and_a_wrong_password_is_auth(sim):  # type: ignore[no-untyped-def]
    good = sim.url_for(LOCKED)
    assert "rahasia-99" in good

    async def session(url: str) -> str:
        got: list[Any] = []
        s = RtspSession(url, SessionParams(3.0, 2.5), lambda t: None, got.append)
        task = asyncio.create_task(s.play())
        try:
            await aeventually(lambda: bool(got) or task.done(), 15, "a first packet or the session's end")
        finally:
            s.stop()
        try:
            await task
        except SessionError as exc:
            if not got:
                assert "rahasia" not in str(exc) and "petugas" not in str(exc)
                return exc.reason
        return "media"

    assert asyncio.run(session(good)) == "media"
    assert asyncio.run(session(good.replace("rahasia-99", "salah"))) == Reason.AUTH
    assert asyncio.run(session(good.replace("petugas:rahasia-99@", ""))) == Reason.AUTH


def test_auth_failures_open_the_breaker_and_retries_slow_down(sim):  # type: ignore[no-untyped-def]
    out = Collector()
    delays: list[float] = []
    url = sim.url_for(LOCKED).replace("rahasia-99", "salah")

    async def main() -> None:
        async def fake_sleep(s: float) -> None:
            delays.append(s)
            if len(delays) >= 5:
                cam.stop()

        cam = make_camera(url, out, sleep=fake_sleep, breaker=AuthBreaker(3, 900.0))
        await asyncio.wait_for(cam.run(), 60)

    asyncio.run(main())
    events = out.of(WorkerEvent)
    assert [e.reason for e in events] == [Reason.AUTH] * 5
    assert all(d <= 1.0 for d in delays[:2])  # ordinary backoff before the breaker opens
    assert delays[2:] == [900.0, 900.0, 900.0]  # then one try per retry period
    assert "next try in 900 s" in events[2].detail and "salah" not in events[2].detail


def test_backoff_grows_with_jitter_to_its_cap_against_a_refusing_address():
    out = Collector()
    delays: list[float] = []
    port = free_port()  # nothing listens there

    async def main() -> None:
        async def fake_sleep(s: float) -> None:
            delays.append(s)
            if len(delays) >= 6:
                cam.stop()

        cam = make_camera(f"rtsp://127.0.0.1:{port}/x", out, sleep=fake_sleep,
                          backoff=Backoff(1.0, 8.0, random.Random(7)))
        await asyncio.wait_for(cam.run(), 30)

    asyncio.run(main())
    expected = Backoff(1.0, 8.0, random.Random(7))
    assert delays == [expected.next_delay() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    assert all(b / 2 <= d <= b for d, b in zip(delays, bases, strict=True))
    assert {e.reason for e in out.of(WorkerEvent)} == {Reason.REFUSED}


def test_a_stall_is_detected_and_the_camera_comes_back(sim):  # type: ignore[no-untyped-def]
    out = Collector()
    path = PATHS[2]

    async def main() -> None:
        cam = make_camera(sim.url_for(path), out, stall_s=2.0)
        task = asyncio.create_task(cam.run())
        await aeventually(lambda: len(out.of(CameraSample)) >= 1, 30, "a first sample")
        sim.set_state(path, "stalled")
        await aeventually(lambda: any(e.kind == "disconnected" for e in out.of(WorkerEvent)), 20, "a disconnect")
        sim.set_state(path, "normal")
        n = len(out.of(CameraSample))
        await aeventually(lambda: len(out.of(CameraSample)) > n + 1, 40, "samples again")
        cam.stop()
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(main())
    finally:
        sim.set_state(path, "normal")
    first_down = next(e for e in out.of(WorkerEvent) if e.kind == "disconnected")
    assert first_down.reason == Reason.STALLED
    assert [e.kind for e in out.of(WorkerEvent)].count("connected") >= 2


async def _serve(handler) -> tuple[asyncio.AbstractServer, int]:  # type: ignore[no-untyped-def]
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _session_reason(handler) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    async def main() -> tuple[str, bool]:
        server, port = await _serve(handler)
        got: list[Any] = []
        s = RtspSession(f"rtsp://127.0.0.1:{port}/cam", SessionParams(2.0, 2.0), lambda t: None, got.append)
        try:
            await asyncio.wait_for(s.play(), 10)
        except SessionError as exc:
            return exc.reason, bool(got)
        finally:
            server.close()
        return "no error", bool(got)

    return asyncio.run(main())


def test_a_server_that_sends_garbage_is_a_decode_error():
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        for _ in range(40):
            writer.write(bytes(random.Random(1).randbytes(4096)).replace(b"$", b"#").replace(b"R", b"r"))
        await writer.drain()
        await asyncio.sleep(5)
        writer.close()

    assert _session_reason(handler) == (Reason.DECODE, False)


SDP_BODY = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
            b"a=rtpmap:96 H264/90000\r\na=control:track1\r\n")


def test_a_truncated_stream_ends_the_session_cleanly():
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(4):  # OPTIONS, DESCRIBE, SETUP, PLAY
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            method = head.split(" ", 1)[0]
            cseq = next(line.split(":")[1].strip() for line in head.split("\r\n") if line.lower().startswith("cseq"))
            extra, body = "", b""
            if method == "DESCRIBE":
                extra, body = "Content-Type: application/sdp\r\n", SDP_BODY
            elif method == "SETUP":
                extra = "Session: 42;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
            writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode()
                         + body)
        # one RTP packet announced as 400 bytes, cut off after 30, then the connection closes
        writer.write(b"$\x00\x01\x90" + bytes([0x80, 0xE0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) + b"\x65" * 18)
        await writer.drain()
        writer.close()

    assert _session_reason(handler) == (Reason.EOF, False)


def test_off_mode_counts_packets_and_knows_the_resolution_without_decoding(sim):  # type: ignore[no-untyped-def]
    out = Collector()

    async def main() -> None:
        cam = make_camera(sim.url_for(PATHS[0]), out, decode="off")
        task = asyncio.create_task(cam.run())
        await aeventually(lambda: any(s.keyframes >= 2 for s in out.of(StreamStats)), 30, "stats of two keyframes")
        cam.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    stats = out.of(StreamStats)[-1]
    assert stats.decoded == 0 and not out.of(CameraSample)
    assert (stats.width, stats.height, stats.codec, stats.decode_mode) == (640, 360, "h264", "off")
    assert stats.fps == pytest.approx(10, abs=1.5) and stats.bitrate_bps > 0
