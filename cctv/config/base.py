"""What every section of config.yaml's schema shares: unknown keys are errors, a loaded config never changes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
