"""The field types a form may declare, each defined once: how it validates, its schema, a sample.

Adding a type is adding one :class:`FieldType` to :data:`FIELD_TYPES`. Text
goes through the same validators as the contact form's own fields
(:mod:`service.validation`): ``text`` and ``tel`` and ``url`` through
``SingleLine``, ``textarea`` through ``MultiLine``, ``email`` through
``EmailAddress``; a rule added there holds in every form.

A value's annotation here is for a filled-in value: a blank one is handled
before it (missing when required, absent otherwise) by :mod:`service.forms.form`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from annotated_types import MaxLen
from pydantic import AfterValidator, AnyHttpUrl, BeforeValidator, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from service.api.schemas import AT_LEAST, AT_MOST
from service.i18n import N_
from service.validation import EmailAddress, MultiLine, SingleLine

if TYPE_CHECKING:
    from service.forms.form import PublicField as FieldSpec
    from service.submission import Value

__all__ = ["FIELD_TYPES", "FieldType", "parse_checkbox"]

_EMAIL = TypeAdapter(EmailAddress)
_URL = TypeAdapter(AnyHttpUrl)
_PHONE = re.compile(r"\+?[0-9 ().\-/]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"on", "true", "1", "yes"})
_FALSE = frozenset({"", "off", "false", "0", "no"})


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(N_("must be text"))
    return value.strip()


def _email(value: Any) -> str:
    try:
        return str(_EMAIL.validate_python(_text(value)))
    except ValidationError:
        raise ValueError(N_("must be a valid email address")) from None


def _phone(value: str) -> str:
    digits = sum(char.isdigit() for char in value)
    if not _PHONE.fullmatch(value) or not 3 <= digits <= 20:
        raise ValueError(N_("must be a phone number: digits, spaces and + ( ) - . /"))
    return value


def _url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError(N_("must be a web address starting with http:// or https://"))
    try:
        return str(_URL.validate_python(value))
    except ValidationError:
        raise ValueError(N_("must be a web address starting with http:// or https://")) from None


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(N_("must be a number"))
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text) or len(text) > 30:
            raise ValueError(N_("must be a number"))
        value = float(text) if "." in text else int(text)
    if (isinstance(value, float) and value != value) or abs(value) > 1e15:  # NaN, infinities
        raise ValueError(N_("must be a number"))
    return value


def _in_range(spec: FieldSpec) -> Callable[[int | float], int | float]:
    def check(value: int | float) -> int | float:
        # The bound travels apart from the words, so that they can be translated.
        if spec.min is not None and value < spec.min:
            raise PydanticCustomError(
                AT_LEAST, "must be at least {limit}", {"limit": _plain(spec.min)}
            )
        if spec.max is not None and value > spec.max:
            raise PydanticCustomError(
                AT_MOST, "must be at most {limit}", {"limit": _plain(spec.max)}
            )
        return value

    return check


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _date(value: Any) -> str:
    text = _text(value)
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(N_("must be a date written year-month-day, like 2030-01-31")) from None


def _one_of(spec: FieldSpec) -> Callable[[Any], str]:
    options = frozenset(spec.options or ())

    def check(value: Any) -> str:
        if not isinstance(value, str) or value.strip() not in options:
            raise ValueError(N_("must be one of the listed options"))
        return value.strip()

    return check


def parse_checkbox(value: Any) -> bool:
    """A checkbox as a browser (``on``, or absent) or a JSON client (``true``) sends it."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(N_("must be checked or not"))


def _checked(value: bool) -> bool:
    if not value:
        raise ValueError(N_("must be checked"))
    return value


def _limited(spec: FieldSpec, default: int) -> MaxLen:
    return MaxLen(spec.max_length or default)


@dataclass(frozen=True, slots=True)
class FieldType:
    """One kind of field: what it accepts and how it is described.

    ``annotation`` is the pydantic type of a filled-in value; ``schema`` its
    JSON Schema for the OpenAPI document; ``sample`` a value previews use;
    ``keys`` the keys of a declaration this type accepts besides ``name``,
    ``type``, ``label`` and ``required``; ``input`` the HTML control.
    """

    name: str
    annotation: Callable[[FieldSpec], Any]
    schema: Callable[[FieldSpec], dict[str, Any]]
    sample: Callable[[FieldSpec], Value]
    keys: frozenset[str] = frozenset({"max_length", "placeholder"})
    max_length: int | None = None
    input: str = "text"
    boolean: bool = False
    """A box: absent means unchecked, never missing."""


def _text_schema(spec: FieldSpec, default: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": spec.max_length or default}


def _number_schema(spec: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if spec.min is not None:
        schema["minimum"] = spec.min
    if spec.max is not None:
        schema["maximum"] = spec.max
    return schema


def _number_sample(spec: FieldSpec) -> int | float:
    low = spec.min if spec.min is not None else (spec.max - 10 if spec.max is not None else 1)
    high = spec.max if spec.max is not None else low + 10
    middle = (low + high) / 2
    return int(middle) if low <= int(middle) <= high else middle


_BOX = {"type": "boolean"}

FIELD_TYPES: dict[str, FieldType] = {
    kind.name: kind
    for kind in (
        FieldType(
            "text",
            lambda spec: Annotated[SingleLine, _limited(spec, 200)],
            lambda spec: _text_schema(spec, 200),
            lambda spec: f"Sample {spec.label.lower()}"[: spec.max_length or 200],
            max_length=200,
        ),
        FieldType(
            "textarea",
            lambda spec: Annotated[MultiLine, _limited(spec, 5000)],
            lambda spec: _text_schema(spec, 5000),
            lambda spec: "First line of a longer answer.\nAnd a second line."[
                : spec.max_length or 5000
            ],
            max_length=5000,
            input="textarea",
        ),
        FieldType(
            "email",
            lambda spec: Annotated[str, BeforeValidator(_email)],
            lambda spec: {"type": "string", "format": "email", "maxLength": 254},
            lambda spec: "someone@example.org",
            keys=frozenset({"placeholder"}),
            max_length=254,
            input="email",
        ),
        FieldType(
            "tel",
            lambda spec: Annotated[SingleLine, _limited(spec, 40), AfterValidator(_phone)],
            lambda spec: _text_schema(spec, 40),
            lambda spec: "+49 30 1234567",
            max_length=40,
            input="tel",
        ),
        FieldType(
            "url",
            lambda spec: Annotated[SingleLine, _limited(spec, 2000), AfterValidator(_url)],
            lambda spec: {**_text_schema(spec, 2000), "format": "uri"},
            lambda spec: "https://example.org/portfolio",
            max_length=2000,
            input="url",
        ),
        FieldType(
            "number",
            lambda spec: Annotated[
                int | float, BeforeValidator(_number), AfterValidator(_in_range(spec))
            ],
            _number_schema,
            _number_sample,
            keys=frozenset({"min", "max", "placeholder"}),
            input="number",
        ),
        FieldType(
            "date",
            lambda spec: Annotated[str, BeforeValidator(_date)],
            lambda spec: {"type": "string", "format": "date"},
            lambda spec: "2030-01-31",
            keys=frozenset(),
            input="date",
        ),
        FieldType(
            "select",
            lambda spec: Annotated[str, BeforeValidator(_one_of(spec))],
            lambda spec: {"type": "string", "enum": list(spec.options or ())},
            lambda spec: (spec.options or ("",))[0],
            keys=frozenset({"options"}),
            input="select",
        ),
        FieldType(
            "checkbox",
            lambda spec: Annotated[
                bool, BeforeValidator(parse_checkbox), *([AfterValidator(_checked)] * spec.required)
            ],
            lambda spec: _BOX,
            lambda spec: True,
            keys=frozenset(),
            input="checkbox",
            boolean=True,
        ),
        FieldType(
            "consent",
            lambda spec: Annotated[bool, BeforeValidator(parse_checkbox), AfterValidator(_checked)],
            lambda spec: {**_BOX, "const": True},
            lambda spec: True,
            keys=frozenset(),
            input="checkbox",
            boolean=True,
        ),
    )
}
"""Every field type by name, in the order the documentation lists them."""
