"""Typed settings, read from the environment once at startup.

Every setting is an environment variable named after the field in upper case
(``email_providers`` is ``EMAIL_PROVIDERS``). :func:`load_settings` turns any
problem into one :class:`ConfigError` whose message names the variable, so that
``python -m service`` can print one line and stop instead of a traceback.

The settings are grouped by concern, one small model each in :mod:`service.settings`
(server, forms, email, languages, delivery, outbox, retention, webhooks, abuse,
admin, observability, secrets); :class:`Settings` inherits them all, so every
setting is still a flat attribute (``settings.port``) read from a flat variable.

Each provider's settings are a typed group declared by the provider itself
(:mod:`service.providers.catalog`), still read from flat variables
(``RESEND_API_KEY``); :mod:`service.settings_groups` maps one to the other.
Keyword overrides of :func:`load_settings` are named like the variables in
lower case (``resend_api_key=...``), grouped or not.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from service.secret_sources import FileSecretsSource, SecretSourceError, secret_variables
from service.settings import (
    AbuseSettings,
    AdminSettings,
    DeliverySettings,
    EmailSettings,
    FormSettings,
    LanguageSettings,
    ObservabilitySettings,
    OutboxSettings,
    RetentionSettings,
    SecretSettings,
    ServerSettings,
    WebhookSettings,
)
from service.settings.abuse import RATE_LIMIT_SCHEMES, parse_rate_limit
from service.settings.server import MIN_ADMIN_TOKEN_LENGTH
from service.settings_groups import GroupedEnvSource, SettingError, nest, variable_at

__all__ = [
    "MIN_ADMIN_TOKEN_LENGTH",
    "RATE_LIMIT_SCHEMES",
    "ConfigError",
    "Settings",
    "load_settings",
    "parse_rate_limit",
]

DEVELOPMENT_FROM = "contact@example.com"


class ConfigError(Exception):
    """The environment does not describe a working service; the message names the variable."""


class Settings(
    # pydantic takes fields and checks from the last base first: listed in reverse,
    # the variables keep the README's order and APP_ENV is read before LOG_FORMAT.
    SecretSettings,
    ObservabilitySettings,
    AdminSettings,
    AbuseSettings,
    WebhookSettings,
    RetentionSettings,
    OutboxSettings,
    DeliverySettings,
    LanguageSettings,
    EmailSettings,
    FormSettings,
    ServerSettings,
    BaseSettings,
):
    """The service's whole configuration, one base per concern. Built once; read-only.

    What is here spans groups: the From address (``EMAIL_FROM``, else the SMTP
    account), what production requires, the defaults that follow ``APP_ENV``.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True, validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add grouped variables, then ``<NAME>_FILE`` for every secret, after the environment."""
        return (
            init_settings,
            env_settings,
            GroupedEnvSource(settings_cls),
            FileSecretsSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="before")
    @classmethod
    def _group_variables(cls, data: Any) -> Any:
        # Sources and overrides name grouped settings flat (resend_api_key); nest them.
        return nest(cls, data) if isinstance(data, dict) else data

    @field_validator("log_format")
    @classmethod
    def _log_format_for_environment(
        cls, value: str | None, info: ValidationInfo
    ) -> Literal["text", "json"]:
        if value is not None:
            return value  # type: ignore[return-value]
        return "json" if info.data.get("app_env") == "production" else "text"

    @model_validator(mode="after")
    def _complete_for_production(self) -> Settings:
        if not self.production:
            return self
        if not self.email_providers:
            raise SettingError("email_providers", "required when APP_ENV=production")
        if self.sender_address.lower() == DEVELOPMENT_FROM:
            raise self._placeholder_sender()
        return self

    def _placeholder_sender(self) -> SettingError:
        """Why production refuses the development From address: unset, or set to it."""
        if self.email_from is None and self.email_address is None:
            return SettingError(
                "email_from", "required in production; set EMAIL_FROM (or EMAIL_ADDRESS)"
            )
        field = "email_from" if self.email_from is not None else "email_address"
        return SettingError(
            field,
            f"{self.sender_address} is the development placeholder, not allowed in production; "
            "set your own address",
        )

    def require_credentials(self, provider: str) -> None:
        """Raise :class:`ConfigError` naming the first credential ``provider`` lacks."""
        missing = self.missing_credential(provider)
        if missing is not None:
            raise ConfigError(f"{missing}: required by the {provider!r} provider")

    @property
    def email_address(self) -> str | None:
        """``EMAIL_ADDRESS``: the SMTP account, declared by the ``smtp`` provider."""
        username = self.provider_settings.smtp.username
        return str(username) if username else None

    @property
    def sender_address(self) -> str:
        """The From address: ``EMAIL_FROM``, else ``EMAIL_ADDRESS``, else a development stand-in."""
        return str(self.email_from or self.email_address or DEVELOPMENT_FROM)

    @property
    def recipients(self) -> list[str]:
        """Who is notified of a submission: ``CONTACT_RECIPIENTS``, else the From address."""
        return [str(addr) for addr in self.contact_recipients] or [self.sender_address]

    @property
    def allowed_origins(self) -> list[str]:
        """CORS origins: as configured, else ``*`` in development and none in production."""
        if self.cors_origins is not None:
            return self.cors_origins
        return [] if self.production else ["*"]


class _VaultLocation(SecretSettings, BaseSettings):
    """Only ``AZURE_KEY_VAULT_URL``: read first, since the vault completes the other settings."""

    model_config = SettingsConfigDict(extra="ignore")


def load_settings(*, vault_client: Any = None, **overrides: Any) -> Settings:
    """Read the environment (plus ``overrides``, used by tests) into a :class:`Settings`.

    Each secret may also come from the file named by ``<NAME>_FILE``. When
    ``AZURE_KEY_VAULT_URL`` is set, secrets found in that vault take precedence
    over the environment (``vault_client``, a ``SecretClient``, replaces the one
    built with ``DefaultAzureCredential``; tests use it). Raises
    :class:`ConfigError` with a one-line message that names the variable.
    """
    try:
        location = _VaultLocation(
            **{k: v for k, v in overrides.items() if k == "azure_key_vault_url"}
        )
        vaulted: dict[str, str] = {}
        if location.azure_key_vault_url is not None:
            # Imported here: without the variable, azure is never imported.
            from service.keyvault import read_vault_secrets

            vaulted = read_vault_secrets(
                str(location.azure_key_vault_url), secret_variables(Settings), client=vault_client
            )
        return Settings(**(vaulted | overrides))
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None
    except SecretSourceError as err:
        raise ConfigError(str(err)) from err


def _describe(err: ValidationError) -> str:
    first = err.errors(include_url=False, include_input=False)[0]
    ctx = first.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, SettingError):
        return f"{inner.variable}: {inner}"
    loc = tuple(first["loc"])
    variable = variable_at(Settings, loc) or (str(loc[0]).upper() if loc else "SETTINGS")
    message = first["msg"].removeprefix("Value error, ")
    return f"{variable}: {message}"
