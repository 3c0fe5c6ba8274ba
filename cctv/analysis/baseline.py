"""Small time-based building blocks shared by the checks: a slowly learned baseline and an onset debounce.

Both run on *sample time* (seconds), so they behave the same at keyframe-only sampling (one sample every
1-2 s) and at higher sampled rates.
"""

from __future__ import annotations

import math

import numpy as np


class Baseline:
    """A value (scalar or array) learned over a warm-up, then updated slowly while the picture is healthy.

    During the warm-up (``warmup_s`` of sample time and at least ``min_samples`` samples) the baseline is the
    running mean of what it sees; afterwards an exponential average with time constant ``tau_s``, where one
    update weighs at most ``max_step_s`` of time (so the first sample after a long night or a long fault does
    not replace what was learned). ``ready`` says whether a verdict may be given against it.
    """

    max_step_s = 60.0

    def __init__(self, warmup_s: float, tau_s: float, min_samples: int = 3, median: bool = False) -> None:
        self.median = median  # warm-up value: the per-element median (ignores what passed by) instead of mean
        self._warm: list[float | np.ndarray] = []
        self.warmup_s = warmup_s
        self.tau_s = tau_s
        self.min_samples = min_samples
        self.value: float | np.ndarray | None = None
        self.samples = 0
        self._t0: float | None = None
        self._t_last: float | None = None

    @property
    def ready(self) -> bool:
        return (
            self.value is not None
            and self.samples >= self.min_samples
            and self._t0 is not None
            and self._t_last is not None
            and self._t_last - self._t0 >= self.warmup_s
        )

    def update(self, t: float, x: float | np.ndarray) -> None:
        if self.value is None or (isinstance(x, np.ndarray) and np.shape(self.value) != x.shape):
            self.value = x.astype(np.float32) if isinstance(x, np.ndarray) else float(x)
            self.samples, self._t0, self._t_last = 1, t, t
            self._warm = [self.value] if self.median else []
            return
        was_ready = self.ready
        if self.median and not was_ready:
            self._warm.append(x)
            self.samples += 1
            self._t_last = t
            if self.ready:  # the median once, when the warm-up ends (until then value is the first sample)
                self.value = (
                    np.median(np.stack(self._warm), axis=0).astype(np.float32)
                    if isinstance(x, np.ndarray)
                    else float(np.median(self._warm))
                )
                self._warm = []
            return
        if was_ready:
            dt = min(self.max_step_s, max(0.0, t - (self._t_last or t)))
            alpha = 1.0 - math.exp(-dt / self.tau_s) if self.tau_s > 0 else 1.0
        else:
            alpha = 1.0 / (self.samples + 1)
        self.value = self.value + alpha * (x - self.value)
        self.samples += 1
        self._t_last = t

    def adopt(self, t: float, x: float | np.ndarray) -> None:
        """Take ``x`` as the learned value at once (a re-learned reference), ready for verdicts."""
        self.value = x.astype(np.float32) if isinstance(x, np.ndarray) else float(x)
        self.samples = max(self.min_samples, 1)
        self._t0, self._t_last = t - self.warmup_s, t
        self._warm = []

    def forget(self) -> None:
        self.value, self.samples, self._t0, self._t_last = None, 0, None, None
        self._warm = []


class Onset:
    """A condition becomes a verdict once it has held in every sample for ``after_s`` (0: at once)."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._since: float | None = None

    def update(self, t: float, condition: bool) -> bool:
        if not condition:
            self._since = None
            return False
        if self._since is None:
            self._since = t
        return t - self._since >= self.after_s - 0.01  # stream timestamps jitter by a millisecond

    def reset(self) -> None:
        self._since = None
