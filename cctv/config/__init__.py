"""config.yaml: its schema (models), its loader and the check-config command."""

from cctv.config.loader import ConfigError, ConfigIssue, data_dir_of, load_config, parse_config
from cctv.config.models import (
    Bus,
    Camera,
    Checks,
    Config,
    Ingest,
    Kecamatan,
    Kelurahan,
    Rt,
    Sim,
    SimCamera,
    Site,
    Status,
    Store,
    Web,
)

__all__ = [
    "Bus",
    "Camera",
    "Checks",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "Ingest",
    "Kecamatan",
    "Kelurahan",
    "Rt",
    "Sim",
    "SimCamera",
    "Site",
    "Status",
    "Store",
    "Web",
    "data_dir_of",
    "load_config",
    "parse_config",
]
