"""What the composition root (cctv/app/cli.py) builds and hands to the web app and the workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cctv.accounts.users import Accounts
from cctv.audit.log import AuditLog
from cctv.clock import Clock
from cctv.config.models import Config
from cctv.evidence.jobs import ExportRunner
from cctv.recording import recordings_root
from cctv.rollup.history import RollupModel
from cctv.sites import Sites
from cctv.status.bus import Bus
from cctv.status.live_model import LiveModel
from cctv.status.snapshots import SnapshotStore
from cctv.store import Store
from cctv.store.alerts import AlertStore
from cctv.store.clip_store import ClipStore


@dataclass
class Services:
    config: Config
    sites: Sites
    clock: Clock
    bus: Bus
    store: Store
    live: LiveModel
    snapshots: SnapshotStore
    data_dir: Path
    # Extra figures for /healthz (ingest drops, worker counts, ...), filled in by whoever runs ingest.
    health_probes: list[Callable[[], dict[str, Any]]] = field(default_factory=list)
    # Accounts and sessions, and the audit log: over the store's engine unless given.
    accounts: Accounts = field(default=None)  # type: ignore[assignment]
    audit: AuditLog = field(default=None)  # type: ignore[assignment]
    # The live roll-up model (started by CoreRuntime, or by the first view that needs it) and the alert feed.
    rollup: RollupModel = field(default=None)  # type: ignore[assignment]
    alerts: AlertStore = field(default=None)  # type: ignore[assignment]
    # Clip requests and the node's export job runner (cctv/evidence/jobs.py; recover() at start-up).
    clips: ClipStore = field(default=None)  # type: ignore[assignment]
    exports: ExportRunner = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.accounts is None:
            self.accounts = Accounts(self.store.engine)
        if self.audit is None:
            self.audit = AuditLog(self.store.engine)
        if self.rollup is None:
            self.rollup = RollupModel(c.path for c in self.sites.cameras if c.enabled)
        if self.alerts is None:
            self.alerts = AlertStore(self.store.engine)
        if self.clips is None:
            self.clips = ClipStore(self.store.engine)
        if self.exports is None:
            root = Path(recordings_root(str(self.data_dir), self.config.recording.dir))
            self.exports = ExportRunner(
                self.store, self.clips, self.sites, self.clock, self.audit, self.data_dir, root
            )


def make_services(config: Config, *, clock: Clock, store: Store, data_dir: Path) -> Services:
    """The node's services on the embedded default (in-process bus) over a migrated ``store``."""
    from cctv.status.bus import InProcessBus

    sites = Sites(config)
    return Services(
        config=config,
        sites=sites,
        clock=clock,
        bus=InProcessBus(),
        store=store,
        live=LiveModel(sites, clock.now_ms()),
        snapshots=SnapshotStore(data_dir / "snapshots"),
        data_dir=data_dir,
    )
