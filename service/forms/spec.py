"""The forms file's shape: what may be written in ``FORMS_FILE``, checked key by key.

Every table refuses keys it does not know (a typo must not pass silently)
and values are not coerced (``required = "yes"`` is an error, not true). A
problem raises :class:`KeyProblem` naming the key, so the one-line startup
error can say ``forms.careers.fields[1].options: ...``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.forms.types import FIELD_TYPES
from service.i18n import LOCALE_FIELD
from service.validation import EmailAddress

__all__ = [
    "CORE_FIELDS",
    "FORM_ID",
    "FieldSpec",
    "FormSpec",
    "FormsFile",
    "KeyProblem",
]

FORM_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# A language tag as BCP 47 writes the common ones: en, de-CH, zh-Hant-TW, es-419.
LOCALE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?")
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?")
CORE_FIELDS = ("name", "email", "company", "message")
_SINGLE_LINE = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_COMMON_KEYS = frozenset({"name", "type", "label", "required"})

Mode = Literal["required", "optional", "off"]


class KeyProblem(ValueError):
    """A value is wrong; ``key`` is the key it belongs to, below the table being checked."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _one_line(value: str) -> str:
    if not value.strip() or not _SINGLE_LINE.fullmatch(value):
        raise ValueError("must be one non-empty line of text")
    return value.strip()


Line = Annotated[str, AfterValidator(_one_line)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FieldSpec(_Strict):
    """One ``[[forms.ID.fields]]`` entry."""

    name: str
    type: str
    label: Annotated[Line, Field(max_length=500)]
    required: bool = False
    max_length: int | None = Field(default=None, ge=1, le=20000)
    options: list[Annotated[Line, Field(max_length=200)]] | None = None
    min: float | None = None
    max: float | None = None
    placeholder: Annotated[Line, Field(max_length=200)] | None = None

    @field_validator("name")
    @classmethod
    def _field_name(cls, value: str, info: ValidationInfo) -> str:
        if not FIELD_NAME.fullmatch(value):
            raise ValueError("must match [a-z][a-z0-9_]{0,39}")
        if value in CORE_FIELDS:
            raise ValueError(f"{value!r} is a core field of every form; choose another name")
        if value == LOCALE_FIELD:
            raise ValueError(f"{value!r} carries the visitor's language; choose another name")
        honeypot = (info.context or {}).get("honeypot")
        if honeypot and value.lower() == honeypot.lower():
            raise ValueError(f"{value!r} is the honeypot field (HONEYPOT_FIELD)")
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in FIELD_TYPES:
            raise ValueError(f"unknown type {value!r}; valid types: {', '.join(FIELD_TYPES)}")
        return value

    @model_validator(mode="after")
    def _keys_of_the_type(self) -> FieldSpec:
        kind = FIELD_TYPES[self.type]
        for key in sorted(self.model_fields_set - _COMMON_KEYS - kind.keys):
            raise KeyProblem(key, f"a {self.type} field takes no {key}")
        if kind.max_length is not None and (self.max_length or 0) > max(kind.max_length, 200):
            raise KeyProblem("max_length", f"at most {max(kind.max_length, 200)} for {self.type}")
        if self.type == "select":
            if not self.options:
                raise KeyProblem("options", "a select field needs at least one option")
            if len(set(self.options)) != len(self.options):
                raise KeyProblem("options", "an option is listed twice")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise KeyProblem("min", "must not be greater than max")
        return self


class FormSpec(_Strict):
    """One ``[forms.ID]`` table; what is left out comes from the settings."""

    title: Annotated[Line, Field(max_length=100)] | None = None
    recipients: list[EmailAddress] | None = Field(default=None, min_length=1)
    origins: list[str] | None = None
    redirect_url: str | None = None
    confirmation: bool = True
    message: Mode = "required"
    company: Mode = "optional"
    locale: str | None = None
    fields: list[FieldSpec] = Field(default_factory=list, max_length=50)

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        for origin in value or ():
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.example.com or *")
        return value

    @field_validator("redirect_url")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        if value is None:
            return None
        absolute = re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value)
        if not absolute and not re.fullmatch(r"/(?!/)[^\s\\]*", value):
            raise ValueError("must be an http(s) URL or a path starting with /")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        if value is not None and not LOCALE.fullmatch(value):
            raise ValueError(f"{value!r} is not a language tag like en, de-CH or pt-BR")
        return value

    @model_validator(mode="after")
    def _unique_fields(self) -> FormSpec:
        seen: set[str] = set()
        for index, spec in enumerate(self.fields):
            if spec.name in seen:
                raise KeyProblem(f"fields[{index}].name", f"{spec.name!r} is declared twice")
            seen.add(spec.name)
        return self


class FormsFile(_Strict):
    """The whole file: one ``[forms.ID]`` table per form."""

    forms: dict[str, FormSpec] = Field(default_factory=dict)

    @field_validator("forms", mode="before")
    @classmethod
    def _form_ids(cls, value: object) -> object:
        if isinstance(value, dict):
            for form_id in value:
                if not FORM_ID.fullmatch(form_id):
                    raise KeyProblem(form_id, "a form id must match [a-z0-9][a-z0-9-]{0,39}")
        return value
