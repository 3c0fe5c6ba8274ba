"""RTSP server of the camera simulator. Run by Debian's system Python: standard library and gi only.

    /usr/bin/python3 server.py --spec SPEC.json      (or --spec - to read the spec from stdin)

The spec (written by streams.sim.process) lists the mounts, their credentials, the clip file of every picture
variant, the ports and the ground-truth file. One GstRtspServer serves every mount through a shared
``appsrc ! rtph264pay`` factory; one GLib timeout pushes the next pre-encoded access unit of each camera to its
live appsrcs. A small HTTP control channel (thread) switches states; changes run in the GLib main loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from clipfile import unpack_units  # noqa: E402  (sibling module: this script's folder is on sys.path)
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

log = logging.getLogger("sim.server")

FPS, GOP = 10, 20
PICTURE_STATES = ("normal", "motion", "frozen", "black", "dark", "blurred", "covered", "moved")
STATES = PICTURE_STATES + ("stalled", "offline")
LAUNCH = ("( appsrc name=src is-live=true format=time do-timestamp=true max-bytes=2000000 "
          "caps=video/x-h264,stream-format=byte-stream,alignment=au,framerate=10/1 "
          "! rtph264pay name=pay0 pt=96 config-interval=-1 )")


def read_clip(path: str) -> list[tuple[bytes, bool]]:
    with open(path, "rb") as f:
        units = unpack_units(f.read(), path)
    if not units or len(units) % GOP or not units[0][1]:
        raise ValueError(f"{path}: clip must be whole GOPs of {GOP} frames starting at a keyframe")
    return units


class Camera:
    """One mount: its clips, playhead, effective and requested state, and the appsrcs of its live media."""

    def __init__(self, spec: dict, clips: dict[str, list], offset: int):
        self.path: str = spec["path"]
        self.mount: str = spec["mount"]
        self.role: str | None = spec.get("role")
        self.clips = clips
        self.state: str = spec.get("state", "normal")
        self.wanted: str = self.state
        self.picture = self.state if self.state in PICTURE_STATES else "normal"
        self.n = offset  # frames since start; pos in clip = n % len(clip)
        self.srcs: list = []  # [appsrc, media, waiting_for_keyframe]
        self.factory = None


class Simulator:
    def __init__(self, spec: dict):
        self.spec = spec
        self.lock = threading.Lock()
        self.gt = open(spec["ground_truth"], "a", buffering=1)  # noqa: SIM115 (kept open for the run)
        cache: dict[str, list] = {}
        self.cameras: dict[str, Camera] = {}
        for i, cs in enumerate(spec["cameras"]):
            clips = {}
            for variant, path in cs["clips"].items():
                if path not in cache:
                    cache[path] = read_clip(path)
                clips[variant] = cache[path]
            self.cameras[cs["path"]] = Camera(cs, clips, (i * 7) % GOP)
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(spec.get("host", "127.0.0.1"))
        self.server.set_service(str(spec["rtsp_port"]))
        # Client contexts run on a pool: a DESCRIBE waits (up to one GOP) for its media's first keyframe, and with
        # the default single thread those waits would queue one behind another.
        self.server.get_thread_pool().set_max_threads(int(spec.get("client_threads", 32)))
        self._setup_auth()
        self.mounts = self.server.get_mount_points()
        for cam in self.cameras.values():
            if cam.state != "offline":
                self._mount(cam)
            self._record(cam, cam.state, None)
        self.t0 = time.monotonic()
        self.ticks = 0

    # --- RTSP plumbing -------------------------------------------------------------------------------
    def _setup_auth(self) -> None:
        auth = GstRtspServer.RTSPAuth()
        anon = GstRtspServer.RTSPToken()
        anon.set_string("media.factory.role", "anonymous")
        auth.set_default_token(anon)
        for cred in self.spec.get("credentials", []):
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", cred["role"])
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(cred["user"], cred["password"]), token)
        self.server.set_auth(auth)

    def _mount(self, cam: Camera) -> None:
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch(LAUNCH)
        f.set_shared(True)
        # Anonymous clients (and wrong passwords, which fall back to the default token) may see that a protected
        # mount exists but not construct it: gst-rtsp-server answers 401 then, and 404 without access.
        roles = {"anonymous": cam.role is None}
        if cam.role:
            roles[cam.role] = True
        for role, construct in roles.items():
            f.add_role_from_structure(Gst.Structure.new_from_string(
                f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean){str(construct).lower()}"))
        f.connect("media-configure", self._on_media, cam)
        self.mounts.add_factory(cam.mount, f)
        cam.factory = f

    def _on_media(self, factory, media, cam: Camera) -> None:
        src = media.get_element().get_by_name("src")
        entry = [src, media, True]
        with self.lock:
            cam.srcs = cam.srcs + [entry]
        media.connect("unprepared", self._on_unprepared, cam, entry)
        log.debug("new media for %s", cam.path)

    def _on_unprepared(self, media, cam: Camera, entry: list) -> None:
        with self.lock:
            cam.srcs = [e for e in cam.srcs if e is not entry]
        log.debug("media of %s unprepared", cam.path)

    def _unmount(self, cam: Camera) -> None:
        """Remove the mount (new clients: 404) and end the stream of its live media (readers see EOF).

        Ending the stream (appsrc EOS → RTCP BYE) is what a camera whose encoder stops looks like. Removing the
        clients with ``client_filter`` instead makes gst-rtsp-server 1.22 abort on the next connection
        (rtsp-client.c get_data_seq: 'data_seq' should not be NULL).
        """
        self.mounts.remove_factory(cam.mount)
        cam.factory = None
        with self.lock:
            entries, cam.srcs = cam.srcs, []
        for src, _media, _waiting in entries:
            src.emit("end-of-stream")
        log.info("unmounted %s; ended %d live stream(s)", cam.path, len(entries))

    # --- the clock --------------------------------------------------------------------------------------
    def tick(self) -> bool:
        """Push every camera's due access units, then re-arm the one timer for the next 100 ms slot.

        Drift-corrected: slot k is due at t0 + k/FPS on the monotonic clock, whatever the callback latency.
        """
        now = time.monotonic()
        due = int((now - self.t0) * FPS)
        if due - self.ticks > FPS * 2:  # the process was stopped or starved: skip ahead instead of bursting
            self.ticks = due - 1
        while self.ticks < due:
            self.ticks += 1
            for cam in self.cameras.values():
                self._advance(cam)
        wait_ms = max(1, int(((self.ticks + 1) / FPS - (time.monotonic() - self.t0)) * 1000) + 1)
        GLib.timeout_add(wait_ms, self.tick)
        return False

    def _advance(self, cam: Camera) -> None:
        cam.n += 1
        if cam.state in ("stalled", "offline"):
            return
        clip = cam.clips[cam.picture]
        if cam.n % GOP == 0 and cam.wanted != cam.state and cam.wanted in PICTURE_STATES:
            prev = cam.state
            cam.state = cam.picture = cam.wanted
            clip = cam.clips[cam.picture]
            self._record(cam, cam.state, prev)
        data, key = clip[cam.n % len(clip)]
        srcs = cam.srcs
        if not srcs:
            return
        buf = None
        for entry in srcs:
            if entry[2]:
                if not key:
                    continue
                entry[2] = False
            if buf is None:
                buf = Gst.Buffer.new_wrapped(data)
            entry[0].emit("push-buffer", buf)

    def apply(self, path: str, state: str) -> bool:
        """Runs in the main loop (GLib.idle_add): stalled/offline at once, pictures at the next keyframe."""
        cam = self.cameras[path]
        cam.wanted = state
        prev = cam.state
        if state == prev:
            return False
        if prev == "offline":
            self._mount(cam)
        if state == "offline":
            if prev != "offline":
                self._unmount(cam)
            cam.state = state
            self._record(cam, state, prev)
        elif state == "stalled":
            cam.state = state
            self._record(cam, state, prev)
        elif prev in ("stalled", "offline"):
            # Resume pushing the old picture until the next keyframe, then switch (recorded then).
            cam.state = cam.picture
            with self.lock:
                for e in cam.srcs:
                    e[2] = True
            if cam.picture == state:
                self._record(cam, state, prev)
        log.info("camera %s: %s -> %s requested", path, prev, state)
        return False

    def _record(self, cam: Camera, state: str, prev: str | None) -> None:
        line = {"t_ms": int(time.time() * 1000), "camera": cam.path, "state": state, "previous": prev}
        self.gt.write(json.dumps(line) + "\n")

    def states(self) -> dict[str, str]:
        return {p: c.wanted for p, c in self.cameras.items()}


def control_server(sim: Simulator, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet: no per-request lines on stderr
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/cameras":
                self._send(200, sim.states())
            else:
                self._send(404, {"error": f"no such resource {self.path}"})

        def do_POST(self):
            if not self.path.startswith("/cameras/"):
                return self._send(404, {"error": f"no such resource {self.path}"})
            path = unquote(self.path[len("/cameras/"):]).strip("/")
            try:
                n = int(self.headers.get("Content-Length") or 0)
                state = json.loads(self.rfile.read(n) or b"{}").get("state")
            except (ValueError, AttributeError):
                return self._send(400, {"error": "body must be JSON like {\"state\": \"black\"}"})
            if path not in sim.cameras:
                return self._send(404, {"error": f"unknown camera {path!r}"})
            if state not in STATES:
                return self._send(400, {"error": f"unknown state {state!r}; one of {', '.join(STATES)}"})
            GLib.idle_add(sim.apply, path, state)
            self._send(200, {"camera": path, "state": state})

    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name="sim-control", daemon=True).start()
    return httpd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", required=True, help="spec JSON file, or - for stdin")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="sim-server %(levelname)s %(message)s")
    spec = json.load(sys.stdin if args.spec == "-" else open(args.spec))  # noqa: SIM115
    Gst.init(None)
    sim = Simulator(spec)
    loop = GLib.MainLoop()
    if sim.server.attach(None) == 0:
        log.error("cannot listen on RTSP port %s", spec["rtsp_port"])
        return 1
    httpd = control_server(sim, "127.0.0.1", int(spec["control_port"]))
    sim.t0 = time.monotonic()
    GLib.timeout_add(1000 // FPS, sim.tick)
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    log.info("serving %d cameras on rtsp://%s:%s", len(sim.cameras), spec.get("host"), spec["rtsp_port"])
    try:
        loop.run()
    finally:
        httpd.shutdown()
        sim.gt.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
