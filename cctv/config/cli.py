"""``cctv check-config [FILE]``: validate a config file and print every problem with its line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from cctv.config.loader import ConfigError, load_config
from cctv.config.models import Config
from cctv.sites import Sites

CONFIG_ENV = "CCTV_CONFIG"
DEFAULT_CONFIG = "config.yaml"
EXIT_INVALID = 2


def default_config_path(env: Mapping[str, str] | None = None) -> str:
    """$CCTV_CONFIG if set, else ./config.yaml."""
    env = os.environ if env is None else env
    return env.get(CONFIG_ENV) or DEFAULT_CONFIG


def load_or_exit(path: str | Path | None, prog: str = "cctv") -> tuple[Path, Config]:
    """Load ``path`` (default: $CCTV_CONFIG, then ./config.yaml); on a bad config print every problem
    with its line and exit 2, so no command ever starts on one."""
    resolved = Path(path or default_config_path())
    try:
        return resolved, load_config(resolved)
    except ConfigError as exc:
        exc.source = str(resolved)
        for line in exc.lines():
            print(line, file=sys.stderr)
        print(f"{prog}: {resolved}: invalid config, nothing started", file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``check-config`` to the ``cctv`` command's subparsers."""
    p = subparsers.add_parser(
        "check-config",
        help="validate config.yaml and print each problem with its line",
        description="Validate a config file. Prints a one-line summary and exits 0 when it is valid; "
        "otherwise prints FILE:LINE: key.path: message for every problem on stderr and exits 2. "
        f"FILE defaults to ${CONFIG_ENV}, then ./{DEFAULT_CONFIG}.",
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="config file to check")
    p.add_argument("--config", dest="config_file", metavar="FILE", help="config file to check (same as FILE)")
    p.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    path = getattr(args, "config_file", None) or getattr(args, "file", None) or default_config_path()
    try:
        config = load_config(Path(path))
    except ConfigError as exc:
        exc.source = str(path)
        for line in exc.lines():
            print(line, file=sys.stderr)
        n = len(exc.issues)
        print(f"{path}: {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
        return EXIT_INVALID
    sites = Sites(config)
    levels = [a.level for a in sites.areas]
    print(
        f"{path}: OK, {config.site.name}: {levels.count('kecamatan')} kecamatan, "
        f"{levels.count('kelurahan')} kelurahan, {levels.count('rt')} RT, {len(sites.cameras)} cameras"
    )
    return 0
