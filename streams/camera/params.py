"""A camera's ingest and check parameters from the config (used by the ingest processes and `cctv analyze`).

The processes themselves are run by streams/ingest/pool.py (docs/ingest.md).
"""

from __future__ import annotations

from cctv.analysis.analyzer import CheckParams, polygons
from cctv.config.models import Camera, Config
from streams.camera.opener import OpenParams
from streams.camera.thread_worker import WorkerParams


def worker_params(config: Config, decode: str | None = None) -> WorkerParams:
    ing = config.ingest
    return WorkerParams(
        open=OpenParams(connect_timeout_s=ing.connect_timeout_s, read_timeout_s=ing.stall_timeout_s),
        decode=decode or ing.decode,
        sample_fps=ing.sample_fps,
        backoff_initial_s=ing.backoff_initial_s,
        backoff_max_s=ing.backoff_max_s,
        snapshot_width=ing.snapshot_width,
        snapshot_interval_s=ing.snapshot_interval_s,
    )


def check_params(config: Config, camera: Camera | None = None) -> CheckParams:
    """The checks' parameters for ``camera`` (its masks and expected fps), or the site defaults."""
    c = config.checks
    fields = {name: getattr(c, name) for name in type(c).model_fields if name in CheckParams.__dataclass_fields__}
    return CheckParams(
        analysis_width=config.ingest.analysis_width,
        masks=polygons(camera.masks) if camera is not None else (),
        expected_fps=(camera.expected_fps or 0.0) if camera is not None else 0.0,
        **fields,
    )


def config_cameras(config: Config) -> dict[str, Camera]:
    """Every camera of the config by its path (the Camera model carries the per-camera check settings)."""
    return {
        f"{k.slug}/{kl.slug}/{rt.slug}/{cam.slug}": cam
        for k in config.kecamatan
        for kl in k.kelurahan
        for rt in kl.rt
        for cam in rt.cameras
    }
