"""Circuit breaker for authentication failures.

Cheap cameras lock out an address after a handful of failed logins, and a wrong password will not fix itself
in seconds: after ``threshold`` authentication failures in a row the breaker opens and the camera is tried only
every ``retry_s`` (a half-open probe); one session that gets past authentication closes it.
"""

from __future__ import annotations

from cctv.status.messages import Reason


class AuthBreaker:
    def __init__(self, threshold: int = 3, retry_s: float = 600.0) -> None:
        self.threshold = threshold
        self.retry_s = retry_s
        self.failures = 0

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    def record(self, reason: str) -> None:
        """The outcome of one attempt: its failure reason, or "" when it got past authentication."""
        self.failures = self.failures + 1 if reason == Reason.AUTH else 0

    def delay(self, backoff_s: float) -> float:
        """How long to wait before the next attempt, given what the ordinary backoff proposes."""
        return max(backoff_s, self.retry_s) if self.open else backoff_s
