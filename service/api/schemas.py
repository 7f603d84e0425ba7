"""The contact form's fields and their limits, shared by validation and the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

import idna
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
)

from service.i18n import N_

__all__ = [
    "ContactForm",
    "ContactResponse",
    "EmailAddress",
    "ErrorResponse",
    "FieldError",
    "field_errors",
]

# C0 controls (CR, LF, NUL, tab...), DEL, C1 controls and the Unicode line and
# paragraph separators. A single-line field with one of these is hostile or
# broken; it is refused, not silently cleaned.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Field messages are English msgids, translated by field_errors() for the visitor.
REQUIRED = N_("This field is required.")
INVALID_EMAIL = N_("Must be a valid email address.")
TOO_LONG = N_("Must be at most %(limit)d characters.")


def _single_line(value: object) -> object:
    # Runs before trimming: a trailing CR, LF or NEL is refused, not trimmed away.
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError(N_("Must be a single line without control characters."))
    return value


def _ascii_address(value: str) -> str:
    # An address goes into Reply-To and To headers, which carry ASCII only unless
    # every server on the way speaks SMTPUTF8: a non-ASCII mailbox name is
    # refused, and an internationalised domain is written in its ASCII form.
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        raise ValueError(INVALID_EMAIL)
    try:
        return f"{local}@{idna.encode(domain).decode('ascii')}"
    except idna.IDNAError:
        raise ValueError(INVALID_EMAIL) from None


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError(REQUIRED)
    return value


SingleLine = Annotated[str, BeforeValidator(_single_line)]

EmailAddress = Annotated[
    EmailStr,
    Field(max_length=254),
    BeforeValidator(_single_line),
    AfterValidator(_ascii_address),
]
"""One deliverable address on one line, its domain in ASCII: the form's and the CLI's."""


class ContactForm(BaseModel):
    """What a visitor submits. Surrounding whitespace is trimmed; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: Annotated[SingleLine, Field(min_length=1, max_length=100)]
    email: EmailAddress
    message: Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_not_blank)]
    company: Annotated[SingleLine, Field(max_length=100)] | None = None


class ContactResponse(BaseModel):
    """The answer to an accepted submission."""

    success: bool = True
    message: str = "Thank you for your message!"
    id: str


class FieldError(BaseModel):
    """One invalid field and why."""

    field: str
    message: str


class ErrorResponse(BaseModel):
    """Every error answer: ``success`` is false, ``errors`` lists bad fields when there are any."""

    success: bool = False
    message: str
    errors: list[FieldError] = Field(default_factory=list)


_FRIENDLY = {
    "missing": REQUIRED,
    "string_too_short": REQUIRED,
    "too_short": REQUIRED,
    "string_type": N_("Must be text."),
}


def _sentence(message: str) -> str:
    """A validator's message as a sentence: capital first, full stop last."""
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def field_errors(error: ValidationError, gettext: Callable[[str], str] = str) -> list[FieldError]:
    """Every problem in ``error``, one entry per field, worded for a visitor by ``gettext``."""
    found: dict[str, FieldError] = {}
    for item in error.errors(include_url=False, include_input=False):
        field = str(item["loc"][0]) if item["loc"] else "body"
        if field in found:
            continue
        kind = item["type"]
        if kind in ("string_too_long", "too_long"):
            message = gettext(TOO_LONG) % {"limit": item["ctx"]["max_length"]}
        elif kind == "value_error" and field == "email":
            message = gettext(INVALID_EMAIL)
        elif kind == "value_error":
            message = gettext(_sentence(item["msg"].removeprefix("Value error, ")))
        else:
            message = gettext(_FRIENDLY.get(kind, item["msg"]))
        found[field] = FieldError(field=field, message=message)
    return list(found.values())
