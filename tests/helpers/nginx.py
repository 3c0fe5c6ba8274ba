"""A private nginx in front of web nodes, as a city would run one: round robin, X-Forwarded-For, WebSockets,
and the next node tried when one does not answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.helpers.e2e import http_status
from tests.helpers.servers import free_port


def nginx_missing() -> str | None:
    return None if shutil.which("nginx") else "nginx is not installed (scripts/setup.sh installs nginx-light)"


class PrivateNginx:
    def __init__(self, folder: Path, upstream_ports: list[int]) -> None:
        self.folder = folder
        self.port = free_port()
        self.upstreams = upstream_ports
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _conf(self) -> str:
        f = self.folder
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in self.upstreams)
        user = "user root;" if os.geteuid() == 0 else ""
        return f"""{user}
worker_processes 1;
daemon off;
pid {f}/nginx.pid;
error_log {f}/error.log warn;
events {{ worker_connections 256; }}
http {{
  log_format up '$request_method $uri $status $upstream_addr';
  access_log {f}/access.log up;
  client_body_temp_path {f}/body; proxy_temp_path {f}/proxy; fastcgi_temp_path {f}/fastcgi;
  uwsgi_temp_path {f}/uwsgi; scgi_temp_path {f}/scgi;
  upstream cctv {{
{servers}
  }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen 127.0.0.1:{self.port};
    location / {{
      proxy_pass http://cctv;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_connect_timeout 2s;
      proxy_next_upstream error timeout http_502;
    }}
  }}
}}
"""

    def start(self) -> PrivateNginx:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(self._conf())
        self.proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.folder / "stderr.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and http_status(f"{self.base}/healthz") is None:
            assert self.proc.poll() is None, (self.folder / "stderr.log").read_text()
            time.sleep(0.1)
        return self

    def served_by(self) -> list[str]:
        """The upstream address of each request so far (from its access log)."""
        log = self.folder / "access.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
