"""Fixtures of the end-to-end tests only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """Where a browser test keeps its screenshots: $CCTV_ARTEFACTS/browser when set, else under tmp_path."""
    root = Path(os.environ["CCTV_ARTEFACTS"]) if os.environ.get("CCTV_ARTEFACTS") else tmp_path / "artefacts"
    folder = root / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {folder.resolve()}")
    return folder
