"""Where secret settings may come from besides their own variable: ``<NAME>_FILE``.

A secret is any setting typed :class:`~pydantic.SecretStr`, plain or in a
settings group (a provider's keys); the list is derived from the types
(:func:`secret_variables`), so a new secret setting gets ``_FILE`` and Key
Vault support by being declared.
``EMAIL_PASSWORD_FILE=/run/secrets/email_password`` reads the password from that
file, the convention of Docker and Kubernetes secrets; one trailing newline (as
``echo`` writes) is stripped. Setting both ``EMAIL_PASSWORD`` and its ``_FILE``
is an error rather than a silent choice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from service.settings_groups import variables

__all__ = ["FileSecretsSource", "SecretSourceError", "secret_variables"]


class SecretSourceError(Exception):
    """A secret could not be read; the message starts with the variable to fix."""


def secret_variables(model: type[BaseModel]) -> tuple[str, ...]:
    """Every secret variable of ``model`` in lower case (``email_password``, ``resend_api_key``)."""
    return tuple(key for key, variable in variables(model).items() if variable.secret)


def _strip_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


class FileSecretsSource(PydanticBaseSettingsSource):
    """A pydantic-settings source reading each secret from the file ``<NAME>_FILE`` names."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads every secret at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The secrets read from files, by variable in lower case.

        Raises :class:`SecretSourceError`.
        """
        # Variables are matched case-insensitively, as pydantic-settings does by default.
        environ = {
            name.upper(): value
            for name, value in (os.environ if self._environ is None else self._environ).items()
        }
        values: dict[str, Any] = {}
        for key in secret_variables(self.settings_cls):
            variable = key.upper()
            file_variable = f"{variable}_FILE"
            path = environ.get(file_variable)
            if not path:
                continue
            if variable in environ:
                raise SecretSourceError(
                    f"{file_variable}: set either {variable} or {file_variable}, not both"
                )
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as err:
                reason = err.strerror or type(err).__name__
                raise SecretSourceError(f"{file_variable}: cannot read {path}: {reason}") from err
            except UnicodeDecodeError as err:
                raise SecretSourceError(f"{file_variable}: {path} is not UTF-8 text") from err
            values[key] = _strip_newline(text)
        return values
