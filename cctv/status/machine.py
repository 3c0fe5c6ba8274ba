"""Per-camera status: online / degraded(reason) / offline(reason), debounced. Pure logic.

Fed with what the camera's worker saw (data flowing, connection errors, per-sample health flags) and a
periodic ``tick``; returns the ``StatusChange`` records to publish. Times come in as (monotonic seconds,
wall ms) pairs so tests drive it with a FakeClock.

Rules (docs/status.md):
- offline: no packet for ``offline_after_s`` — since the last packet, or since start. The outage is dated
  from the last packet (or start), so uptime counts the whole gap; the reason is the last connection error,
  ``stalled`` when the session was open but silent, ``timeout`` otherwise.
- degraded: a health flag present in every sample for ``degraded_after_s``; dated from its first sample.
- online again: packets flow, and (from degraded) no flag for ``recover_after_s``; dated from the first
  clean sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from cctv.status.messages import DEGRADED_PRIORITY, Reason, State, StatusChange

# Errors that say less than what an outage is already known as: they never relabel it.
# (A stalled server often fails the next DESCRIBE with garbage, which FFmpeg calls invalid data.)
VAGUE_REASONS = frozenset({Reason.TIMEOUT, Reason.EOF, Reason.ERROR, Reason.STALLED, Reason.DECODE})


@dataclass(frozen=True, slots=True)
class StatusParams:
    offline_after_s: float = 10.0
    degraded_after_s: float = 4.0
    recover_after_s: float = 4.0


@dataclass(slots=True)
class _Mark:
    mono: float
    ms: int


class CameraStatus:
    def __init__(self, camera: str, params: StatusParams, mono: float, ms: int) -> None:
        self.camera = camera
        self.params = params
        self.state: State | None = None  # None: no verdict yet since start
        self.reason: str = Reason.STARTING
        self.since_ms: int = ms
        self._started = _Mark(mono, ms)
        self._last_data: _Mark | None = None
        self._session_open = False
        self._last_error: str = ""
        self._flag_onset: dict[str, _Mark] = {}  # flags present in every sample since their onset
        self._clean_since: _Mark | None = None  # first clean sample after a flagged one

    # -- inputs -----------------------------------------------------------------------------------

    def on_connected(self, mono: float, ms: int) -> list[StatusChange]:
        self._session_open = True
        return self.tick(mono, ms)

    def on_disconnected(self, mono: float, ms: int, reason: str) -> list[StatusChange]:
        self._session_open = False
        self._last_error = reason or Reason.ERROR
        return self.tick(mono, ms)

    def excuse(self, seconds: float) -> None:
        """The node itself stood still for ``seconds`` (its loop was late): that time is not the camera's
        silence. Only the silence deadline moves; what is dated (the last packet's wall time) does not."""
        if seconds <= 0:
            return
        if self._last_data is not None:
            self._last_data = _Mark(self._last_data.mono + seconds, self._last_data.ms)
        self._started = _Mark(self._started.mono + seconds, self._started.ms)

    def on_data(self, mono: float, ms: int) -> list[StatusChange]:
        """Packets arrived (reported by the worker's stats or implied by a sample)."""
        first = self._last_data is None or (mono - self._last_data.mono) >= self.params.offline_after_s
        self._last_data = _Mark(mono, ms)
        self._last_error = ""
        changes: list[StatusChange] = []
        if self.state in (None, State.OFFLINE):
            if first:
                self._flag_onset.clear()
                self._clean_since = None
            changes += self._enter(State.ONLINE, "", ms)
        return changes

    def on_sample(self, mono: float, ms: int, flags: frozenset[str]) -> list[StatusChange]:
        changes = self.on_data(mono, ms)
        for gone in set(self._flag_onset) - flags:
            del self._flag_onset[gone]
        for flag in flags:
            self._flag_onset.setdefault(flag, _Mark(mono, ms))
        if flags:
            self._clean_since = None
        elif self._clean_since is None:
            self._clean_since = _Mark(mono, ms)
        return changes + self._evaluate_health(mono, ms)

    def tick(self, mono: float, ms: int) -> list[StatusChange]:
        ref = self._last_data or self._started
        if self.state is not State.OFFLINE and mono - ref.mono >= self.params.offline_after_s:
            if self._last_error:
                reason = self._last_error
            elif self._session_open:
                reason = Reason.STALLED
            else:
                reason = Reason.TIMEOUT
            self._flag_onset.clear()
            self._clean_since = None
            return self._enter(State.OFFLINE, reason, ref.ms)
        if (
            self.state is State.OFFLINE
            and self._last_error
            and self._last_error not in VAGUE_REASONS
            and self.reason != self._last_error
        ):
            # still offline, but now we know better why (e.g. stalled, then the mount answers 404)
            return self._enter(State.OFFLINE, self._last_error, ms)
        return []

    # -- internals --------------------------------------------------------------------------------

    def _evaluate_health(self, mono: float, ms: int) -> list[StatusChange]:
        if self.state is None or self.state is State.OFFLINE:
            return []
        due = [
            f for f, onset in self._flag_onset.items() if mono - onset.mono >= self.params.degraded_after_s
        ]
        if due:
            reason = min(due, key=_priority)
            if self.state is not State.DEGRADED or self.reason != reason:
                return self._enter(State.DEGRADED, reason, self._flag_onset[reason].ms)
            return []
        clean = self._clean_since
        if self.state is State.DEGRADED and clean is not None and mono - clean.mono >= self.params.recover_after_s:
            return self._enter(State.ONLINE, "", clean.ms)
        return []

    def _enter(self, state: State, reason: str, since_ms: int) -> list[StatusChange]:
        if state is self.state and reason == self.reason:
            return []
        since_ms = max(since_ms, self.since_ms) if self.state is not None else since_ms
        change = StatusChange(
            camera=self.camera,
            state=state,
            reason=str(reason),
            since_ms=since_ms,
            previous=self.state,
            previous_reason=self.reason if self.state is not None else "",
        )
        self.state, self.reason, self.since_ms = state, str(reason), since_ms
        return [change]


def _priority(flag: str) -> tuple[int, str]:
    try:
        return (DEGRADED_PRIORITY.index(flag), flag)
    except ValueError:
        return (len(DEGRADED_PRIORITY), flag)
