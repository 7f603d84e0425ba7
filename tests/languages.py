"""Helpers for the language tests: the catalogs as written, and English left in a translation."""

from __future__ import annotations

import html
import re
from functools import cache

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from service.i18n import DOMAIN, LOCALE_DIR, LOCALES, SOURCE_LOCALE

TRANSLATED = tuple(locale for locale in LOCALES if locale != SOURCE_LOCALE)
"""Every shipped language that has a catalog."""

# %(name)s placeholders split a msgid into the fragments a reader sees.
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")
_TAGS = re.compile(r"<[^>]+>")


@cache
def catalog(locale: str) -> Catalog:
    """``locale``'s ``.po`` file, parsed."""
    with (LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        return read_po(source, locale=locale)


def readable(text: str) -> str:
    """What a reader sees of an HTML or text part: tags dropped, entities decoded, spaces one."""
    return " ".join(html.unescape(_TAGS.sub(" ", text)).replace("\u00a0", " ").split())


def english_leftovers(text: str, locale: str) -> list[str]:
    """English sentences (of two words or more) from the catalog still in ``text``.

    A fragment whose translation is the same English text (French "Message")
    is not a leftover.
    """
    seen = readable(text)
    found = []
    for message in catalog(locale):
        if not message.id or not isinstance(message.id, str):
            continue
        translated = readable(message.string)
        for fragment in _PLACEHOLDER.split(message.id):
            fragment = readable(fragment).strip(" ,.:!?")
            if len(fragment.split()) >= 2 and fragment not in translated and fragment in seen:
                found.append(fragment)
    return found
