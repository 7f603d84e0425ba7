"""The contact form's fields and their limits, shared by validation and the OpenAPI document.

The rules of each kind of field live in :mod:`service.validation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from service.i18n import N_
from service.validation import EmailAddress, MultiLine, SingleLine

__all__ = [
    "AT_LEAST",
    "AT_MOST",
    "ContactForm",
    "ContactResponse",
    "ErrorResponse",
    "FieldError",
    "field_errors",
]


# Field messages are English msgids, translated by field_errors() for the visitor.
REQUIRED = N_("This field is required.")
INVALID_EMAIL = N_("Must be a valid email address.")
TOO_LONG = N_("Must be at most %(limit)d characters.")
AT_LEAST = "number_at_least"
AT_MOST = "number_at_most"
"""Error types of a number out of its declared range; ``ctx["limit"]`` is the bound."""
_BOUNDS = {AT_LEAST: N_("Must be at least %(limit)s."), AT_MOST: N_("Must be at most %(limit)s.")}


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError(N_("must not be empty"))
    return value


class ContactForm(BaseModel):
    """What a visitor submits. Surrounding whitespace is trimmed; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: Annotated[SingleLine, Field(min_length=1, max_length=100)]
    email: EmailAddress
    message: Annotated[MultiLine, Field(min_length=1, max_length=5000), AfterValidator(_not_blank)]
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
    """A validator's message (translated) as a sentence: capital first, full stop last."""
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def field_errors(error: ValidationError, gettext: Callable[[str], str] = str) -> list[FieldError]:
    """Every problem in ``error``, one entry per field, worded for a visitor by ``gettext``.

    Validators raise lower-case msgids (``must not be empty``); the translation
    becomes a sentence here, in any language.
    """
    found: dict[str, FieldError] = {}
    for item in error.errors(include_url=False, include_input=False):
        field = str(item["loc"][0]) if item["loc"] else "body"
        if field in found:
            continue
        kind = item["type"]
        if kind in ("string_too_long", "too_long"):
            message = gettext(TOO_LONG) % {"limit": item["ctx"]["max_length"]}
        elif kind in _BOUNDS:
            message = gettext(_BOUNDS[kind]) % {"limit": item["ctx"]["limit"]}
        elif kind == "value_error" and field == "email":
            message = gettext(INVALID_EMAIL)
        elif kind == "value_error":
            message = _sentence(gettext(item["msg"].removeprefix("Value error, ")))
        else:
            message = gettext(_FRIENDLY.get(kind, item["msg"]))
        found[field] = FieldError(field=field, message=message)
    return list(found.values())
