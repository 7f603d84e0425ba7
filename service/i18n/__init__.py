"""Every word in the visitor's language: shipped catalogs, negotiation and dates, on Babel.

The source language is English: templates and code hold English msgids, and
the gettext catalogs under ``locales/`` translate them into the other shipped
languages. :mod:`service.i18n.negotiation` picks a visitor's language;
:mod:`service.i18n.catalogs` loads the catalogs;
:mod:`service.i18n.templating` installs them in Jinja.
"""

from __future__ import annotations

from service.i18n.catalogs import (
    DOMAIN,
    LOCALE_DIR,
    LOCALES,
    N_,
    SOURCE_LOCALE,
    format_moment,
    gettext_for,
    language_name,
    translations,
)
from service.i18n.negotiation import LOCALE_FIELD, negotiate, supported_locale
from service.i18n.templating import jinja_environment

__all__ = [
    "DOMAIN",
    "LOCALES",
    "LOCALE_DIR",
    "LOCALE_FIELD",
    "N_",
    "SOURCE_LOCALE",
    "format_moment",
    "gettext_for",
    "jinja_environment",
    "language_name",
    "negotiate",
    "supported_locale",
    "translations",
]
