"""Where things are, whatever folder a test lives in: the repository, and the real footage beside it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # tests/helpers/paths.py → the repository
FOOTAGE = REPO.parent / "shared" / "footage"  # ../shared/footage, never in the repository (SOURCES.md says why)
