"""The shard's one segment writer thread: every disk step of recording happens here, never on the ingest loop.

Recorders (``streams.recording.segment_writer.SegmentRecorder``, on the event loop or on a PyAV camera thread)
hand it work items and return at once: open a segment (with its first packet), a packet, finish a segment. The
thread muxes into the partial file, hashing the bytes as they are written, and at a finish does fsync → rename
→ fsync folder → row (``segment_file.SegmentFile``).

The queue is bounded (packets and bytes). ``offer`` never waits: when a packet does not fit, the recorder drops
to the camera's next keyframe and counts it (``RecorderStats.queue_dropped`` / ``queue_overflows``); control
items (finish) are tiny and always accepted, so a segment is always ended where its last queued packet ends.
One overflow episode is logged once, when it starts, and once when the queue has room again.

``close()`` drains: everything queued is written and every segment finished; packets still queued after the
drain's deadline are dropped (counted) so that a slow disk cannot hold a stopping process for long, but
finishing (fsync, rename, row) always happens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from streams.recording.segment_file import SegmentFile

log = logging.getLogger(__name__)

MAX_PACKETS = 16384  # ~4 s of a 350-camera shard (4096, ~1 s, overflowed when the CPU starved the thread)
MAX_BYTES = 64 << 20

OPEN, PACKET, FINISH = 1, 2, 3
_STOP = (0, None, None, None, 0)
Item = tuple[int, SegmentFile | None, Any, Any, int]  # (op, segment, template | packet, end_ms, bytes)


def run_item(item: Item) -> None:
    op, seg, arg, end_ms, _ = item
    assert seg is not None
    if op == PACKET:
        seg.write(arg, end_ms)
    elif op == OPEN:
        seg.open(arg)
    elif op == FINISH:
        seg.finish(end_ms)


class InlineWriter:
    """Runs every item at once on the caller's thread (tests and tools; a shard uses SegmentWriterThread)."""

    queued_packets = 0
    overflows = 0

    def offer(self, items: tuple[Item, ...]) -> bool:
        for item in items:
            run_item(item)
        return True

    def put(self, item: Item) -> None:
        run_item(item)

    def close(self, drain_s: float | None = None) -> None:
        pass


class SegmentWriterThread:
    def __init__(self, max_packets: int = MAX_PACKETS, max_bytes: int = MAX_BYTES,
                 name: str = "segment-writer") -> None:
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.name = name
        self.queued_packets = 0
        self.queued_bytes = 0
        self.overflows = 0  # episodes of this shard's queue being full
        self.rejected = 0  # packets refused during those episodes
        self.handled_packets = 0  # packets the thread is done with (written, or failed and counted)
        self._items: deque[Item] = deque()
        self._cond = threading.Condition()
        self._full = False
        self._idle = False  # the thread waits on the condition
        self._closed = False
        self._discard_after: float | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    # -- producers (any thread; never wait on the disk) ------------------------------------------

    def offer(self, items: tuple[Item, ...]) -> bool:
        """Queue ``items`` (all or none) unless their packets do not fit; False: nothing was queued."""
        n = sum(1 for i in items if i[0] == PACKET)
        nbytes = sum(i[4] for i in items)
        started = False
        with self._cond:
            if self._closed or (n and (self.queued_packets + n > self.max_packets
                                       or self.queued_bytes + nbytes > self.max_bytes)):
                self.rejected += n
                if not self._full and not self._closed:
                    self._full = started = True
                    self.overflows += 1
                accepted = False
            else:
                self._items.extend(items)
                self.queued_packets += n
                self.queued_bytes += nbytes
                if self._idle:  # the thread waits for work: wake it (it takes all that is queued then)
                    self._cond.notify()
                accepted = True
        if started:
            log.warning("recording queue full (%d packets, %d KiB queued; the disk is slower than the cameras): "
                        "cameras drop packets to their next keyframe", self.queued_packets,
                        self.queued_bytes >> 10)
        return accepted

    def put(self, item: Item) -> None:
        """A control item (finish): always queued, never counted against the bound."""
        with self._cond:
            if self._closed:
                log.warning("segment writer already closed: %s not finished by it", item[1] and item[1].rel)
                return
            self._items.append(item)
            self._cond.notify()

    # -- stopping ------------------------------------------------------------------------------------

    def close(self, drain_s: float | None = None) -> None:
        """Write what is queued and finish every segment, then stop the thread (idempotent; waits for it).
        ``drain_s``: packets still queued that long after the call are dropped instead of written."""
        with self._cond:
            if not self._closed:
                self._closed = True
                if drain_s is not None:
                    self._discard_after = time.monotonic() + drain_s
                self._items.append(_STOP)
                self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        else:  # never started: do the work here
            self._run()

    # -- the thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        """Take everything queued at once (one lock, one wake-up for a batch, not one per packet: the per-packet
        hand-over between the ingest loop and this thread was a visible share of a 300-camera node's CPU), write
        it, then count it as done (so the bound covers what is taken but not yet written)."""
        while True:
            with self._cond:
                while not self._items:
                    self._idle = True
                    self._cond.wait()
                self._idle = False
                batch, self._items = self._items, deque()
            packets = nbytes = 0
            stop = False
            for item in batch:
                if item is _STOP:
                    stop = True
                    break
                try:
                    if item[0] == PACKET and self._discard_after is not None and time.monotonic() > self._discard_after:
                        assert item[1] is not None
                        item[1].discard(1)
                    else:
                        run_item(item)
                except Exception:  # noqa: BLE001 - one camera's segment never stops the others' recording
                    log.exception("segment writer: %s failed", item[1] and item[1].rel)
                if item[0] == PACKET:
                    packets += 1
                    nbytes += item[4]
                    self.handled_packets += 1
            with self._cond:
                self.queued_packets -= packets
                self.queued_bytes -= nbytes
                ended = self._full and self.queued_packets <= self.max_packets // 2 \
                    and self.queued_bytes <= self.max_bytes // 2
                if ended:
                    self._full = False
            if ended:
                log.info("recording queue has room again (%d packets refused so far)", self.rejected)
            if stop:
                return
