"""Which shipped language a visitor gets, decided in one place.

In this order, the first that names a shipped language wins: the
submission's ``locale`` field (or ``?locale=`` on a page), the form's own
locale, the request's ``Accept-Language`` (weights and regions honoured, so
``nl-BE,nl;q=0.9,en;q=0.8`` is ``nl``), then the operator's default. A region
counts as its language (``de-AT`` is ``de``); anything unknown or malformed is
skipped, never an error.
"""

from __future__ import annotations

import re

from babel.core import negotiate_locale

from service.i18n.catalogs import LOCALES

__all__ = ["LOCALE_FIELD", "accepted_languages", "negotiate", "supported_locale"]

LOCALE_FIELD = "locale"
"""The submission field (and page query parameter) that names the visitor's language."""

# BCP 47 tags as browsers send them (``nl-BE``, ``zh-Hant-TW``), or POSIX ``nl_BE``.
_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
# A header longer than this is not a browser's; its tail is not worth reading.
_MAX_HEADER = 1024


def supported_locale(value: object) -> str | None:
    """The shipped language ``value`` names (``nl``, ``nl-BE``, ``NL_be``), else ``None``."""
    if not isinstance(value, str) or not _TAG.fullmatch(value.strip()):
        return None
    return negotiate_locale([value.strip().replace("_", "-").lower()], LOCALES, sep="-")


def accepted_languages(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first; ``q=0`` and ``*`` dropped."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "")[:_MAX_HEADER].split(",")):
        tag, _, params = item.partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if _TAG.fullmatch(tag) and 0.0 < quality <= 1.0:
            weighted.append((-quality, index, tag.replace("_", "-").lower()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(
    *,
    explicit: object = None,
    form: str | None = None,
    accept_language: str | None = None,
    default: str,
) -> str:
    """The visitor's language: ``explicit``, else ``form``, else the header, else ``default``."""
    for candidate in (explicit, form):
        found = supported_locale(candidate)
        if found is not None:
            return found
    tags = accepted_languages(accept_language)
    found = negotiate_locale(tags, LOCALES, sep="-") if tags else None
    return found or default
