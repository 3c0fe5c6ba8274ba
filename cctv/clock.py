"""Time, injected: wall-clock milliseconds for records, a monotonic clock for durations.

Production code takes a ``Clock``; tests pass a ``FakeClock`` and advance it, so no test sleeps.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time, UTC milliseconds since the epoch (for records)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards (for durations)."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to. Wall and monotonic time advance together."""

    def __init__(self, start_ms: int = 1_767_225_600_000, start_mono: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._ms = start_ms
        self._mono = start_mono

    def now_ms(self) -> int:
        with self._lock:
            return self._ms

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._ms += round(seconds * 1000)
            self._mono += seconds
