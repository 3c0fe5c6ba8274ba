"""Garbage-collector pauses of this process: what started is frozen, and every collection is timed.

A node of tens of thousands of cameras holds millions of long-lived objects (sites, live model, status machines,
roll-up timelines). CPython's full collections walk all of them: at 30,000 cameras a pause of hundreds of
milliseconds stops the event loop, and every status message waits. ``freeze_started()`` moves everything built at
start into the permanent generation (``gc.freeze``), so collections only walk what is newer. The pauses are timed
from ``gc.callbacks`` and shown on ``/healthz`` (``gc``), so a node's own lateness is visible as its own.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)


class GcPauses:
    def __init__(self) -> None:
        self.count = [0, 0, 0]  # collections per generation
        self.total_ms = [0.0, 0.0, 0.0]
        self.max_ms = [0.0, 0.0, 0.0]
        self.frozen = 0
        self.refreezes = 0
        self._t0 = 0.0

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def freeze_started(self) -> None:
        """After start: what exists now lives as long as the process; collections stop walking it."""
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()
        log.info("gc: %d objects built at start frozen (no longer walked by collections)", self.frozen)

    def freeze_loaded(self) -> None:
        """After the roll-up model loaded again (a midnight, days tallied): its new rows and figures live until
        the next load; freeze them too, or every full collection walks millions of them (a second's pause on
        a city's web node, measured with bench/city.py). What the old load held is freed by its reference
        counts (rows and figures hold no cycles). Only the young generations are collected first: a full
        collection here walked the whole new load (1.1–1.8 s with the loop stopped, bench/city.py); most of it
        has already moved to the oldest generation, which ``gc.freeze`` takes without walking."""
        gc.collect(1)
        gc.freeze()
        self.frozen = gc.get_freeze_count()
        self.refreezes += 1

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        g = int(info.get("generation", 2))
        ms = (time.perf_counter() - self._t0) * 1000
        self.count[g] += 1
        self.total_ms[g] += ms
        self.max_ms[g] = max(self.max_ms[g], ms)

    def health(self) -> dict[str, Any]:
        return {"gc": {"frozen": self.frozen, "refreezes": self.refreezes, "collections": list(self.count),
                       "pause_ms_total": [round(x, 1) for x in self.total_ms],
                       "pause_ms_max": [round(x, 1) for x in self.max_ms]}}
