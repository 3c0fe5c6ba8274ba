"""The open node alerts of the whole city as last read from the store, for the banner every page shows
(web/node_banner.py): refreshed at most every ``ttl_s``, so page rendering never waits on the database."""

from __future__ import annotations

import time

from cctv.alerts.model import NODE_KINDS, Alert
from cctv.app.services import Services


class OpenNodeAlerts:
    def __init__(self, ttl_s: float = 3.0) -> None:
        self.ttl_s = ttl_s
        self.alerts: list[Alert] = []
        self._read_at = float("-inf")

    async def refresh(self, svc: Services) -> list[Alert]:
        if time.monotonic() - self._read_at >= self.ttl_s:
            self.alerts = await svc.store.aread(svc.alerts.alerts, [""], kinds=NODE_KINDS, only_open=True, limit=50)
            self._read_at = time.monotonic()
        return self.alerts
