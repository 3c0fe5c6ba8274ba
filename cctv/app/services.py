"""What the composition root builds once and hands to the web app and the node's tasks.

Every field is required: :func:`build_services` makes them all, in one place, over a migrated store. Nothing
here starts anything — the order in which things start and stop is cctv/app/node.py's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cctv.accounts.passwords import Params
from cctv.accounts.users import Accounts
from cctv.audit.log import AuditLog
from cctv.clock import Clock
from cctv.config.models import Config
from cctv.config.node import node_name
from cctv.evidence.jobs import ExportRunner
from cctv.recording import recordings_root
from cctv.rollup.aggregates import AreaAggregates
from cctv.rollup.days import Calendar
from cctv.rollup.history import RollupModel
from cctv.sites import Sites
from cctv.status.bus import Bus, InProcessBus
from cctv.status.live_model import LiveModel
from cctv.status.snapshots import SnapshotStore
from cctv.store import Store
from cctv.store.alerts import AlertStore
from cctv.store.clip_store import ClipStore

log = logging.getLogger(__name__)

HealthProbe = Callable[[], dict[str, Any]]


@dataclass
class Services:
    config: Config
    sites: Sites
    clock: Clock
    bus: Bus
    store: Store
    data_dir: Path
    live: LiveModel  # every camera's state, from the bus
    aggregates: AreaAggregates  # per-area counts, from the live model
    rollup: RollupModel  # recent status intervals, for uptime figures
    snapshots: SnapshotStore
    accounts: Accounts
    audit: AuditLog
    alerts: AlertStore  # camera alerts and node alerts (disk full, nearly full): cctv/alerts/
    clips: ClipStore
    exports: ExportRunner  # the node's export job runner (recover() at start-up)
    # Figures for /healthz: each part that runs on this node adds its own when it is built.
    health_probes: list[HealthProbe]

    def health(self, log_failures: bool = True) -> tuple[dict[str, Any], int]:
        """Every health probe's figures in one dict, and how many probes failed (each logged with its
        traceback when ``log_failures``; the heartbeat, every few seconds, does not)."""
        merged: dict[str, Any] = {}
        failed = 0
        for probe in self.health_probes:
            try:
                merged.update(probe())
            except Exception:  # noqa: BLE001 - counted for the caller
                failed += 1
                if log_failures:
                    log.exception("health probe %r failed", probe)
        return merged, failed

    @property
    def recordings(self) -> Path:
        return Path(recordings_root(str(self.data_dir), self.config.recording.dir))


def build_services(
    config: Config,
    *,
    clock: Clock,
    store: Store,
    data_dir: Path,
    bus: Bus | None = None,
    password_params: Params | None = None,
) -> Services:
    """The node's services over a migrated ``store``; the bus is the embedded in-process one unless given."""
    sites = Sites(config)
    bus = bus if bus is not None else InProcessBus()
    engine = store.engine
    live = LiveModel(sites, clock.now_ms(), bus)
    audit = AuditLog(engine)
    clips = ClipStore(engine)
    return Services(
        config=config,
        sites=sites,
        clock=clock,
        bus=bus,
        store=store,
        data_dir=data_dir,
        live=live,
        aggregates=AreaAggregates(sites, live, bus, clock),
        rollup=RollupModel((c.path for c in sites.cameras if c.enabled),
                           calendar=Calendar(ZoneInfo(config.site.timezone))),
        snapshots=SnapshotStore(data_dir / "snapshots"),
        accounts=Accounts(engine, password_params) if password_params is not None else Accounts(engine),
        audit=audit,
        alerts=AlertStore(engine),
        clips=clips,
        exports=ExportRunner(store, clips, sites, clock, audit, data_dir,
                             Path(recordings_root(str(data_dir), config.recording.dir)), node_name(config.node)),
        health_probes=[],
    )
