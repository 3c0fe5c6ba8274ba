"""A cluster on one machine for the end-to-end tests of many nodes (docs/nodes.md): a fresh PostgreSQL database
on the shared server (dropped afterwards) or a private server the test may restart, a private Redis, the simulator, and `cctv ingest` / `cctv serve`
processes — each with its own config (its ``node.name``), data folder and log — that a test starts, kills
(SIGKILL, SIGSTOP) and restarts as a service manager would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from cctv.store.leases import LeaseStore
from tests.helpers.e2e import ADMIN_PASSWORD, NODE_SECRET, http_status
from tests.helpers.eventually import eventually
from tests.helpers.postgres import PG_URL, _require_pg
from tests.helpers.postgres_server import PrivatePostgres
from tests.helpers.redis_server import PrivateRedis
from tests.helpers.servers import free_port


@dataclass
class Node:
    name: str
    command: str  # "ingest" | "serve"
    config: Path
    data: Path
    log: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    exits: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/healthz", timeout=3) as r:  # noqa: S310 - loopback
            return json.load(r)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Cluster:
    """``base_config``: the YAML (as a dict) every node shares; each node adds its ``node`` section."""

    def __init__(self, folder: Path, base_config: dict[str, Any], *, private_pg: bool = False) -> None:
        """``private_pg``: a PostgreSQL server of its own (initdb in a temporary folder) that the test may stop
        and start; else a fresh database on the shared server."""
        self.pg: PrivatePostgres | None = None
        self.db_name = f"cctv_{uuid.uuid4().hex[:10]}"
        if private_pg:
            self.pg = PrivatePostgres(folder / "pg").init()
            self.store_url = self.pg.url
        else:
            _require_pg()
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
            admin.dispose()
            self.store_url = PG_URL.rsplit("/", 1)[0] + f"/{self.db_name}"
        self.folder = folder
        self.redis = PrivateRedis(folder / "redis").start()
        self.base_config = base_config | {"store": {"url": self.store_url}, "bus": {"url": self.redis.url}}
        self.nodes: dict[str, Node] = {}
        self.engine = create_engine(self.store_url)

    def add(self, name: str, command: str = "ingest", bus_url: str | None = None, **node: Any) -> Node:
        """``bus_url``: this node reaches Redis elsewhere (through a proxy that a test cuts)."""
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        cfg = folder / "config.yaml"
        node = {"name": name, "secret": "${CCTV_NODE_SECRET}", **node}
        extra: dict[str, Any] = {"node": node} | ({"bus": {"url": bus_url}} if bus_url else {})
        cfg.write_text(json.dumps(self.base_config | extra))  # JSON is YAML
        n = Node(name, command, cfg, folder / "data", folder / f"{name}.log", free_port())
        self.nodes[name] = n
        return n

    def start(self, node: Node, wait: bool = True) -> Node:
        env = {**os.environ, "CCTV_DATA_DIR": str(node.data), "CCTV_ADMIN_PASSWORD": ADMIN_PASSWORD,
               "CCTV_NODE_SECRET": NODE_SECRET}
        log = open(node.log, "ab")  # noqa: SIM115 - the child holds it
        node.proc = subprocess.Popen(
            [sys.executable, "-m", "cctv", node.command, "--config", str(node.config), "--port", str(node.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # its own process group
        )
        log.close()
        if wait:
            eventually(lambda: node.proc.poll() is None and http_status(f"{node.base}/healthz") == 200, 60,
                       lambda: f"{node.name}'s /healthz; its log: {node.log_text()[-2000:]}")
        return node

    def kill(self, node: Node, sig: int = signal.SIGKILL) -> None:
        """``sig`` to the node and its ingest processes at once, as when its machine dies (SIGKILL) or stands
        still (SIGSTOP; SIGCONT wakes it)."""
        assert node.proc is not None
        os.killpg(node.proc.pid, sig)
        if sig == signal.SIGKILL:
            node.exits.append(node.proc.wait(10))
            node.proc = None

    def stop(self, node: Node) -> int:
        """SIGTERM and wait; its exit code."""
        if node.proc is None:
            return 0
        node.proc.send_signal(signal.SIGTERM)
        try:
            code = node.proc.wait(40)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            code = node.proc.wait()
        node.exits.append(code)
        node.proc = None
        return code

    # -- what the store says ------------------------------------------------------------------------

    def leases(self) -> dict[str, tuple[str, int, int, int | None]]:
        """camera → (node, token, expires_ms, renewed_ms): its node's lease's while held, its release after."""
        return {x.camera: (x.node, x.token, x.expires_ms, x.renewed_ms) for x in LeaseStore(self.engine).leases()}

    def segments(self) -> list[tuple[str, int, int, str | None]]:
        """(camera, start_ms, end_ms, node) of every segment row."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT camera, start_ms, end_ms, node FROM segments ORDER BY camera, start_ms"))
            return [(r.camera, r.start_ms, r.end_ms, r.node) for r in rows]

    def segment_rows(self, camera: str) -> list[dict[str, Any]]:
        """Every segment row of ``camera`` (id, start_ms, end_ms, node, sha256), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, start_ms, end_ms, node, sha256 FROM segments WHERE camera = :c "
                                     "ORDER BY start_ms, id"), {"c": camera})
            return [dict(r._mapping) for r in rows]

    def intervals(self, camera: str) -> list[tuple[str, str, int, int | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT state, reason, start_ms, end_ms FROM status_intervals WHERE camera = :c "
                                     "ORDER BY start_ms, id"), {"c": camera})
            return [(r.state, r.reason, r.start_ms, r.end_ms) for r in rows]

    def close(self) -> None:
        for node in self.nodes.values():
            if node.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.proc.pid, signal.SIGKILL)
                node.proc.wait(10)
                node.proc = None
        self.engine.dispose()
        self.redis.stop()
        if self.pg is not None:
            self.pg.remove()
            return
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        admin.dispose()
