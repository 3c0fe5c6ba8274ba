"""Failed logins per key ("user:NAME", "ip:ADDR") with an exponential lockout, on the injected clock.

In memory and bounded (``MAX_KEYS``); the web's security middleware (web/security.py) asks it before checking
a password and tells it the outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cctv.clock import Clock
from cctv.config.models import Auth


@dataclass
class _Key:
    failures: int = 0
    first_s: float = 0.0
    locked_until_s: float = 0.0
    next_lock_s: float = 0.0


class LoginLimiter:
    """Failed logins per key ("user:NAME", "ip:ADDR") with an exponential lockout. Memory is bounded."""

    MAX_KEYS = 100_000

    def __init__(self, clock: Clock, cfg: Auth) -> None:
        self.clock = clock
        self.cfg = cfg
        self._keys: dict[str, _Key] = {}

    def retry_after(self, *keys: str) -> int:
        """Seconds until every key may try again (0: now)."""
        now = self.clock.monotonic()
        wait = 0.0
        for k in keys:
            st = self._keys.get(k)
            if st is not None and st.locked_until_s > now:
                wait = max(wait, st.locked_until_s - now)
        return math.ceil(wait)

    def failure(self, key: str, limit: int) -> None:
        now = self.clock.monotonic()
        if len(self._keys) >= self.MAX_KEYS:
            self._prune(now)
        st = self._keys.setdefault(key, _Key(first_s=now, next_lock_s=self.cfg.lockout_initial_s))
        if now - st.first_s > self.cfg.failure_window_s and st.locked_until_s <= now:
            st.failures, st.first_s, st.next_lock_s = 0, now, self.cfg.lockout_initial_s
        st.failures += 1
        if st.failures >= limit:
            st.locked_until_s = now + st.next_lock_s
            st.next_lock_s = min(st.next_lock_s * 2, self.cfg.lockout_max_s)

    def success(self, key: str) -> None:
        self._keys.pop(key, None)

    def _prune(self, now: float) -> None:
        horizon = self.cfg.failure_window_s
        for k in [k for k, st in self._keys.items() if st.locked_until_s <= now and now - st.first_s > horizon]:
            del self._keys[k]
        while len(self._keys) >= self.MAX_KEYS:  # still full: forget the oldest
            del self._keys[next(iter(self._keys))]
