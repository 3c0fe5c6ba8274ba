"""A config key cannot be undocumented: every field has a description and a row in docs/config.md."""

from __future__ import annotations

import typing
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from cctv.config.models import Config
from tests.helpers.paths import REPO

DOCS = REPO / "docs" / "config.md"


def _model_in(annotation: typing.Any) -> tuple[type[BaseModel], bool] | None:
    """The model inside an annotation (``X``, ``X | None``, ``list[X]``) and whether it is a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found[0], found[1] or origin is list
    return None


def all_fields(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[tuple[str, str | None]]:
    """(key path as written in the docs, description) of every field, recursively."""
    for name, field in model.model_fields.items():
        key = prefix + name
        yield key, field.description
        sub = _model_in(field.annotation)
        if sub is not None:
            model_, is_list = sub
            yield from all_fields(model_, key + ("[]." if is_list else "."))


FIELDS = list(all_fields())


def test_the_walk_reaches_the_bottom_of_the_hierarchy() -> None:
    keys = [k for k, _ in FIELDS]
    assert "ingest.stall_timeout_s" in keys
    assert "kecamatan[].kelurahan[].rt[].cameras[].sim.seed" in keys
    assert len(keys) > 50


@pytest.mark.parametrize(("key", "description"), FIELDS, ids=[k for k, _ in FIELDS])
def test_every_field_has_a_description(key: str, description: str | None) -> None:
    assert description and description.strip(), f"{key} has no description in cctv/config/models.py"


@pytest.mark.parametrize("key", [k for k, _ in FIELDS])
def test_every_key_is_in_the_docs(key: str) -> None:
    assert f"`{key}`" in DOCS.read_text(encoding="utf-8"), f"{key} is not documented in docs/config.md"


def test_docs_mention_secrets_and_check_config() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "${VAR}" in text and "${VAR:-default}" in text
    assert "cctv check-config" in text
