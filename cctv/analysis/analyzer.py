"""One camera's checks over its analysed frames: motion and every health check → CameraSample.

The worker calls ``note_packet(t)`` for every packet (cheap: it feeds the frame-rate meter) and
``analyse(y_plane, t, t_ms)`` for every analysed frame; ``reset()`` after a reconnect forgets the session
(previous frame, background, rate window, onsets) but keeps what was learned about the camera (its sharpness
baseline, its reference view, its picture box), because the camera is the same camera after a reconnect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cctv.analysis.baseline import Baseline, Onset
from cctv.analysis.frames import content_box, downscale_grey
from cctv.analysis.health import (
    FrozenTracker,
    RateMeter,
    changed_pct,
    gradient_map,
    luma_stats,
    mean_abs_diff,
    sharpness,
    texture,
)
from cctv.analysis.masks import MaskCache, Polygon
from cctv.analysis.motion import MotionDetector, MotionParams
from cctv.analysis.view import ViewMemory
from cctv.status.messages import CameraSample, Reason

BOX_RELEARN_S = 60.0  # a different picture box must persist this long before the checks adopt it
BOX_EVERY_S = 30.0  # bars do not move: look for them again at most this often
_INFORMATIONAL = frozenset({Reason.DARK, Reason.LOW_FPS})  # conditions that leave the picture itself usable
_DARK = frozenset({str(Reason.DARK)})
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CheckParams:
    analysis_width: int = 160
    black_luma_max: float = 20.0
    black_std_max: float = 3.0
    dark_luma_max: float = 35.0
    dark_degrades: bool = False
    covered_std_max: float = 5.5
    covered_texture_max: float = 4.0
    covered_after_s: float = 2.0
    blur_ratio: float = 0.5
    blur_after_s: float = 2.0
    baseline_warmup_s: float = 10.0
    baseline_tau_s: float = 600.0
    frozen_pixel_delta: int = 3
    frozen_changed_pct: float = 1.0
    frozen_after_s: float = 4.0
    moved_corr_min: float = 0.3
    moved_after_s: float = 2.0
    moved_relearn_s: float = 3600.0  # 0: a turned camera stays "moved" until accept_view() or a restart
    low_fps_ratio: float = 0.5
    expected_fps: float = 0.0  # 0: learn it from the stream (the highest rate seen)
    motion_pixel_delta: int = 14
    motion_noise_k: float = 4.0
    motion_min_area_pct: float = 0.15
    motion_global_pct: float = 45.0
    motion_bg_tau_s: float = 6.0
    masks: tuple[tuple[tuple[float, float], ...], ...] = field(default=())


def motion_params(p: CheckParams) -> MotionParams:
    return MotionParams(
        pixel_delta=p.motion_pixel_delta,
        noise_k=p.motion_noise_k,
        min_area_pct=p.motion_min_area_pct,
        global_pct=p.motion_global_pct,
        bg_tau_s=p.motion_bg_tau_s,
    )


class Analyzer:
    def __init__(self, camera: str, params: CheckParams) -> None:
        self.camera = camera
        self.params = params
        self._masks = MaskCache(params.masks)
        self._motion = MotionDetector(motion_params(params))
        self._sharp = Baseline(params.baseline_warmup_s, params.baseline_tau_s, median=True)
        self._view = ViewMemory(
            params.baseline_warmup_s, params.baseline_tau_s, params.moved_corr_min, params.moved_relearn_s
        )
        self._rate = RateMeter()
        self._expected_fps = params.expected_fps
        self._box: tuple[int, int, int, int] | None = None
        self._box_candidate: tuple[tuple[int, int, int, int], float] | None = None
        self._box_checked: float | None = None
        self._box_shape: tuple[int, ...] = ()
        self._new_session()
        self._measured: tuple | None = None  # the last sample's measurements, see ``health``
        self.conditions: frozenset[str] = frozenset()  # every condition seen, including informational ones

    def _new_session(self) -> None:
        p = self.params
        self._prev: np.ndarray | None = None
        self._prev_key: np.ndarray | None = None  # the last keyframe sample, for the frozen check
        self._frozen = FrozenTracker(p.frozen_after_s)
        self._frozen_now = False
        self._onsets = {
            Reason.COVERED: Onset(p.covered_after_s),
            Reason.BLURRED: Onset(p.blur_after_s),
            Reason.MOVED: Onset(p.moved_after_s),
        }
        self._motion.reset()
        self._rate.reset()

    def reset(self) -> None:
        """After a reconnect the picture may legitimately jump: forget the session, keep the camera."""
        self._new_session()

    def note_packet(self, t: float) -> None:
        """A packet with (stream) time ``t`` seconds arrived; feeds the low-fps check."""
        self._rate.add(t)

    # -- the pass over one analysed frame ----------------------------------------------------------

    def analyse(self, y_plane: np.ndarray, t: float, t_ms: int, key: bool = True) -> CameraSample:
        """``t``: sample time in seconds (stream or monotonic), ``t_ms``: wall clock of the sample.

        ``key``: whether the frame is a keyframe. Only keyframes are compared for the frozen check: between
        keyframes H.264 copies a still scene's blocks (a live quiet scene looks frozen) and refines a frozen
        one's detail (a frozen picture looks alive). Keyframe-only decoding passes True for every sample; a
        sampled decoder should pass ``frame.key_frame`` and analyse every keyframe (docs/analysis.md).
        """
        p = self.params
        grey = downscale_grey(y_plane, p.analysis_width)
        y0, y1, x0, x1 = self._picture_box(grey, t)
        pic = grey[y0:y1, x0:x1]
        stats = luma_stats(pic)
        cond: set[str] = set()

        black = stats.mean <= p.black_luma_max and stats.std <= p.black_std_max
        dark = not black and stats.mean <= p.dark_luma_max
        tex = texture(pic)
        sharp = sharpness(tex, stats)
        # covered: flat and without texture, at any brightness short of black (an IR-lit hand is dark)
        covered_now = not black and stats.std <= p.covered_std_max and tex <= p.covered_texture_max
        if black:
            cond.add(Reason.BLACK)
        elif dark and not covered_now:
            cond.add(Reason.DARK)
        if self._onsets[Reason.COVERED].update(t, covered_now):
            cond.add(Reason.COVERED)
        blind = black or covered_now  # nothing of the view to judge sharpness or aim on

        # blurred: sharpness against this camera's own baseline
        blur_ratio = None
        if self._sharp.ready and not blind and self._sharp.value:
            blur_ratio = sharp / float(self._sharp.value)
        blurred_now = blur_ratio is not None and blur_ratio < p.blur_ratio
        if self._onsets[Reason.BLURRED].update(t, blurred_now):
            cond.add(Reason.BLURRED)

        # moved: coarse gradient map against the learned reference view (re-learned after a re-aim)
        gmap = gradient_map(pic) if not blind and not dark else None
        corr = self._view.compare(gmap) if gmap is not None else None
        moved_now = corr is not None and corr < p.moved_corr_min
        if moved_now and gmap is not None and self._view.track_moved(t, gmap):
            moved_now = False  # the same new view held for moved_relearn_s: it is the reference now
            self._onsets[Reason.MOVED].reset()
        elif corr is not None and not moved_now:
            self._view.drop_candidate()
        if self._onsets[Reason.MOVED].update(t, moved_now):
            cond.add(Reason.MOVED)

        # frozen: the same picture (within a tolerance, outside the masks) for a run of keyframes
        keep = self._masks.get(grey.shape)
        prev = self._prev
        changed = unchanged = None
        if key:
            prev_key = self._prev_key
            changed = None if prev_key is None else changed_pct(prev_key, grey, p.frozen_pixel_delta, keep)
            unchanged = None if changed is None else changed <= p.frozen_changed_pct
            self._frozen_now = self._frozen.update(t, unchanged)
            self._prev_key = grey
        if self._frozen_now and not blind:
            cond.add(Reason.FROZEN)

        # low frame rate against the configured (or learned) rate
        fps = self._rate.fps()
        if fps is not None and not p.expected_fps:
            self._expected_fps = max(self._expected_fps, fps)
        if fps is not None and self._expected_fps and fps < p.low_fps_ratio * self._expected_fps:
            cond.add(Reason.LOW_FPS)

        motion = self._motion.update(grey, t, keep)
        self._prev = grey

        # learn the camera while it is healthy (never from a picture with a problem)
        problems = cond - _INFORMATIONAL
        if not problems and not blind and not unchanged and not blurred_now and not moved_now:
            if not dark:
                self._sharp.update(t, sharp)
            if gmap is not None:
                self._view.learn(t, gmap)

        conditions = self.conditions = frozenset(map(str, cond)) if cond else _NONE
        self._measured = (t, stats, tex, blur_ratio, corr, changed, fps)
        flags = conditions if p.dark_degrades or Reason.DARK not in conditions else conditions - _DARK
        return CameraSample(
            camera=self.camera,
            t_ms=t_ms,
            motion_score=motion.score,
            motion=motion.motion and not problems,
            luma_mean=round(stats.mean, 2),
            luma_std=round(stats.std, 2),
            frozen_diff=None if prev is None else round(mean_abs_diff(prev, grey), 4),
            flags=flags,
        )

    @property
    def health(self) -> dict[str, float | None]:
        """The last sample's measurements (for `cctv analyze`; built on demand, not on the worker's path)."""
        if self._measured is None:
            return {}
        t, stats, tex, blur_ratio, corr, changed, fps = self._measured
        return {
            "luma": round(stats.mean, 2),
            "contrast": round(stats.std, 2),
            "texture": round(tex, 2),
            "sharpness_ratio": None if blur_ratio is None else round(blur_ratio, 3),
            "view_corr": None if corr is None else round(corr, 3),
            "new_view_s": self._view.new_view_s(t),
            "changed_pct": None if changed is None else round(changed, 3),
            "fps": None if fps is None else round(fps, 2),
        }

    def accept_view(self) -> None:
        """Someone confirmed a deliberate re-aim (or refocus): learn the view and its sharpness afresh.

        Until the warm-up (``baseline_warmup_s``) is over the moved and blurred checks give no verdict.
        """
        self._view.accept()
        self._sharp.forget()
        self._onsets[Reason.MOVED].reset()
        self._onsets[Reason.BLURRED].reset()

    def _picture_box(self, grey: np.ndarray, t: float) -> tuple[int, int, int, int]:
        """The picture inside letterbox/pillarbox bars, learned: a new box must persist BOX_RELEARN_S."""
        h, w = grey.shape
        full = (0, h, 0, w)
        if grey.shape != self._box_shape:  # the stream's resolution changed: its bars may have too
            self._box_shape, self._box, self._box_candidate, self._box_checked = grey.shape, None, None, None
        recent = self._box_checked is not None and 0 <= t - self._box_checked < BOX_EVERY_S
        if recent and self._box is not None:
            return self._box
        self._box_checked = t
        box = content_box(grey)
        if box is not None and self._box is None:
            self._box = box
        elif box is not None and box != self._box:
            if self._box_candidate is None or self._box_candidate[0] != box:
                self._box_candidate = (box, t)
            elif t - self._box_candidate[1] >= BOX_RELEARN_S:
                self._box, self._box_candidate = box, None
        else:
            self._box_candidate = None
        return self._box or full


def polygons(masks: Sequence[Sequence[Sequence[float]]]) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Config masks (lists of [x, y] in 0..1) as the hashable tuples CheckParams holds."""
    return tuple(tuple((float(x), float(y)) for x, y in poly) for poly in masks)


__all__ = ["Analyzer", "CheckParams", "Polygon", "motion_params", "polygons"]
