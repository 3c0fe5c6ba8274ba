"""The moved/turned check's memory: the camera's reference view, and re-learning it after a re-aim.

The reference is the per-pixel median of the gradient maps seen over the warm-up (a passing car is ignored),
then an exponential average (time constant ``tau_s``) of healthy samples, updated at most every
``REF_UPDATE_S`` of sample time: the average moves over ten minutes, so a finer cadence adds nothing, and
between updates every comparison reuses the reference's per-cell normalisation (``ReferenceView``).

A camera that has been turned keeps failing the check. Two ways out (docs/analysis.md, "Re-aimed cameras"):

- ``accept()``: someone confirmed a deliberate re-aim: forget the reference, learn the new view over the next
  warm-up;
- automatically, when ``relearn_s`` > 0: while the camera is "moved", the new view is learned on the side
  (a running mean of the moved samples' maps); every moved sample must match it (correlation at least
  ``corr_min``, the same test that says "same view" for the reference) or the new view starts again; once the
  same new view has held for ``relearn_s`` of sample time, it becomes the reference.
"""

from __future__ import annotations

import numpy as np

from cctv.analysis.baseline import Baseline
from cctv.analysis.health import ReferenceView

REF_UPDATE_S = 30.0  # after the warm-up, the reference takes a healthy sample at most this often
REF_WARM_EVERY_S = 1.0  # during the warm-up, at most one sample a second goes into the median
CANDIDATE_MAX_N = 30  # the new view's running mean weighs the last ~30 samples


class ViewMemory:
    def __init__(self, warmup_s: float, tau_s: float, corr_min: float, relearn_s: float) -> None:
        self.corr_min = corr_min
        self.relearn_s = relearn_s
        self._ref = Baseline(warmup_s, tau_s, median=True)
        self._view: ReferenceView | None = None
        self._learned_at: float | None = None
        self._cand: np.ndarray | None = None
        self._cand_view: ReferenceView | None = None
        self._cand_since = 0.0
        self._cand_n = 0
        self.relearned = 0  # how many times a new view was adopted automatically

    @property
    def ready(self) -> bool:
        return self._view is not None

    def compare(self, gmap: np.ndarray) -> float | None:
        """Correlation (-1..1) of a gradient map with the reference; None while there is no reference yet.

        A map of another shape (the stream's resolution or the picture's bars changed) cannot be compared:
        the reference is forgotten and learned again, instead of calling the new geometry a move.
        """
        if self._view is None:
            return None
        if gmap.shape != self._view.map.shape:
            self.accept()
            return None
        return self._view.correlation(gmap)

    def learn(self, t: float, gmap: np.ndarray) -> None:
        """A healthy sample's map: into the warm-up median, or (at most every REF_UPDATE_S) the slow average."""
        last = self._learned_at
        every = REF_UPDATE_S if self._view is not None else REF_WARM_EVERY_S
        if last is not None and 0 <= t - last < every:
            return
        self._learned_at = t
        self._ref.update(t, gmap)
        if self._ref.ready and isinstance(self._ref.value, np.ndarray):
            self._view = ReferenceView(self._ref.value)

    def track_moved(self, t: float, gmap: np.ndarray) -> bool:
        """A moved sample's map. True when the new view has held for ``relearn_s`` and is now the reference."""
        if self.relearn_s <= 0:
            return False
        cand_view = self._cand_view
        if self._cand is None or cand_view is None or cand_view.correlation(gmap) < self.corr_min:
            self._cand = gmap.astype(np.float32)  # a first look at a new view, or the view changed again
            self._cand_view = ReferenceView(self._cand)
            self._cand_since, self._cand_n = t, 1
            return False
        self._cand_n = min(self._cand_n + 1, CANDIDATE_MAX_N)
        self._cand = self._cand + (gmap - self._cand) / np.float32(self._cand_n)
        if t - self._cand_since < self.relearn_s:
            self._cand_view = ReferenceView(self._cand)
            return False
        self._ref.adopt(t, self._cand)
        self._view = ReferenceView(self._cand)
        self._learned_at = t
        self.relearned += 1
        self.drop_candidate()
        return True

    def drop_candidate(self) -> None:
        """The view matches the reference again (or was never judged): no new view is being learned."""
        self._cand, self._cand_view, self._cand_n = None, None, 0

    def new_view_s(self, t: float) -> float | None:
        """How long the current new view has held (sample seconds), None when there is none."""
        return None if self._cand is None else round(t - self._cand_since, 1)

    def accept(self) -> None:
        """A deliberate re-aim was confirmed: forget the reference; the next healthy samples learn the view."""
        self._ref.forget()
        self._view, self._learned_at = None, None
        self.drop_candidate()
