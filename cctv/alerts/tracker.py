"""The alert tracker: conditions in, open / update / close events out. Pure (no I/O, no clock).

One rule for every kind (cctv/alerts/model.py): the condition's presence opens the (kind, subject)'s alert or
folds into the open one; its absence sets ``recovered_ms``; the alert closes, dated at that mark, once the
condition has stayed absent for the kind's stability delay (``stable_ms`` for camera alerts, default 5 min;
``clear_ms`` for node alerts). The close is found by :meth:`Tracker.tick` with the wall clock, by a node
observation (it is one), or by the next presence if that comes later than the delay after the recovery (then a
new alert opens for it): the result does not depend on how often either runs.

How presence folds, per kind:

- camera alerts (:meth:`Tracker.on_change`, status changes in order, at their backdated ``since_ms``): a
  change to offline or degraded updates ``state`` and ``reason`` (``worst_state`` keeps offline once seen)
  and counts in ``changes``; a change to online is the absence. A bad change during the recovery clears the
  mark (the camera is flapping: still the same alert). Every change that alters the alert is written.
- node alerts (:meth:`Tracker.observe`, one observation per kind and node, in time order): ``cameras``
  collects every camera the condition touched (a union: after the disk is freed one still knows whose
  recordings have a hole), ``cameras_now`` those at the last observation. It is written when either
  changes, and at least every ``refresh_ms`` while the condition holds, so ``last_seen_ms`` shows it is still
  being watched. A recorder retries a full disk every ``recording.disk_full_retry_s``: a short success between
  failures is not a recovery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from cctv.alerts.model import (
    BAD,
    CAMERA,
    NODE_KINDS,
    Alert,
    AlertEvent,
    Observation,
    camera_alert,
    node_alert,
)
from cctv.status.messages import State, StatusChange

UNMONITORED = State.UNMONITORED.value

STABLE_MS = 5 * 60 * 1000  # camera alerts
CLEAR_MS = 60 * 1000  # node alerts (recording.alert_clear_s)
REFRESH_MS = 60 * 1000

Key = tuple[str, str]  # (kind, subject)


class Tracker:
    """The open alerts by (kind, subject)."""

    def __init__(self, stable_ms: int = STABLE_MS, clear_ms: int = CLEAR_MS, refresh_ms: int = REFRESH_MS) -> None:
        for name, v in (("stable_ms", stable_ms), ("clear_ms", clear_ms), ("refresh_ms", refresh_ms)):
            if v <= 0:
                raise ValueError(f"{name} must be > 0, not {v}")
        self.stable_ms, self.clear_ms, self.refresh_ms = stable_ms, clear_ms, refresh_ms
        self.open: dict[Key, Alert] = {}
        self._written_ms: dict[Key, int] = {}  # when a node alert was last written

    def delay_ms(self, kind: str) -> int:
        return self.stable_ms if kind == CAMERA else self.clear_ms

    def load(self, alerts: Iterable[Alert]) -> None:
        """Start from the store's open alerts after a restart (a node alert closes if its condition is not seen
        again)."""
        self.open = {a.key: a for a in alerts if a.is_open}
        self._written_ms = {a.key: a.last_seen_ms for a in self.open.values() if a.last_seen_ms is not None}

    def adopt(self, camera: str, alerts: Iterable[Alert]) -> None:
        """An ingest node among many took ``camera``: go on from its open alert in the store (opened by the
        node that had it), so a new bad state updates that alert instead of opening a second."""
        for a in alerts:
            if a.is_open and a.kind == CAMERA and a.subject == camera:
                self.open[a.key] = a

    def forget(self, camera: str) -> None:
        """``camera`` went to another node: its open alert is that node's to go on with."""
        self.open.pop((CAMERA, camera), None)

    def set_id(self, key: Key, opened_ms: int, alert_id: int) -> None:
        cur = self.open.get(key)
        if cur is not None and cur.opened_ms == opened_ms:
            self.open[key] = replace(cur, id=alert_id)

    # -- the two sources --------------------------------------------------------------------------------

    def on_change(self, change: StatusChange) -> list[AlertEvent]:
        """A camera's status change."""
        state, t, key = str(change.state), change.since_ms, (CAMERA, change.camera)
        events = self._close_if_due(key, t)
        if state == UNMONITORED:
            return events  # nobody watches it for a moment (a node lost or a handover): neither bad nor repaired
        cur = self.open.get(key)
        if state in BAD:
            if cur is None:
                return events + self._put(camera_alert(change.camera, t, state, change.reason), "open")
            worst = "offline" if "offline" in (cur.worst_state, state) else state
            return events + self._put(replace(
                cur,
                state=state,
                reason=change.reason,
                worst_state=worst,
                changes=cur.changes + 1,
                last_change_ms=max(cur.last_change_ms or t, t),
                recovered_ms=None,
            ), "update")
        if cur is not None and cur.recovered_ms is None:
            return events + self._put(
                replace(cur, recovered_ms=t, last_change_ms=max(cur.last_change_ms or t, t)), "update"
            )
        return events

    def observe(self, now_ms: int, node: str, kind: str, obs: Observation) -> list[AlertEvent]:
        """One observation of a node condition."""
        if kind not in NODE_KINDS:
            raise ValueError(f"unknown node alert kind {kind!r} (known: {', '.join(NODE_KINDS)})")
        key = (kind, node)
        cur = self.open.get(key)
        if not obs.active:
            if cur is None:
                return []
            disk = {"free_bytes": obs.free_bytes, "total_bytes": obs.total_bytes}
            self.open[key] = replace(  # not written: nothing to show until it closes or comes back
                cur, recovered_ms=now_ms if cur.recovered_ms is None else cur.recovered_ms,
                **{k: v for k, v in disk.items() if v is not None},
            )
            return self._close_if_due(key, now_ms)
        events = self._close_if_due(key, now_ms)
        cur = self.open.get(key)
        if cur is None:
            return events + self._put(node_alert(node, kind, now_ms, obs.cameras, free_bytes=obs.free_bytes,
                                                 total_bytes=obs.total_bytes), "open")
        cams = tuple(sorted(set(obs.cameras)))
        union = tuple(sorted(set(cur.cameras) | set(cams)))
        new = replace(cur, last_seen_ms=max(cur.last_seen_ms or now_ms, now_ms), cameras=union,
                      cameras_now=cams, free_bytes=obs.free_bytes, total_bytes=obs.total_bytes,
                      recovered_ms=None)
        changed = union != cur.cameras or cams != cur.cameras_now
        if changed or now_ms - self._written_ms.get(key, 0) >= self.refresh_ms:
            return events + self._put(new, "update")
        self.open[key] = new
        return events

    def tick(self, now_ms: int) -> list[AlertEvent]:
        """Close the alerts whose condition has been absent for their delay at ``now_ms``."""
        return [ev for key in list(self.open) for ev in self._close_if_due(key, now_ms)]

    # -- the one rule -------------------------------------------------------------------------------------

    def _put(self, alert: Alert, kind: str) -> list[AlertEvent]:
        self.open[alert.key] = alert
        if alert.last_seen_ms is not None:
            self._written_ms[alert.key] = alert.last_seen_ms
        return [AlertEvent(kind, alert)]

    def _close_if_due(self, key: Key, now_ms: int) -> list[AlertEvent]:
        cur = self.open.get(key)
        if cur is None or cur.recovered_ms is None or now_ms - cur.recovered_ms < self.delay_ms(cur.kind):
            return []
        del self.open[key]
        self._written_ms.pop(key, None)
        return [AlertEvent("close", replace(cur, closed_ms=max(cur.recovered_ms, cur.opened_ms), cameras_now=()))]
