"""Events with a start, an end and a peak, from per-sample verdicts. Pure, sample time in seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Event:
    kind: str
    start: float
    end: float | None = None  # None while the event is still open
    peak: float = 0.0


class EventTracker:
    """Opens an event on the first active sample; closes it after ``hold_s`` without one.

    The end is the time of the last active sample, so a hold never lengthens the event it closes. The same
    rule serves a file (``cctv analyze``: the next sample closes it) and a live camera (the status monitor:
    :meth:`tick` closes it when no sample came for ``hold_s``).
    """

    def __init__(self, kind: str, hold_s: float) -> None:
        self.kind = kind
        self.hold_s = hold_s
        self.current: Event | None = None
        self._last_active: float | None = None

    def update(self, t: float, active: bool, score: float = 0.0) -> list[Event]:
        """Feed one sample; returns the events that opened or closed with it (an open one has end None)."""
        out: list[Event] = []
        cur = self.current
        if (
            cur is not None
            and not active
            and self._last_active is not None
            and t - self._last_active >= self.hold_s
        ):
            cur.end = self._last_active
            out.append(cur)
            self.current = cur = None
        if active:
            if cur is None:
                cur = self.current = Event(self.kind, t, None, score)
                out.append(cur)
            cur.peak = max(cur.peak, score)
            self._last_active = t
        return out

    def tick(self, t: float) -> Event | None:
        """Close the open event when ``hold_s`` has passed at ``t`` since its last active sample."""
        if self.current is not None and self._last_active is not None and t - self._last_active >= self.hold_s:
            return self.finish()
        return None

    def finish(self) -> Event | None:
        """Close the open event at its last active sample (end of a file)."""
        cur, self.current = self.current, None
        if cur is not None:
            cur.end = self._last_active
        return cur
