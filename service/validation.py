"""Rules for the text a visitor submits, shared by every form and by the settings.

* A single-line field (a name, a company) holds no control character, no line
  or paragraph separator and no invisible format character (Unicode category
  Cf: bidi overrides, zero-width spaces, soft hyphens...), except a zero-width
  joiner or non-joiner between two letters, which some scripts spell names with.
* A multi-line field (a message) holds no C0 control but tab, CR and LF: a NUL
  cannot be stored in PostgreSQL, and the others are never typed by a person.
* An address has a plain ASCII dot-atom of at most 64 characters before the
  "@", without ``?``, ``&``, ``%`` or ``#`` (they would become parameters of the
  ``mailto:`` link the owner replies with) and so without ``=?`` (a mail reader
  decodes that as an encoded word); its domain is written in ASCII.
* :func:`mailbox_key` says when two addresses reach the same mailbox, and
  :func:`greeting_name` when a name is safe to echo to whoever owns an address.

The functions raise ``ValueError`` with a short reason; the annotated types
make pydantic fields of them.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from functools import lru_cache
from itertools import pairwise
from typing import Annotated

import idna
from pydantic import AfterValidator, BeforeValidator, EmailStr, Field

from service.i18n import N_

__all__ = [
    "EmailAddress",
    "MultiLine",
    "SingleLine",
    "check_address",
    "check_multi_line",
    "check_single_line",
    "greeting_name",
    "mailbox_key",
]

# C0 controls (CR, LF, NUL, tab...), DEL, C1 controls, the Unicode line and
# paragraph separators, and lone surrogates (text that cannot be encoded).
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# C0 controls but tab, LF and CR; lone surrogates.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_JOINERS = frozenset("\u200c\u200d")

# RFC 5322 atext without "#", "%", "&" and "?", in dot-atom form.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!$'*+/=^_`{|}~-]+(?:\.[A-Za-z0-9!$'*+/=^_`{|}~-]+)*")
MAX_LOCAL_PART = 64

_GREETING_MAX_CHARS = 40
_GREETING_MAX_WORDS = 4
# Besides letters, marks and spaces, a name may hold apostrophes, hyphens and initials' dots.
_NAME_PUNCTUATION = frozenset("'\u2018\u2019-\u2010.")
# A dot that does not end an initial or an abbreviation: "evil.com", "a.b".
_DOMAIN_DOT = re.compile(r"\.(?!\s|$|[^\W\d_]\.)")
# Words of come-ons and spelled-out addresses, never of a name.
_NOT_NAME_WORDS = frozenset(
    {
        *("at", "dot", "punkt", "point", "com", "net", "org", "www", "http", "https"),
        *("click", "visit", "reply", "call", "win", "free", "password", "account"),
        *("your", "you", "with", "the", "is", "now"),
    }
)


def check_single_line(value: str) -> str:
    """``value`` unchanged; ``ValueError`` for a line break, a control or a format character."""
    if _NOT_ONE_LINE.search(value):
        raise ValueError(N_("must be a single line without control characters"))
    if any(_hidden(value, index) for index, char in enumerate(value) if not char.isprintable()):
        raise ValueError(N_("must not contain invisible formatting characters"))
    return value


def check_multi_line(value: str) -> str:
    """``value`` unchanged; ``ValueError`` for a NUL or another control but tab, CR and LF."""
    if _NOT_TEXT.search(value):
        raise ValueError(N_("must not contain control characters other than tabs and line breaks"))
    return value


def check_address(address: str) -> str:
    """``local@domain`` with the domain in ASCII; ``ValueError`` for a local part it refuses."""
    local, _, domain = address.rpartition("@")
    if len(local) > MAX_LOCAL_PART:
        raise ValueError(f"the part before the @ must be at most {MAX_LOCAL_PART} characters")
    if not _LOCAL_PART.fullmatch(local):
        raise ValueError("the part before the @ must be plain: no ?, &, %, # or quoted text")
    return f"{local}@{_ascii_domain(domain)}"


@lru_cache(maxsize=1024)
def _ascii_domain(domain: str) -> str:
    # Cached: a few domains (the big mail providers) make most addresses, and
    # IDNA's pass over a domain costs more than the rest of the address's checks.
    try:
        return idna.encode(domain).decode("ascii")
    except idna.IDNAError:
        raise ValueError("the domain is not valid") from None


def mailbox_key(address: str) -> str:
    """Who ``address`` reaches: lower case, without a ``+tag``, its domain in ASCII.

    For counting and comparing only (``Victim+1@Example.net`` and
    ``victim@example.net`` are one person); what is stored and sent is unchanged.
    """
    local, _, domain = address.strip().rpartition("@")
    local = local.partition("+")[0]
    if not domain.isascii():
        # An ASCII domain comes out of IDNA as it went in, but for case: skip the pass.
        with contextlib.suppress(idna.IDNAError):
            domain = idna.encode(domain, uts46=True).decode("ascii")
    return f"{local}@{domain}".lower()


def greeting_name(name: str) -> str | None:
    """``name`` when it is safe to greet its owner with, else ``None`` (a greeting without it).

    The confirmation goes to whatever address was typed, so a name is echoed
    only when it cannot carry a message to a stranger: at most 40 characters
    and four words of letters (apostrophes, hyphens and initials allowed), no
    digits, nothing that reads as a link or an address, no come-on words.
    Compatibility forms (full-width letters and dots) are folded first.
    """
    folded = unicodedata.normalize("NFKC", name)
    words = folded.split()
    if not words or len(folded) > _GREETING_MAX_CHARS or len(words) > _GREETING_MAX_WORDS:
        return None
    if not all(_name_character(folded, index) for index in range(len(folded))):
        return None
    if _DOMAIN_DOT.search(folded) or not any(char.isalpha() for char in folded):
        return None
    bare = [word.strip(".'\u2018\u2019-\u2010").casefold() for word in words]
    if _NOT_NAME_WORDS.intersection(bare):
        return None
    # After "Mr." a capital: "evil. com" is a domain with a space in it.
    if any(before.endswith(".") and after[0].islower() for before, after in pairwise(words)):
        return None
    return name


def _hidden(value: str, index: int) -> bool:
    """True when ``value[index]`` is a format character (Cf) other than a joiner inside a word."""
    if unicodedata.category(value[index]) != "Cf":
        return False
    return not (value[index] in _JOINERS and _between_letters(value, index))


def _between_letters(value: str, index: int) -> bool:
    if index == 0 or index == len(value) - 1:
        return False
    return all(unicodedata.category(value[i])[0] in "LM" for i in (index - 1, index + 1))


def _name_character(text: str, index: int) -> bool:
    char = text[index]
    if char == " " or char in _NAME_PUNCTUATION or unicodedata.category(char)[0] in "LM":
        return True
    return char in _JOINERS and _between_letters(text, index)


def _single_line_input(value: object) -> object:
    # Runs before trimming: a trailing CR, LF or NEL is refused, not trimmed away.
    if isinstance(value, str) and _NOT_ONE_LINE.search(value):
        raise ValueError(N_("must be a single line without control characters"))
    return value


def _multi_line_input(value: object) -> object:
    # Before trimming too: Python counts \x1c-\x1f as white space and would trim them.
    return check_multi_line(value) if isinstance(value, str) else value


# The format-character check runs after the length limit, on at most a field's length.
SingleLine = Annotated[str, BeforeValidator(_single_line_input), AfterValidator(check_single_line)]
"""One line of visible text (see the module's docstring)."""

MultiLine = Annotated[str, BeforeValidator(_multi_line_input)]
"""Text with line breaks and tabs, and no other control character."""

EmailAddress = Annotated[
    EmailStr,
    Field(max_length=254),
    BeforeValidator(_single_line_input),
    AfterValidator(check_address),
]
"""One deliverable address on one line, its domain in ASCII: the form's and the CLI's."""
