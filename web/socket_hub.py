"""Every open ``/ws`` of this process behind one bus subscription: messages go only to the sockets that may
and want to see them, filtered before they reach a socket's queue.

- ``status``, ``motion`` and ``snapshot`` news of a camera reach the sockets registered on one of the camera's
  ancestor areas whose scope covers it (a dict lookup per ancestor, not a pass over every socket).
- ``counts`` (per-area aggregates, published at most once a second: cctv/rollup/aggregates.py) reach the
  sockets whose area or one of its children changed; a scoped view of an area above the caller's scope gets
  the sum of its scope roots within it, never a number from outside the scope.
- Texts meant for the page (state label, reason, since) are formatted once per language per message.

Each socket has a bounded queue. When it is full (the page stopped reading), the queue is cleared, the drop is
counted, and the socket's next message is a ``resync``: a fresh snapshot of its area's counts and its cameras'
states, so no tile stays wrong. Every message carries the socket's sequence number ``seq``; a page that sees a
gap asks for a ``resync`` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from cctv.accounts.policy import Scope
from cctv.app.services import Services
from cctv.sites import Area, is_within
from cctv.status.messages import (
    TOPIC_COUNTS,
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATUS,
    AreaCounts,
    MotionChange,
    SnapshotNews,
    SnapshotReady,
    StatusChange,
)
from web.i18n import format_ms, iso_utc
from web.i18n_labels import reason_text, state_label

log = logging.getLogger(__name__)

QUEUE = 512  # messages waiting for one socket before it is resynchronised instead
MAX_WATCH = 256
HUB_QUEUE = 100_000  # droppable news (snapshots, counts) the hub itself may hold


class SocketFeed:
    """What one socket is owed: its area, scope and language, its queue and its sequence."""

    def __init__(self, area: Area, scope: Scope, lang: str, tz: ZoneInfo) -> None:
        self.area = area
        self.scope = scope
        self.lang = lang
        self.tz = tz
        self.watch: frozenset[str] | None = None  # None: the page never said; every snapshot, one by one
        self.pending: dict[str, int] = {}  # watched camera -> latest snapshot t_ms not yet sent
        self.queue: deque[dict[str, Any]] = deque()
        self.seq = 0
        self.resync = False
        self.dropped = 0
        self.wake = asyncio.Event()
        # counts this socket shows: its area, and each child (a scope root, on a scoped city)
        self.count_areas = frozenset((area.path, *area.children))
        self.on_watch: Callable[[SocketFeed, frozenset[str] | None], None] | None = None  # the hub's index

    def set_watch(self, cameras: frozenset[str]) -> None:
        """The cameras the page shows now (already cut to what this socket may see)."""
        old, self.watch = self.watch, cameras
        self.pending = {c: t for c, t in self.pending.items() if c in cameras}
        if self.on_watch is not None:
            self.on_watch(self, old)

    def visible(self, camera: str) -> bool:
        return is_within(camera, self.area.path) and self.scope.covers(camera)

    def offer(self, message: dict[str, Any]) -> None:
        if self.resync:
            return  # a fresh snapshot is on its way: it includes this
        if len(self.queue) >= QUEUE:
            self.dropped += len(self.queue)
            self.queue.clear()
            self.resync = True
        else:
            self.queue.append(message)
        self.wake.set()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class SocketHub:
    def __init__(self, services: Services, tz: ZoneInfo) -> None:
        self.svc = services
        self.tz = tz
        self._by_area: dict[str, set[SocketFeed]] = {}
        # camera -> the sockets showing it: a city's snapshot news (15,000 a second at 30,000 cameras) goes to
        # its watchers only, not through every city-wide socket
        self._watching: dict[str, set[SocketFeed]] = {}
        self._unsaid: set[SocketFeed] = set()  # sockets whose page never said what it shows: every snapshot
        self._task: asyncio.Task[None] | None = None
        self.routed = 0
        self.resyncs = 0
        self._dropped_closed = 0
        self._sub = None

    # -- sockets ---------------------------------------------------------------------------------------

    def register(self, feed: SocketFeed) -> None:
        self._by_area.setdefault(feed.area.path, set()).add(feed)
        feed.on_watch = self._rewatch
        if feed.watch is None:
            self._unsaid.add(feed)
        else:
            self._rewatch(feed, None)

    def _rewatch(self, feed: SocketFeed, old: frozenset[str] | None) -> None:
        self._unwatch(feed, old)
        for c in feed.watch or ():
            self._watching.setdefault(c, set()).add(feed)
        self._unsaid.discard(feed)

    def _unwatch(self, feed: SocketFeed, cameras: frozenset[str] | None) -> None:
        for c in cameras or ():
            watchers = self._watching.get(c)
            if watchers is not None:
                watchers.discard(feed)
                if not watchers:
                    del self._watching[c]

    def unregister(self, feed: SocketFeed) -> None:
        self._unwatch(feed, feed.watch)
        self._unsaid.discard(feed)
        feed.on_watch = None
        feeds = self._by_area.get(feed.area.path)
        if feeds is not None:
            feeds.discard(feed)
            if not feeds:
                del self._by_area[feed.area.path]
        self._dropped_closed += feed.dropped

    def feeds(self) -> Iterable[SocketFeed]:
        for feeds in self._by_area.values():
            yield from feeds

    @property
    def dropped(self) -> int:
        """Messages cleared from sockets' queues (each followed by a resync), closed sockets included."""
        return self._dropped_closed + sum(f.dropped for f in self.feeds())

    # -- running ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._sub = self.svc.bus.subscribe(TOPIC_STATUS, TOPIC_MOTION, TOPIC_SNAPSHOT, TOPIC_COUNTS,
                                           maxlen=HUB_QUEUE, remote=True)  # the whole city's news
        self._task = asyncio.create_task(self._run(), name="socket-hub")

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        assert self._sub is not None
        while batch := await self._sub.get_batch():
            for topic, message in batch:
                try:
                    self.route(topic, message)
                except Exception:  # noqa: BLE001 - one bad message never stops the hub
                    log.exception("socket hub: could not route %s", type(message).__name__)

    def route(self, topic: str, m: Any) -> None:
        if not self._by_area:
            return
        self.routed += 1
        if topic == TOPIC_COUNTS and isinstance(m, AreaCounts):
            self._route_counts(m)
            return
        if isinstance(m, SnapshotNews):
            for item in m.items:
                if self.svc.sites.has_camera(item.camera):
                    self._route_snapshot(item.camera, item.t_ms)
            return
        camera = getattr(m, "camera", None)
        if not isinstance(camera, str) or not self.svc.sites.has_camera(camera):
            return
        if topic == TOPIC_SNAPSHOT and isinstance(m, SnapshotReady):
            self._route_snapshot(camera, m.t_ms)
            return
        texts: dict[str, dict[str, Any]] = {}
        for area in self.svc.sites.ancestors(camera):
            for feed in self._by_area.get(area.path, ()):
                if not feed.scope.covers(camera):
                    continue
                if topic == TOPIC_STATUS and isinstance(m, StatusChange):
                    out = texts.get(feed.lang)
                    if out is None:
                        out = texts[feed.lang] = status_message(m, feed.lang, self.tz)
                    feed.offer(out)
                elif topic == TOPIC_MOTION and isinstance(m, MotionChange):
                    feed.offer({"type": "motion", "camera": m.camera, "motion": m.motion, "score": m.score,
                                "t_ms": m.t_ms})

    def _route_snapshot(self, camera: str, t_ms: int) -> None:
        for feed in self._watching.get(camera, ()):  # their watch lists hold only what they may see
            feed.pending[camera] = t_ms
        if not self._unsaid:
            return
        for area in self.svc.sites.ancestors(camera):
            for feed in self._by_area.get(area.path, ()):
                if feed in self._unsaid and feed.scope.covers(camera):
                    feed.offer({"type": "snapshot", "camera": camera, "t_ms": t_ms})

    def _route_counts(self, m: AreaCounts) -> None:
        changed = m.areas.keys()
        for feed in self.feeds():
            hit = feed.count_areas.intersection(changed)
            roots_hit = not hit and not feed.scope.is_city and any(
                r in changed and is_within(r, feed.area.path) for r in feed.scope.roots)
            if hit or roots_hit:
                feed.offer(self.counts_message(feed, hit))

    # -- what a socket is sent -------------------------------------------------------------------------

    def counts_message(self, feed: SocketFeed, children: Iterable[str] | None = None) -> dict[str, Any]:
        """The socket's area counts (scoped) and those of ``children`` (all of them when None)."""
        agg = self.svc.aggregates
        kids = feed.area.children if children is None else [c for c in feed.area.children if c in children]
        return {
            "type": "counts",
            "counts": agg.scoped(feed.area.path, feed.scope.roots).as_dict(),
            "child_counts": {c: agg.counts(c).as_dict() for c in kids},
        }

    def snapshot(self, feed: SocketFeed, kind: str) -> dict[str, Any]:
        """A fresh picture of the socket's area: counts of it and every child, and the state of the cameras it
        watches (or, before it said, of its area's first MAX_WATCH cameras). ``kind``: "hello" or "resync"."""
        msg = self.counts_message(feed)
        msg["type"] = kind
        msg["area"] = feed.area.path
        live = self.svc.live
        cams = feed.watch if feed.watch is not None else feed.area.cameras[:MAX_WATCH]
        states = {}
        for path in cams:
            cam = live.get(path)
            if cam is None or not feed.visible(path):
                continue
            states[path] = camera_state(cam.path, cam.state, cam.reason, cam.since_ms, cam.motion, feed.lang,
                                        self.tz)
            if cam.snapshot_ms:
                states[path]["snapshot_ms"] = cam.snapshot_ms
        msg["cameras"] = states
        return msg


def status_message(m: StatusChange, lang: str, tz: ZoneInfo) -> dict[str, Any]:
    d = camera_state(m.camera, str(m.state), m.reason, m.since_ms, None, lang, tz)
    d["type"] = "status"
    return d


def camera_state(camera: str, state: str, reason: str, since_ms: int, motion: bool | None, lang: str,
                 tz: ZoneInfo) -> dict[str, Any]:
    d: dict[str, Any] = {
        "camera": camera,
        "state": state,
        "reason": reason,
        "since": iso_utc(since_ms),
        "since_ms": since_ms,
        "state_label": state_label(lang, state),
        "reason_text": reason_text(state, reason, lang),
        "since_text": format_ms(since_ms, tz, lang),
    }
    if motion is not None:
        d["motion"] = motion
    return d
