"""UI text in Bahasa Indonesia (default) and English through Babel catalogues; dates and numbers through Babel.

Messages are gettext messages: the English text is the msgid, ``web/locale/<lang>/LC_MESSAGES/messages.po``
holds each language's text, ``pybabel extract`` finds them (babel.cfg; how: docs/i18n.md). Templates call
``_()``/``ngettext()``/``pgettext()`` or ``{% trans %}`` (``jinja2.ext.i18n``, new style: ``%(name)s``
placeholders filled from keyword arguments, values autoescaped); the callables come per request from
:func:`i18n_context`, an aiohttp_jinja2 context processor, so two requests in two languages never share one.
Views call :func:`gettext`, :func:`ngettext`, :func:`pgettext` with the request's language first, and
:func:`text` for a message looked up at run time in a table marked with :func:`N_` / :func:`NC_` /
:func:`NN_` (web/i18n_labels.py). The language comes from ``?lang=`` (which also sets the ``lang`` cookie),
then the cookie, then the default, Indonesian.
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.typedefs import Handler
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from markupsafe import Markup

log = logging.getLogger(__name__)

LANGS = ("id", "en")
DEFAULT_LANG = "id"
COOKIE = "lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
# Numbers keep "." as the decimal mark in every language, as the CSV export and the API do (and as the pages
# always showed them); Babel formats them with this locale's symbols. Indonesian's "," is a one-line change.
NUMBER_LOCALE = "en"
_REQUEST_KEY = web.RequestKey("lang", str)


# --- marking messages that are looked up at run time (pybabel extract -k N_; NC_ and NN_ are in babel.cfg)


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction without translating it (the text is looked up later with :func:`text`)."""
    return msgid


@dataclass(frozen=True)
class Message:
    """A marked message that needs more than its msgid: a context, or a plural picked by a format parameter."""

    msgid: str
    context: str | None = None
    plural: str | None = None
    count: str | None = None  # the format parameter whose value picks the plural form


def NC_(context: str, msgid: str) -> Message:
    """Mark a message with a context (msgctxt): the same English text that has two Indonesian ones."""
    return Message(msgid, context=context)


def NN_(singular: str, plural: str, count: str) -> Message:
    """Mark a plural message; ``count`` names the format parameter that picks the form (and fills ``%(num)s``)."""
    return Message(singular, plural=plural, count=count)


# --- catalogues


@functools.cache
def translations(lang: str) -> Translations:
    """The compiled catalogue of ``lang``: its .mo, or the .po compiled in memory when the .mo is missing or
    older than the .po (a fresh clone before scripts/setup.sh, or an edit not compiled yet)."""
    base = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as f:
            return Translations(f, domain=DOMAIN)
    log.info("compiling %s in memory (%s)", po, "stale .mo" if mo.exists() else "no .mo")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def _catalogue(lang: str) -> Translations:
    return translations(lang if lang in LANGS else DEFAULT_LANG)


def gettext(lang: str, msgid: str, **fmt: object) -> str:
    """``msgid`` in ``lang``, its ``%(name)s`` placeholders filled from ``fmt`` (always %-formatted, as the
    templates' new-style gettext is: a literal percent sign is written ``%%``)."""
    return _catalogue(lang).gettext(msgid) % fmt


def ngettext(lang: str, singular: str, plural: str, n: int, **fmt: object) -> str:
    """The form of a plural message for ``n`` in ``lang``; ``%(num)s`` is ``n``."""
    return _catalogue(lang).ngettext(singular, plural, n) % {"num": n, **fmt}


def pgettext(lang: str, context: str, msgid: str, **fmt: object) -> str:
    """``msgid`` in ``lang`` within ``context`` (msgctxt)."""
    return _catalogue(lang).pgettext(context, msgid) % fmt


def text(lang: str, msg: str | Message, **fmt: Any) -> str:
    """A message marked with N_/NC_/NN_ (from a table), in ``lang``."""
    if isinstance(msg, str):
        return gettext(lang, msg, **fmt)
    if msg.plural is not None and msg.count is not None:
        n = fmt.pop(msg.count)
        return ngettext(lang, msg.msgid, msg.plural, n, **fmt)
    if msg.context is not None:
        return pgettext(lang, msg.context, msg.msgid, **fmt)
    return gettext(lang, msg.msgid, **fmt)


def template_callables(lang: str) -> dict[str, Any]:
    """``_``, ``gettext``, ``ngettext``, ``pgettext``, ``npgettext`` for templates rendered in ``lang``, new
    style as jinja2.ext.i18n expects them (``newstyle_gettext``): the translation is trusted, the values put into
    it are escaped (Markup %)."""
    t = _catalogue(lang)

    def _gettext(msgid: str, **variables: Any) -> Markup:
        return Markup(t.gettext(msgid)) % variables

    def _ngettext(singular: str, plural: str, num: int, **variables: Any) -> Markup:
        variables.setdefault("num", num)
        return Markup(t.ngettext(singular, plural, num)) % variables

    def _pgettext(context: str, msgid: str, **variables: Any) -> Markup:
        return Markup(t.pgettext(context, msgid)) % variables

    def _npgettext(context: str, singular: str, plural: str, num: int, **variables: Any) -> Markup:
        variables.setdefault("num", num)
        return Markup(t.npgettext(context, singular, plural, num)) % variables

    return {"_": _gettext, "gettext": _gettext, "ngettext": _ngettext, "pgettext": _pgettext,
            "npgettext": _npgettext}


async def i18n_context(request: web.Request) -> dict[str, Any]:
    """aiohttp_jinja2 context processor: the request's language and its gettext callables (and number
    formatting) for every template rendered for this request."""
    lang = lang_of(request)
    return {"lang": lang, **template_callables(lang),
            "number": functools.partial(format_number, lang=lang), "pct": functools.partial(format_pct, lang=lang)}


# --- the request's language


def lang_of(request: web.Request) -> str:
    """The request's language: ``?lang=``, then the ``lang`` cookie, then Indonesian."""
    lang = request.get(_REQUEST_KEY)
    if isinstance(lang, str):
        return lang
    for candidate in (request.query.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGS:
            return candidate
    return DEFAULT_LANG


@web.middleware
async def lang_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Remember ``?lang=`` in a cookie (a year) so the choice survives navigation."""
    request[_REQUEST_KEY] = lang_of(request)
    response = await handler(request)
    chosen = request.query.get("lang")
    if chosen in LANGS and not response.prepared:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


# --- dates, durations and numbers


def format_ms(t_ms: int | None, tz: ZoneInfo, lang: str = DEFAULT_LANG) -> str:
    """Wall-clock milliseconds as "23 Nov 2026 14:05:09 WIB" in the site's time zone (Babel's month names;
    the zone's own abbreviation, which CLDR gives as "+0700" in English)."""
    if t_ms is None:
        return "—"
    dt = datetime.fromtimestamp(t_ms / 1000, UTC)
    zone = dt.astimezone(tz).tzname() or ""
    return format_datetime(dt, f"d MMM y HH:mm:ss '{zone}'", tzinfo=tz, locale=lang)


def format_ms_as(t_ms: int, tz: ZoneInfo, lang: str, pattern: str) -> str:
    """Wall-clock milliseconds in the site's time zone with an explicit CLDR pattern ("HH:mm", "dd/MM")."""
    return format_datetime(datetime.fromtimestamp(t_ms / 1000, UTC), pattern, tzinfo=tz, locale=lang)


def format_number(value: float, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals, e.g. "12.5" (see NUMBER_LOCALE), no grouping."""
    pattern = "0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, pattern, locale=NUMBER_LOCALE, group_separator=False)


def format_pct(pct: float, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """A percentage given in percent (0–100): "66.7%"."""
    pattern = "0" + ("." + "0" * digits if digits > 0 else "") + "%"
    return format_percent(pct / 100, pattern, locale=NUMBER_LOCALE, group_separator=False)


def iso_utc(t_ms: int | None) -> str | None:
    """Milliseconds as ISO 8601 UTC with a Z, e.g. "2026-01-01T00:00:00.000Z"."""
    if t_ms is None:
        return None
    dt = datetime.fromtimestamp(t_ms // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t_ms % 1000:03d}Z"


def format_duration(ms: int) -> str:
    """A compact duration: "45s", "12m 03s", "3h 05m", "2d 4h" (same symbols in both languages)."""
    s = max(0, ms) // 1000
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"
