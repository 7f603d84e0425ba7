"""The shipped languages' gettext catalogs, language names and dates (Jinja: ``templating``).

Catalogs are ``locales/LANG/LC_MESSAGES/messages.po`` with the compiled
``messages.mo`` beside them, both in the package (and the wheel), so that a
fresh checkout runs without a build step; ``make translations`` extracts the
messages and updates and compiles the catalogs. English is the source
language and has no catalog. Each catalog is read once per process.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_name
from babel.support import Translations

__all__ = [
    "DOMAIN",
    "LOCALES",
    "LOCALE_DIR",
    "N_",
    "SOURCE_LOCALE",
    "format_moment",
    "gettext_for",
    "language_name",
    "translations",
]

LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SOURCE_LOCALE = "en"
LOCALES: tuple[str, ...] = (SOURCE_LOCALE, "nl", "de", "fr")
"""Every shipped language, the source language first. Adding one: see the README."""


def N_(message: str) -> str:
    """Mark ``message`` for extraction where it is defined; it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    """The catalog of shipped language ``locale``; English is the msgids themselves.

    A missing catalog is an error, not a silent fall back to English.
    """
    if locale not in LOCALES:
        raise ValueError(f"{locale!r} is not a shipped language ({', '.join(LOCALES)})")
    if locale == SOURCE_LOCALE:
        return NullTranslations()
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as catalog:
        return Translations(catalog, domain=DOMAIN)


def gettext_for(locale: str) -> Any:
    """``gettext`` of ``locale``: English msgid in, translated text out."""
    return translations(locale).gettext


@cache
def language_name(language: str, in_locale: str) -> str:
    """The name of ``language`` in ``in_locale``, from CLDR: ``nl`` in ``de`` is Niederländisch."""
    return Locale.parse(in_locale).languages.get(language, language)


def format_moment(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """``moment`` in ``zone`` as ``locale`` writes it, zone named: ``5. Juli 2025, 15:30 (MESZ)``.

    The locale's long date and short time (no seconds), joined by its own
    pattern, then the zone's long name in that language (CLDR's short ones
    are numeric offsets in most languages). CLDR's narrow no-break spaces
    ("3:41\u202fPM") become plain ones: an English email then stays 7-bit.
    What depends on the language and the zone only is looked up once, and the
    text of a minute is kept: a burst of submissions formats it once.
    """
    return _format_minute(moment.astimezone(zone).replace(second=0, microsecond=0), zone, locale)


@lru_cache(maxsize=256)
def _format_minute(local: datetime, zone: ZoneInfo, locale: str) -> str:
    """:func:`format_moment` of a local time to the minute (the zone is in the key:
    equal datetimes in different zones are the same instant, not the same text)."""
    parsed, joiner = _moment_format(locale)
    joined = joiner.replace("{0}", format_time(local, "short", locale=parsed)).replace(
        "{1}", format_date(local, "long", locale=parsed)
    )
    named = f"{joined} ({_zone_name(local, locale)})"
    return named.translate(_PLAIN_SPACES)


@cache
def _moment_format(locale: str) -> tuple[Locale, str]:
    """``locale`` parsed, and its pattern joining a date (``{1}``) and a time (``{0}``)."""
    parsed = Locale.parse(locale)
    return parsed, get_datetime_format("long", locale=parsed).replace("'", "")


_zone_names: dict[tuple[object, ...], str] = {}


def _zone_name(local: datetime, locale: str) -> str:
    """CLDR's long name of ``local``'s zone in ``locale``, worked out once per zone and season.

    The name depends on the zone, summer time or not, and for a zone CLDR does
    not name, the offset and abbreviation: those are the key, not the moment.
    """
    key = (locale, local.tzinfo, bool(local.dst()), local.utcoffset(), local.tzname())
    name = _zone_names.get(key)
    if name is None:
        if len(_zone_names) >= _MAX_ZONE_NAMES:
            _zone_names.clear()
        parsed = _moment_format(locale)[0]
        name = _zone_names[key] = get_timezone_name(local, width="long", locale=parsed)
    return name


_MAX_ZONE_NAMES = 1024


_PLAIN_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})
