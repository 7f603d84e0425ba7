"""One form at run time: its fields in order, the model that validates a post, its description.

Core fields (``name``, ``email``, and ``company`` and ``message`` unless a
form turns them off) keep the contact form's own rules
(:class:`~service.api.schemas.ContactForm`); declared fields follow their
type (:mod:`service.forms.types`). Fields come in one order everywhere: name,
email, company, message, then the declared ones as written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from annotated_types import MaxLen, MinLen
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from service.api.schemas import ContactForm
from service.forms.types import FIELD_TYPES
from service.submission import Answer, Consent, FormInfo, Submission

__all__ = ["Form", "PublicField", "core_fields"]

Mode = Literal["required", "optional", "off"]

_CORE = ContactForm.model_fields
CORE_LABELS = {"name": "Name", "email": "Email", "company": "Company", "message": "Message"}
CORE_TYPES = {"name": "text", "email": "email", "company": "text", "message": "textarea"}
_FORM_CONFIG = ConfigDict(extra="ignore", str_strip_whitespace=True)


@dataclass(frozen=True, slots=True)
class PublicField:
    """A field as front ends see it: no rule that is not also in its type."""

    name: str
    type: str
    label: str
    required: bool
    options: tuple[str, ...] | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    placeholder: str | None = None
    core: bool = False

    @property
    def input(self) -> str:
        """The HTML control that asks for it."""
        return FIELD_TYPES[self.type].input

    def public(self) -> dict[str, Any]:
        """``GET /api/forms/{form}``'s entry for this field."""
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "required": self.required,
            "options": list(self.options) if self.options is not None else None,
            "max_length": self.max_length or FIELD_TYPES[self.type].max_length,
            "min": self.min,
            "max": self.max,
        }


def _max_length(name: str) -> int | None:
    info = _CORE[name]
    found = [item.max_length for item in info.metadata if isinstance(item, MaxLen)]
    if not found and name == "company":
        # An optional field keeps its limit inside the union.
        found = [100]
    return found[0] if found else None


def core_fields(message: Mode, company: Mode) -> list[PublicField]:
    """The core fields a form with these ``message`` and ``company`` modes asks for, in order."""
    modes = {"name": "required", "email": "required", "company": company, "message": message}
    return [
        PublicField(
            name=name,
            type=CORE_TYPES[name],
            label=CORE_LABELS[name],
            required=mode == "required",
            max_length=None if name == "email" else _max_length(name),
            core=True,
        )
        for name, mode in modes.items()
        if mode != "off"
    ]


def _blank_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _not_missing(value: Any) -> Any:
    if _blank_to_none(value) is None:
        raise PydanticCustomError("missing", "Field required")
    return value


def _core_definition(name: str, mode: Mode) -> tuple[Any, Any]:
    annotation = _CORE[name].rebuild_annotation()
    if name == "company":
        # ContactForm's company is optional: its inner type is the first of the union.
        inner = annotation.__args__[0]
        if mode == "required":
            return Annotated[inner, MinLen(1)], ...
        return Annotated[inner | None, BeforeValidator(_blank_to_none)], None
    if mode == "optional":
        return Annotated[annotation | None, BeforeValidator(_blank_to_none)], None
    return annotation, ...


def _declared_definition(spec: PublicField) -> tuple[Any, Any]:
    kind = FIELD_TYPES[spec.type]
    inner = kind.annotation(spec)  # type: ignore[arg-type]
    if kind.boolean:
        # Never missing: an unchecked box is absent from a browser's post (see Form.validate).
        return inner, Field(alias=spec.name)
    if spec.required:
        return Annotated[inner, BeforeValidator(_not_missing)], Field(alias=spec.name)
    return Annotated[inner | None, BeforeValidator(_blank_to_none)], Field(None, alias=spec.name)


@dataclass(frozen=True)
class Form:
    """A validated form definition with the settings' defaults filled in."""

    id: str
    title: str
    recipients: tuple[str, ...]
    origins: tuple[str, ...]
    redirect_url: str | None
    confirmation: bool = True
    message: Mode = "required"
    company: Mode = "optional"
    declared: tuple[PublicField, ...] = ()
    locale: str | None = None
    model: type[BaseModel] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        definitions: dict[str, Any] = {
            core.name: _core_definition(core.name, self.mode_of(core.name))
            for core in core_fields(self.message, self.company)
        }
        for spec in self.declared:
            definitions[f"field_{spec.name}"] = _declared_definition(spec)
        model = create_model(f"Form_{self.id}", __config__=_FORM_CONFIG, **definitions)
        object.__setattr__(self, "model", model)

    def mode_of(self, core: str) -> Mode:
        """``required``, ``optional`` or ``off`` for a core field."""
        return {"message": self.message, "company": self.company}.get(core, "required")  # type: ignore[return-value]

    @property
    def fields(self) -> list[PublicField]:
        """Every field, core first, in the one order."""
        return [*core_fields(self.message, self.company), *self.declared]

    @property
    def info(self) -> FormInfo:
        """What emails and storage need of this form."""
        return FormInfo(
            id=self.id,
            title=self.title,
            recipients=self.recipients,
            company=self.company != "off",
        )

    def validate(self, raw: Mapping[str, Any], *, now: datetime | None = None) -> Submission:
        """``raw`` as posted, validated; raises :class:`pydantic.ValidationError`."""
        data = dict(raw)
        for spec in self.declared:
            if FIELD_TYPES[spec.type].boolean:
                data.setdefault(spec.name, None)
        values = self.model.model_validate(data).model_dump(by_alias=True)
        return self.submission(values, now=now or datetime.now(UTC))

    def submission(self, values: Mapping[str, Any], *, now: datetime) -> Submission:
        """The submission of already valid ``values`` (by field name)."""
        answers = tuple(
            Answer(spec.name, spec.label, spec.type, values[spec.name])
            for spec in self.declared
            if values.get(spec.name) is not None
        )
        consents = tuple(
            Consent(spec.name, spec.label, now)
            for spec in self.declared
            if spec.type == "consent" and values.get(spec.name)
        )
        return Submission(
            name=values["name"],
            email=str(values["email"]),
            message=values.get("message") or None,
            company=values.get("company") or None,
            form=self.info,
            answers=answers,
            consents=consents,
            created_at=now,
        )

    def fingerprint(self, submission: Submission) -> str:
        """A hash of what was submitted, to tell a repeat from a different request."""
        canonical = {
            "form": self.id,
            "name": submission.name,
            "email": submission.email,
            "message": submission.message,
            "company": submission.company,
            "fields": submission.fields,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The public description: ``GET /api/forms/{form}``. Nothing secret."""
        return {
            "id": self.id,
            "title": self.title,
            "fields": [spec.public() for spec in self.fields],
        }

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of a post to this form, for the OpenAPI document."""
        properties = {
            spec.name: {"title": spec.label, **FIELD_TYPES[spec.type].schema(spec)}  # type: ignore[arg-type]
            for spec in self.fields
        }
        required = [spec.name for spec in self.fields if spec.required or spec.type == "consent"]
        return {
            "title": self.title,
            "type": "object",
            "properties": properties,
            "required": required,
        }

    def sample(self) -> Submission:
        """A submission with a sample value in every field, for previews and template checks."""
        values: dict[str, Any] = {
            "name": "Zoë Ångström",
            "email": "zoe@example.org",
            "company": "Example & Co." if self.company != "off" else None,
            "message": (
                "Hello,\nwe would like a quote for a new website.\n\nCould we talk next week?\nZoë"
                if self.message != "off"
                else None
            ),
        }
        for spec in self.declared:
            values[spec.name] = FIELD_TYPES[spec.type].sample(spec)  # type: ignore[arg-type]
        return self.submission(values, now=datetime.now(UTC))
