"""The Babel catalogues cover every message the code marks: Babel's own extractor runs over web/ (templates and
.py, as babel.cfg tells ``pybabel extract``), and each message must be translated in ``id`` (the default
language) and present in ``en``; the placeholders of a translation must be those of its msgid; the compiled
catalogues the app loads must say what the .po files say; and two requests in two languages at once each get
their own language (the gettext callables come per request, not from a global)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from tests.helpers.catalogue import Extracted, catalogue, extract
from tests.helpers.paths import REPO as ROOT
from web.i18n import LANGS, LOCALE_DIR, gettext, ngettext, translations


@pytest.fixture(scope="module")
def extracted() -> list[Extracted]:
    found = extract()
    assert len(found) > 250  # the extractor really ran over the templates and the views
    return found


def untranslated(cat: Catalog, found: list[Extracted]) -> list[str]:
    out = []
    for e in found:
        msg = cat.get(e.key, context=e.context)
        if msg is None:
            out.append(f"{e.where}: missing from {cat.locale}: {e.msgid!r} (context {e.context!r})")
        elif not msg.string or (isinstance(msg.string, tuple) and not all(msg.string)):
            out.append(f"{e.where}: untranslated in {cat.locale}: {e.msgid!r}")
        elif msg.fuzzy:  # pybabel update's guess: not compiled until someone checks it and drops the flag
            out.append(f"{e.where}: fuzzy in {cat.locale}: {e.msgid!r}")
        elif isinstance(e.msgid, tuple) != isinstance(msg.id, tuple) or (
            isinstance(e.msgid, tuple) and tuple(msg.id) != tuple(e.msgid)
        ):
            out.append(f"{e.where}: {cat.locale} has {msg.id!r} for {e.msgid!r} (plural or not)")
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_every_extracted_message_is_translated(extracted: list[Extracted], lang: str) -> None:
    problems = untranslated(catalogue(lang), extracted)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
def test_no_message_is_left_over_from_removed_code(extracted: list[Extracted], lang: str) -> None:
    """A message no code marks any more goes (pybabel update marks it obsolete; delete it)."""
    used = {(e.context, e.key) for e in extracted}
    stale = [m.id for m in catalogue(lang) if m.id and (m.context, m.id if isinstance(m.id, str) else m.id[0]) not in used]
    assert not stale, stale


def test_the_template_pot_is_current(extracted: list[Extracted]) -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        pot = read_po(f)
    in_pot = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in pot if m.id}
    assert in_pot == {(e.context, e.key) for e in extracted}, "run the pybabel extract of docs/i18n.md"


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_and_plural_forms(lang: str) -> None:
    cat = catalogue(lang)
    errors = [f"{m.id!r}: {errs}" for m, errs in cat.check()]
    assert not errors, "\n".join(errors)
    assert cat.num_plurals == {"id": 1, "en": 2}[lang]  # Indonesian has one form, English two


@pytest.mark.parametrize("lang", LANGS)
def test_the_compiled_catalogue_says_what_the_po_says(lang: str) -> None:
    """What the app loads (the .mo from scripts/setup.sh, or the .po compiled in memory when that is missing
    or older) is not stale."""
    t = translations(lang)
    for m in catalogue(lang):
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            forms = [t.npgettext(m.context, m.id[0], m.id[1], n) if m.context else t.ngettext(m.id[0], m.id[1], n)
                     for n in (1, 2)]
            assert forms[0] == m.string[0] and forms[1] == m.string[-1], m.id
        else:
            got = t.pgettext(m.context, m.id) if m.context else t.gettext(m.id)
            assert got == m.string, m.id


def test_view_helpers_translate_and_format() -> None:
    assert gettext("id", "Unknown area: %(path)s", path="x") == "Wilayah tidak dikenal: x"
    assert gettext("en", "Unknown area: %(path)s", path="x") == "Unknown area: x"
    assert ngettext("en", "%(num)s camera", "%(num)s cameras", 1) == "1 camera"
    assert ngettext("en", "%(num)s camera", "%(num)s cameras", 2) == "2 cameras"
    assert ngettext("id", "%(num)s camera", "%(num)s cameras", 2) == "2 kamera"
    assert gettext("jv", "Online") == "Aktif"  # an unknown language falls back to Indonesian


def test_clip_texts_are_marked_for_every_code_of_cctv_clips() -> None:
    """Every refusal code cctv.evidence.requests raises has a text in CLIP_ERRORS (so in both catalogues)."""
    import re

    from cctv.evidence.requests import State
    from web.i18n_labels import CLIP_ERRORS, CLIP_STATES

    policy = (ROOT / "cctv" / "evidence" / "requests.py").read_text()
    codes = set(re.findall(r'ClipError\(\s*\d+,\s*"(\w+)"', policy))
    codes |= set(re.findall(r'FieldError\(\s*"\w+",\s*"(\w+)"', policy))
    assert {"self_approval", "not_ready", "unknown_camera"} <= codes
    assert codes <= set(CLIP_ERRORS), codes - set(CLIP_ERRORS)
    assert {str(s) for s in State} | {"open"} <= set(CLIP_STATES)


async def test_two_languages_at_once(web_client: Any) -> None:
    async def page(lang: str) -> str:
        r = await web_client.get(f"/alerts?lang={lang}")
        assert r.status == 200
        return await r.text()

    pages = await asyncio.gather(*(page(lang) for lang in ("en", "id") * 4))
    for lang, html in zip(("en", "id") * 4, pages, strict=True):
        if lang == "en":
            assert 'lang="en"' in html and "Not acknowledged" in html and "Belum dikonfirmasi" not in html
            assert "until it has been online for 5 minutes." in html
        else:
            assert 'lang="id"' in html and "Belum dikonfirmasi" in html and "Not acknowledged" not in html
            assert "sampai stabil aktif selama 5 menit." in html
