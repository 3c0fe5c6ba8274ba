"""The UI text catalogues as Babel sees them: what ``pybabel extract -F babel.cfg`` finds in web/ (file:line,
msgid, context), and a language's .po file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.helpers.paths import REPO as ROOT
from web.i18n import LOCALE_DIR

WEB = ROOT / "web"


@dataclass(frozen=True)
class Extracted:
    where: str  # web/FILE:LINE
    msgid: str | tuple[str, ...]
    context: str | None

    @property
    def key(self) -> str:
        return self.msgid[0] if isinstance(self.msgid, tuple) else self.msgid


def extract(under: Path = WEB) -> list[Extracted]:
    """What ``pybabel extract -F babel.cfg -k N_ ... web`` finds (the same mapping and keywords)."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    out = []
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(WEB), method_map, options_map, keywords=keywords
    ):
        path = WEB / filename
        if path.is_relative_to(under):
            out.append(Extracted(f"{path.relative_to(ROOT)}:{lineno}", message, context))
    return out


def catalogue(lang: str) -> Catalog:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)
