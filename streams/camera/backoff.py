"""Exponential backoff with full jitter and a cap."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        """Delay before the next attempt: uniform in [base/2, base], base doubling up to the cap."""
        base = min(self.max_s, self.initial_s * (2 ** self.attempt))
        self.attempt += 1
        return self._rng.uniform(base / 2, base)

    def reset(self) -> None:
        self.attempt = 0
