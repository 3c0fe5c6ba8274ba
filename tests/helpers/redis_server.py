"""A private Redis server for tests that stop, restart or cut it (never the shared one on 6379)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.helpers.servers import free_port


class PrivateRedis:
    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._started_before = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        """Start (or start again, on the same port); the first start moves to another free port if its port
        was taken meanwhile by another process."""
        for attempt in range(3):
            if self._start_once():
                return self
            if self._started_before or attempt == 2:
                break
            self.port = free_port()
        log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
        raise AssertionError(f"private redis-server on port {self.port} did not start:\n{log}")

    def _start_once(self) -> bool:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: scripts/setup.sh installs it"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=open(self.folder / "redis.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:  # exited: its port was taken
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    if self.proc.poll() is None:
                        self._started_before = True
                        return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
