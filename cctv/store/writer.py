"""Bus → store: status intervals and motion events, written in order on the store's one writer thread."""

from __future__ import annotations

import asyncio
import logging

from cctv.status.bus import Bus
from cctv.status.messages import TOPIC_MOTION, TOPIC_STATUS, MotionChange, StatusChange
from cctv.store.store import Store

log = logging.getLogger(__name__)


class StoreWriter:
    def __init__(self, store: Store, bus: Bus, maxlen: int = 100_000) -> None:
        self.store = store
        # status changes must never be dropped: a generous bound, and drops are counted and reported
        self.sub = bus.subscribe(TOPIC_STATUS, TOPIC_MOTION, maxlen=maxlen)
        self._open_motion: dict[str, int] = {}
        self.written = 0
        self.errors = 0

    @property
    def dropped(self) -> int:
        return self.sub.dropped

    async def run(self) -> None:
        try:
            async for _topic, message in self.sub:
                await self._write(message)
        finally:
            self.sub.close()

    async def drain(self) -> None:
        """Write what is queued (used at shutdown, after producers stopped)."""
        while (item := self.sub.get_nowait()) is not None:
            await self._write(item[1])

    def finish(self) -> None:
        """Take no new messages; ``run()`` writes what is queued and returns (never cancel it mid-write)."""
        self.sub.close()

    async def _write(self, message: object) -> None:
        try:
            if isinstance(message, StatusChange):
                await self.store.awrite(self.store.apply_status_change, message)
            elif isinstance(message, MotionChange):
                await self._write_motion(message)
            self.written += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - counted and visible on /healthz; the loop goes on
            self.errors += 1
            log.exception("store writer: could not write %s", type(message).__name__)

    async def _write_motion(self, m: MotionChange) -> None:
        if m.motion:
            if m.camera not in self._open_motion:
                self._open_motion[m.camera] = await self.store.awrite(
                    self.store.start_motion_event, m.camera, m.t_ms, m.score
                )
        else:
            event_id = self._open_motion.pop(m.camera, None)
            if event_id is not None:
                await self.store.awrite(self.store.end_motion_event, event_id, m.t_ms, m.score)
