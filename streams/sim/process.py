"""SimulatorProcess: encode (or reuse) every simulated camera's clips, then run server.py under system Python."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from cctv.config.models import Config
from streams.sim import scenes
from streams.sim.control import SimControl, SimError
from streams.sim.encode import ClipSpec, ensure_clips

log = logging.getLogger(__name__)

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("server.py")


@dataclass(frozen=True)
class ServedCamera:
    """A camera the simulator serves: its path (identity), mount, credentials and picture parameters."""

    path: str
    url: str = field(repr=False)  # may carry the password
    mount: str
    user: str | None
    password: str | None = field(repr=False)
    scene: str
    seed: int
    night: bool
    state: str


def sim_cameras(config: Config) -> list[ServedCamera]:
    """Every camera of the config that has a ``sim`` section, in config order."""
    out = []
    for kec in config.kecamatan:
        for kel in kec.kelurahan:
            for rt in kel.rt:
                for cam in rt.cameras:
                    if cam.sim is None:
                        continue
                    parts = urlsplit(cam.url)
                    out.append(ServedCamera(
                        path="/".join((kec.slug, kel.slug, rt.slug, cam.slug)), url=cam.url,
                        mount=parts.path if parts.path.startswith("/") and len(parts.path) > 1 else "/",
                        user=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password is not None else None,
                        scene=cam.sim.scene, seed=cam.sim.seed, night=cam.sim.night, state=cam.sim.state))
    return out


class SimulatorProcess:
    """Runs the simulator: ``start()`` prepares clips and spawns the server; ``stop()`` ends it (idempotent)."""

    def __init__(self, config: Config, cache_dir: Path, ground_truth_path: Path, footage_dir: Path | None = None,
                 rtsp_port: int | None = None, control_port: int | None = None, all_footage: bool = False):
        """``all_footage``: every camera loops a real clip from ``footage_dir`` (chosen by its seed), whatever
        scene its config names (``cctv sim --footage DIR``)."""
        self.config = config
        self.cache_dir = Path(cache_dir)
        self.ground_truth_path = Path(ground_truth_path)
        fd = footage_dir or config.sim.footage_dir
        self.footage_dir = Path(fd) if fd else None
        self.rtsp_port = rtsp_port or config.sim.rtsp_port
        self.control_port = control_port or config.sim.control_port
        self.host = config.sim.host
        self.cameras = {c.path: c for c in sim_cameras(config)}
        if all_footage:
            self.cameras = {p: replace(c, scene="footage") for p, c in self.cameras.items()}
        self.control = SimControl("127.0.0.1", self.control_port)
        self.proc: subprocess.Popen | None = None

    # --- clips ---------------------------------------------------------------------------------------
    def _footage(self, seed: int) -> Path:
        if not self.footage_dir or not self.footage_dir.is_dir():
            raise SimError(f"scene 'footage' needs a footage folder; {self.footage_dir} is not one")
        clips = scenes.footage_clips(self.footage_dir)
        if not clips:
            raise SimError(f"no video clips in footage folder {self.footage_dir}")
        return clips[seed % len(clips)]

    def prepare(self) -> dict[str, dict[str, str]]:
        """Encode what the cache lacks; returns each camera's clip file per variant."""
        specs: dict[str, dict[str, ClipSpec]] = {}
        footage_paths: dict[str, Path] = {}
        secs = self.config.sim.clip_seconds
        secs -= secs % (scenes.GOP // scenes.FPS)
        for cam in self.cameras.values():
            name = stamp = ""
            if cam.scene == "footage":
                fp = self._footage(cam.seed)
                st = fp.stat()
                name, stamp = fp.name, f"{st.st_size}-{int(st.st_mtime)}"
                footage_paths[name] = fp
            specs[cam.path] = {v: ClipSpec(cam.scene, cam.seed, cam.night, v, secs, name, stamp)
                               for v in scenes.VARIANTS}
        unique = sorted({s for per in specs.values() for s in per.values()}, key=lambda s: s.filename())
        files = ensure_clips(unique, self.cache_dir, footage_paths)
        return {path: {v: str(files[s]) for v, s in per.items()} for path, per in specs.items()}

    def _spec(self, clips: dict[str, dict[str, str]]) -> dict:
        roles: dict[tuple[str, str], str] = {}
        cams = []
        for cam in self.cameras.values():
            role = None
            if cam.user is not None:
                role = roles.setdefault((cam.user, cam.password or ""), f"cred-{len(roles)}")
            cams.append({"path": cam.path, "mount": cam.mount, "role": role, "state": cam.state,
                         "clips": clips[cam.path]})
        mounts = [c["mount"] for c in cams]
        if len(set(mounts)) != len(mounts):
            dup = sorted({m for m in mounts if mounts.count(m) > 1})
            raise SimError(f"several simulated cameras share the RTSP path {dup[0]}")
        return {"host": self.host, "rtsp_port": self.rtsp_port, "control_port": self.control_port,
                "ground_truth": str(self.ground_truth_path.resolve()), "cameras": cams,
                "credentials": [{"user": u, "password": p, "role": r} for (u, p), r in roles.items()]}

    # --- process -------------------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> SimulatorProcess:
        """Encode what the clip cache lacks (may take minutes the first time; logged as it goes), then start
        the server and wait up to ``timeout`` seconds for it to answer."""
        if self.proc is not None:
            return self
        if not self.cameras:
            raise SimError("no camera in the config has a 'sim' section")
        spec = self._spec(self.prepare())
        deadline = time.monotonic() + timeout
        self.ground_truth_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER_SCRIPT), "--spec", "-"], stdin=subprocess.PIPE,
                                     env={**os.environ, "PYTHONPATH": ""})
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(spec).encode())  # via stdin: credentials never touch the disk
        self.proc.stdin.close()
        try:
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        log.info("simulator serving %d cameras on rtsp://%s:%d", len(self.cameras), self.host, self.rtsp_port)
        return self

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise SimError(f"simulator server exited early (code {code}); see its log on stderr")
            try:
                self.control.states()
                with socket.create_connection((_dial_host(self.host), self.rtsp_port), timeout=1):
                    return
            except (SimError, OSError):
                if time.monotonic() > deadline:
                    raise SimError("simulator server did not answer before the deadline") from None
                time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- control -------------------------------------------------------------------------------------
    def set_state(self, camera_path: str, state: str) -> None:
        self.control.set_state(camera_path, state)

    def states(self) -> dict[str, str]:
        return self.control.states()

    def url_for(self, camera_path: str) -> str:
        """The camera's URL (with its credentials) on the port this simulator actually listens on."""
        cam = self.cameras.get(camera_path)
        if cam is None:
            raise SimError(f"unknown camera {camera_path!r}")
        parts = urlsplit(cam.url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = (auth + "@" if auth else "") + f"{_dial_host(self.host)}:{self.rtsp_port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _dial_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
