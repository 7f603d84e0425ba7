"""Settings grouped by concern, each still read from its own flat environment variable.

Operators write flat names (``RESEND_API_KEY``, ``SMTP_HOST``); code reads typed
groups (``settings.provider_settings.resend.api_key``). A :class:`SettingsGroup`
is a frozen pydantic model whose every field is one variable: the group's
``env_prefix`` plus the field name in upper case, or the name an :class:`Env`
marker gives (``password: Annotated[SecretStr | None, Env("EMAIL_PASSWORD")]``).

:func:`variables` lists every variable of a settings model, plain fields and
grouped ones alike, with where its value goes and whether it is a secret.
Everything that reads or names a variable goes through it: the environment
(:class:`GroupedEnvSource`), ``<NAME>_FILE`` and Key Vault
(:mod:`service.secret_sources`), the keyword overrides of ``load_settings``
(:func:`nest` moves ``resend_api_key=...`` into its group) and the one-line
error messages (:func:`variable_at`). So a grouped variable behaves exactly as
a plain one, and a new group needs no code outside its own declaration.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = [
    "Env",
    "GroupedEnvSource",
    "SettingError",
    "SettingsGroup",
    "Variable",
    "is_secret",
    "nest",
    "value_of",
    "variable_at",
    "variables",
]


@dataclass(frozen=True, slots=True)
class Env:
    """Marks a group field read from ``name`` instead of ``env_prefix`` + field name."""

    name: str


class SettingError(ValueError):
    """A setting is wrong or missing; ``variable`` is the environment variable to fix."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(reason)
        self.variable = variable.upper()


class SettingsGroup(BaseModel):
    """A typed group of settings, each field read from one flat environment variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Prepended to each field name (upper case) unless the field has an :class:`Env`.
    env_prefix: ClassVar[str] = ""

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of ``field``: ``api_key`` -> ``RESEND_API_KEY``."""
        for marker in cls.model_fields[field].metadata:
            if isinstance(marker, Env):
                return marker.name
        return f"{cls.env_prefix}{field}".upper()

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        """The fields typed ``SecretStr`` (or ``SecretStr | None``)."""
        return tuple(name for name, field in cls.model_fields.items() if is_secret(field))

    def secret_values(self) -> tuple[str, ...]:
        """The values of every secret field that is set: what must never be shown."""
        values = (getattr(self, name) for name in self.secret_fields())
        return tuple(v.get_secret_value() for v in values if v is not None and v.get_secret_value())


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: its name, where its value goes, whether it is secret."""

    name: str
    path: tuple[str, ...]
    secret: bool
    field: FieldInfo

    @property
    def key(self) -> str:
        """How sources and ``load_settings`` overrides name it: ``resend_api_key``."""
        return self.name.lower()


def _secret_type(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _secret_type(typing.get_args(annotation)[0])
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        return any(_secret_type(arg) for arg in typing.get_args(annotation))
    return False


def is_secret(field: FieldInfo) -> bool:
    """True for a field typed ``SecretStr`` (or ``SecretStr | None``): the type says it."""
    return _secret_type(field.annotation)


def _model_of(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _walk(model: type[BaseModel], path: tuple[str, ...]) -> typing.Iterator[Variable]:
    for name, field in model.model_fields.items():
        inner = _model_of(field)
        if inner is not None and issubclass(inner, SettingsGroup):
            for member, member_field in inner.model_fields.items():
                yield Variable(
                    inner.variable(member),
                    (*path, name, member),
                    is_secret(member_field),
                    member_field,
                )
        elif inner is not None:
            yield from _walk(inner, (*path, name))
        else:
            yield Variable(name.upper(), (*path, name), is_secret(field), field)


@cache
def variables(model: type[BaseModel]) -> Mapping[str, Variable]:
    """Every variable of ``model`` by :attr:`Variable.key`; a name used twice is an error."""
    found: dict[str, Variable] = {}
    for variable in _walk(model, ()):
        if variable.key in found:
            raise TypeError(f"{variable.name} is declared twice in {model.__name__}")
        found[variable.key] = variable
    return types.MappingProxyType(found)


def nest(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` keyed by variable (``resend_api_key``) with grouped ones moved into their group.

    A value already nested under the group (``{"provider_settings": {...}}``) is
    kept; a flat key wins over it, since flat keys come from the sources with
    the higher precedence (overrides, Key Vault).
    """
    result = dict(data)
    for key, variable in variables(model).items():
        if len(variable.path) == 1 or key not in result:
            continue
        value = result.pop(key)
        target = result
        for part in variable.path[:-1]:
            inner = target.get(part)
            target[part] = dict(inner) if isinstance(inner, Mapping) else {}
            target = target[part]
        target[variable.path[-1]] = value
    return result


def value_of(settings: BaseModel, key: str) -> Any:
    """The value of variable ``key`` (``resend_api_key``, any case) in ``settings``."""
    value: Any = settings
    for part in variables(type(settings))[key.lower()].path:
        value = getattr(value, part)
    return value


def variable_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> str | None:
    """The variable a validation error's location points at, or ``None`` for none."""
    for variable in variables(model).values():
        if tuple(loc[: len(variable.path)]) == variable.path:
            return variable.name
    return None


class GroupedEnvSource(PydanticBaseSettingsSource):
    """A pydantic-settings source reading grouped variables from the environment.

    pydantic-settings reads plain fields itself; the grouped ones come from here,
    flat (``{"resend_api_key": "re_..."}``), and :func:`nest` puts them in place.
    Names match case-insensitively, as pydantic-settings does by default.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads every grouped variable at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = {
            name.upper(): value
            for name, value in (os.environ if self._environ is None else self._environ).items()
        }
        return {
            key: environ[variable.name]
            for key, variable in variables(self.settings_cls).items()
            if len(variable.path) > 1 and variable.name in environ
        }
