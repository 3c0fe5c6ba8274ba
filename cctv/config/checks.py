"""The ``checks:`` section of config.yaml: thresholds of the picture checks (cctv/analysis, docs/analysis.md)."""

from __future__ import annotations

from pydantic import Field

from cctv.config.base import _Model


class Checks(_Model):
    """Thresholds of the picture checks (docs/analysis.md gives the figures behind each default)."""

    black_luma_max: float = Field(
        20.0, ge=0, le=255, description="Mean luma (0-255, inside any letterbox/pillarbox bars) at or below "
        "which a flat picture is black.",
    )
    black_std_max: float = Field(
        3.0, ge=0, le=128, description="Luma standard deviation at or below which a dark picture is black "
        "(flat); a darker-than-this-flat night picture is 'dark' instead.",
    )
    dark_luma_max: float = Field(
        35.0, ge=0, le=255, description="Mean luma at or below which a picture that is not black is 'dark' "
        "(night level). Informational unless dark_degrades.",
    )
    dark_degrades: bool = Field(
        False, description="Whether a dark picture degrades the camera. Off: night is not a fault.",
    )
    covered_std_max: float = Field(
        5.5, ge=0, le=128, description="Luma standard deviation at or below which a picture with no texture "
        "counts as a covered lens.",
    )
    covered_texture_max: float = Field(
        4.0, ge=0, le=255, description="Laplacian spread (luma levels) at or below which the picture has no "
        "texture (covered lens).",
    )
    covered_after_s: float = Field(
        2.0, ge=0, le=600, description="A covered picture must persist this long (sample time) to be flagged.",
    )
    blur_ratio: float = Field(
        0.5, gt=0, le=1, description="Sharpness below this share of the camera's learned baseline is blurred.",
    )
    blur_after_s: float = Field(
        2.0, ge=0, le=600, description="A blurred picture must persist this long (sample time) to be flagged.",
    )
    baseline_warmup_s: float = Field(
        10.0, ge=0, le=3600, description="Time each camera learns its sharpness baseline and reference view "
        "before the blurred and moved checks judge it.",
    )
    baseline_tau_s: float = Field(
        600.0, ge=10, le=604800, description="Time constant of the slow update of the baseline and reference "
        "view while the picture is healthy.",
    )
    frozen_pixel_delta: int = Field(
        3, ge=0, le=255, description="Luma change of one pixel between two samples that counts as changed for "
        "the frozen check.",
    )
    frozen_changed_pct: float = Field(
        1.0, ge=0, le=100, description="At most this share (%) of the unmasked pixels may change for two samples "
        "to be the same picture (tolerates a burnt-in clock or OSD text).",
    )
    frozen_after_s: float = Field(
        4.0, ge=2, le=3600, description="The picture must be unchanged this long to count as frozen.",
    )
    moved_corr_min: float = Field(
        0.3, ge=-1, le=1, description="Correlation of the view's coarse gradient map with the learned "
        "reference below which the camera moved.",
    )
    moved_after_s: float = Field(
        2.0, ge=0, le=600, description="A moved view must persist this long (sample time) to be flagged.",
    )
    moved_relearn_s: float = Field(
        3600.0, ge=0, le=604800, description="A moved camera whose new view stays the same this long (sample "
        "time) takes it as its reference and stops being moved; 0 keeps it moved until someone accepts the new "
        "view or the camera's worker restarts.",
    )
    low_fps_ratio: float = Field(
        0.5, gt=0, le=1, description="Packets arriving below this share of the expected frame rate are low_fps.",
    )
    motion_pixel_delta: int = Field(
        14, ge=1, le=255, description="Least luma change of one pixel (after gain/offset normalisation) that "
        "counts as changed; raised automatically on noisy pictures.",
    )
    motion_noise_k: float = Field(
        4.0, ge=0, le=50, description="A pixel must also change by this many times the picture's noise level.",
    )
    motion_min_area_pct: float = Field(
        0.15, ge=0, le=100, description="Sensitivity: the smallest moving thing that counts, as a share (%) of "
        "the unmasked picture.",
    )
    motion_global_pct: float = Field(
        45.0, gt=0, le=100, description="A change over more than this share (%) of the picture is global "
        "(lights, exposure, IR switch), not motion.",
    )
    motion_bg_tau_s: float = Field(
        6.0, gt=0, le=3600, description="Time constant of the motion background's running average.",
    )
