"""The alert feed's debounce: a flapping camera is one alert, not a hundred. Pure (no I/O, no clock).

- An alert opens when a camera changes to offline or degraded and has no open alert.
- While it is open, every further change folds into it: a change to offline or degraded updates its state and
  reason (``worst_state`` keeps offline once seen) and counts in ``changes``; a change to online marks it
  ``recovered_ms``; a bad change after that clears the mark (the camera is flapping: still the same alert).
- It closes, at ``recovered_ms``, once the camera has stayed online for ``stable_ms`` (default 5 min): found
  by :meth:`Debouncer.tick` with the wall clock, or by the next change if that comes later than ``stable_ms``
  after the recovery (then a new alert opens for it). Either way the result does not depend on how often
  ``tick`` runs.

Times are the status changes' ``since_ms`` (backdated like the intervals: docs/status.md). Acknowledging
(who, when) is kept beside, in the store; folding never clears an acknowledgement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from cctv.status.messages import StatusChange

STABLE_MS = 5 * 60 * 1000
BAD = ("offline", "degraded")


@dataclass(frozen=True, slots=True)
class Alert:
    camera: str
    opened_ms: int
    state: str  # the latest bad state: "offline" or "degraded"
    reason: str
    worst_state: str  # "offline" once the camera was offline during the alert
    changes: int  # bad changes folded into it (1 for the one that opened it)
    last_change_ms: int
    recovered_ms: int | None = None  # back online since (not yet stable)
    closed_ms: int | None = None
    id: int | None = None  # the store's row id, when known
    acked_by: str | None = None
    acked_ms: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: str  # "open" | "update" | "close"
    alert: Alert


class Debouncer:
    """Open alerts per camera; feed it status changes in order and tick it now and then."""

    def __init__(self, stable_ms: int = STABLE_MS) -> None:
        if stable_ms <= 0:
            raise ValueError(f"stable_ms must be > 0, not {stable_ms}")
        self.stable_ms = stable_ms
        self.open: dict[str, Alert] = {}

    def load(self, alerts: Iterable[Alert]) -> None:
        """Start from the store's open alerts (after a restart)."""
        self.open = {a.camera: a for a in alerts if a.is_open}

    def on_change(self, change: StatusChange) -> list[AlertEvent]:
        state, t = str(change.state), change.since_ms
        events: list[AlertEvent] = []
        cur = self.open.get(change.camera)
        if cur is not None and cur.recovered_ms is not None and t - cur.recovered_ms >= self.stable_ms:
            events.append(self._close(cur))  # stable for long enough before this change: that alert is over
            cur = None
        if state in BAD:
            if cur is None:
                new = Alert(change.camera, t, state, change.reason, state, 1, t)
                self.open[change.camera] = new
                events.append(AlertEvent("open", new))
            else:
                worst = "offline" if "offline" in (cur.worst_state, state) else state
                new = replace(
                    cur,
                    state=state,
                    reason=change.reason,
                    worst_state=worst,
                    changes=cur.changes + 1,
                    last_change_ms=max(cur.last_change_ms, t),
                    recovered_ms=None,
                )
                self.open[change.camera] = new
                events.append(AlertEvent("update", new))
        elif cur is not None and cur.recovered_ms is None:
            new = replace(cur, recovered_ms=t, last_change_ms=max(cur.last_change_ms, t))
            self.open[change.camera] = new
            events.append(AlertEvent("update", new))
        return events

    def tick(self, now_ms: int) -> list[AlertEvent]:
        """Close the alerts whose camera has been back online for ``stable_ms`` at ``now_ms``."""
        due = [
            a
            for a in self.open.values()
            if a.recovered_ms is not None and now_ms - a.recovered_ms >= self.stable_ms
        ]
        return [self._close(a) for a in due]

    def set_id(self, camera: str, opened_ms: int, alert_id: int) -> None:
        cur = self.open.get(camera)
        if cur is not None and cur.opened_ms == opened_ms:
            self.open[camera] = replace(cur, id=alert_id)

    def _close(self, a: Alert) -> AlertEvent:
        closed = replace(a, closed_ms=a.recovered_ms)
        del self.open[a.camera]
        return AlertEvent("close", closed)
