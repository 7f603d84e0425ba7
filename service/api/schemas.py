"""The contact form's fields and their limits, shared by validation and the OpenAPI document.

The rules of each kind of field live in :mod:`service.validation`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from service.validation import EmailAddress, MultiLine, SingleLine

__all__ = [
    "ContactForm",
    "ContactResponse",
    "ErrorResponse",
    "FieldError",
    "field_errors",
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
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
    "missing": "This field is required.",
    "string_too_short": "This field is required.",
    "too_short": "This field is required.",
    "string_type": "Must be text.",
}


def field_errors(error: ValidationError) -> list[FieldError]:
    """Every problem in ``error``, one entry per field, in a visitor-friendly wording."""
    found: dict[str, FieldError] = {}
    for item in error.errors(include_url=False, include_input=False):
        field = str(item["loc"][0]) if item["loc"] else "body"
        if field in found:
            continue
        kind = item["type"]
        if kind in ("string_too_long", "too_long"):
            message = f"Must be at most {item['ctx']['max_length']} characters."
        elif kind == "value_error" and field == "email":
            message = "Must be a valid email address."
        elif kind == "value_error":
            message = item["msg"].removeprefix("Value error, ").capitalize() + "."
        else:
            message = _FRIENDLY.get(kind, item["msg"])
        found[field] = FieldError(field=field, message=message)
    return list(found.values())
