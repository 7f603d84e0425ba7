"""Read ``FORMS_FILE`` (TOML, with the standard library's :mod:`tomllib`) into :class:`Forms`.

Without a file there is one form, ``contact``, exactly today's. A file that
does not describe working forms stops startup with one line naming the file,
the form and the key: ``FORMS_FILE forms.toml: forms.careers.fields[1].type:
unknown type 'dropdown'; valid types: text, ...``.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from service.config import ConfigError
from service.forms.form import Form, PublicField
from service.forms.spec import FieldSpec, FormsFile, FormSpec, KeyProblem
from service.i18n import LOCALES, supported_locale

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["DEFAULT_FORM", "Forms", "FormsError", "load_forms"]

DEFAULT_FORM = "contact"

logger = logging.getLogger("service.forms")


class FormsError(ConfigError):
    """``FORMS_FILE`` cannot be read or does not describe working forms."""


class Forms(Mapping[str, Form]):
    """Every form by id; ``contact`` is always one of them."""

    def __init__(self, forms: Mapping[str, Form]) -> None:
        self._forms = dict(forms)

    def __getitem__(self, form_id: str) -> Form:
        return self._forms[form_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._forms)

    def __len__(self) -> int:
        return len(self._forms)

    @property
    def contact(self) -> Form:
        """The form behind ``POST /api/contact``."""
        return self._forms[DEFAULT_FORM]


def load_forms(settings: Settings) -> Forms:
    """The forms ``FORMS_FILE`` declares, defaults from ``settings``; raises :class:`FormsError`."""
    path = settings.forms_file
    declared = _read(path, settings.honeypot_field).forms if path is not None else {}
    for form_id, spec in declared.items():
        _warn_unshipped(path, form_id, spec.locale)
    specs = {DEFAULT_FORM: FormSpec(), **declared}
    return Forms({form_id: build_form(form_id, spec, settings) for form_id, spec in specs.items()})


def _warn_unshipped(path: Path | None, form_id: str, locale: str | None) -> None:
    """A form language without a catalog is no error (its visitors get the next one): say so."""
    if locale is not None and supported_locale(locale) is None:
        logger.warning(
            "FORMS_FILE %s: forms.%s.locale: %r has no shipped catalog (%s); its visitors "
            "get their browser's language or DEFAULT_LOCALE",
            path,
            form_id,
            locale,
            ", ".join(LOCALES),
        )


def build_form(form_id: str, spec: FormSpec, settings: Settings) -> Form:
    """The run-time form of a declaration: what it leaves out comes from ``settings``."""
    redirect = spec.redirect_url or (
        str(settings.contact_redirect_url) if settings.contact_redirect_url else None
    )
    return Form(
        id=form_id,
        title=spec.title or form_id.replace("-", " ").capitalize(),
        recipients=tuple(spec.recipients or settings.recipients),
        origins=tuple(spec.origins if spec.origins is not None else settings.allowed_origins),
        redirect_url=redirect,
        confirmation=spec.confirmation,
        message=spec.message,
        company=spec.company,
        declared=tuple(_public(field) for field in spec.fields),
        locale=spec.locale,
    )


def _public(spec: FieldSpec) -> PublicField:
    return PublicField(
        name=spec.name,
        type=spec.type,
        label=spec.label,
        required=spec.required or spec.type == "consent",
        options=tuple(spec.options) if spec.options is not None else None,
        max_length=spec.max_length,
        min=spec.min,
        max=spec.max,
        placeholder=spec.placeholder,
    )


def _read(path: Path, honeypot: str) -> FormsFile:
    prefix = f"FORMS_FILE {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise FormsError(f"{prefix}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise FormsError(f"{prefix}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise FormsError(f"{prefix}: not valid TOML: {err}") from None
    try:
        return FormsFile.model_validate(data, context={"honeypot": honeypot})
    except ValidationError as err:
        raise FormsError(f"{prefix}: {describe_error(err)}") from None


def describe_error(err: ValidationError) -> str:
    """The first problem as ``forms.ID.fields[I].KEY: message``."""
    first = err.errors(include_url=False, include_input=False)[0]
    path = ""
    for part in first["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            path += f".{part}" if path else str(part)
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, KeyProblem):
        path = f"{path}.{inner.key}" if path else inner.key
        if not path.startswith("forms"):
            path = f"forms.{path}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required"
    return f"{path or 'forms'}: {message[:1].lower()}{message[1:]}"
