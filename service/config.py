"""Typed settings, read from the environment once at startup.

Every setting is an environment variable named after the field in upper case
(``email_providers`` is ``EMAIL_PROVIDERS``). :func:`load_settings` turns any
problem into one :class:`ConfigError` whose message names the variable, so that
``python -m service`` can print one line and stop instead of a traceback.

Each provider's settings are a typed group declared by the provider itself
(:mod:`service.providers.catalog`), still read from flat variables
(``RESEND_API_KEY``); :mod:`service.settings_groups` maps one to the other.
Keyword overrides of :func:`load_settings` are named like the variables in
lower case (``resend_api_key=...``), grouped or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import RateLimitItem, parse_many
from pydantic import (
    AnyHttpUrl,
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from service.i18n import LOCALES, supported_locale
from service.providers.base import ProviderSettings
from service.providers.catalog import PROVIDERS, ProviderGroups
from service.secret_sources import FileSecretsSource, SecretSourceError, secret_variables
from service.settings_groups import GroupedEnvSource, SettingError, nest, variable_at
from service.validation import check_single_line

__all__ = [
    "MIN_ADMIN_TOKEN_LENGTH",
    "RATE_LIMIT_SCHEMES",
    "ConfigError",
    "Settings",
    "load_settings",
    "parse_rate_limit",
]

DEVELOPMENT_FROM = "contact@example.com"

# A bearer token shorter than this is guessable; `openssl rand -hex 16` makes a good one.
MIN_TOKEN_LENGTH = 16

# The admin token reads every lead, so it must be longer; `openssl rand -hex 24` makes one.
MIN_ADMIN_TOKEN_LENGTH = 24

# Where rate-limit counters may live: this process, or a Redis shared by every worker.
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix")

# Form fields the honeypot must not shadow: a visitor fills these.
_FORM_FIELDS = ("name", "email", "message", "company", "locale")

CommaList = Annotated[list[str], NoDecode]


class ConfigError(Exception):
    """The environment does not describe a working service; the message names the variable."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _blank_is_none(value: Any) -> Any:
    # An empty variable (``CAPTCHA_PROVIDER=``) means "not set", as in a shell.
    if isinstance(value, str) and not value.strip():
        return None
    return value


def parse_rate_limit(value: str) -> list[RateLimitItem]:
    """The limits in ``value`` (``"5/minute;20/hour"``); none for ``off``. Raises ``ValueError``."""
    if value.strip().lower() == "off":
        return []
    try:
        items = parse_many(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a rate limit; write e.g. 5/minute;20/hour, or off"
        ) from None
    if any(item.amount < 1 for item in items):
        raise ValueError("a limit of 0 refuses everything; write off to disable limiting")
    return items


class Settings(BaseSettings):
    """The service's whole configuration. Built once; treat it as read-only."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, validate_default=True)

    # Process
    app_env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    # Addresses
    email_providers: CommaList = Field(default_factory=list)
    email_from: EmailStr | None = None
    email_from_name: str = Field(default="", max_length=100)
    contact_recipients: Annotated[list[EmailStr], NoDecode] = Field(default_factory=list)
    contact_redirect_url: AnyHttpUrl | None = None
    cors_origins: CommaList | None = None
    request_max_size: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    forms_file: Path | None = None
    request_deadline_seconds: float = Field(default=30.0, gt=0, le=600)
    # SendGrid batches events up to 768 kB; a contact form needs far less.
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=10 * 1024 * 1024)

    # Branding and templates
    brand_name: str = Field(default="Contact", max_length=100)
    brand_url: AnyHttpUrl | None = None
    brand_logo_url: AnyHttpUrl | None = None
    brand_color: str = Field(default="#2563eb", pattern=r"^#(?:[0-9a-fA-F]{3}){1,2}$")
    brand_address: str = Field(default="", max_length=300)
    email_templates_dir: Path | None = None

    # Languages
    default_locale: str = "en"
    owner_locale: str | None = None
    owner_timezone: str = "UTC"

    # Providers: one typed group each, as declared in service/providers/catalog/
    provider_settings: ProviderGroups = Field(default_factory=ProviderGroups)  # type: ignore[valid-type]
    http_timeout: float = Field(default=10.0, gt=0, le=300)

    # Retries and failover
    retry_attempts: int = Field(default=3, ge=1, le=20)
    retry_max_seconds: float = Field(default=20.0, gt=0, le=600)
    provider_cooldown_seconds: float = Field(default=60.0, ge=0, le=86400)

    # Outbox
    database_url: str = "sqlite:///var/outbox.db"
    outbox_max_age_hours: float = Field(default=72.0, gt=0)
    outbox_retention_days: float = Field(default=30.0, gt=0)
    outbox_lease_seconds: float = Field(default=60.0, ge=5, le=3600)
    outbox_concurrency: int = Field(default=16, ge=1, le=256)
    delivery_worker: bool = True

    # Operations
    log_format: Literal["text", "json"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    admin_token: SecretStr | None = None
    otel_exporter_otlp_endpoint: AnyHttpUrl | None = None
    otel_exporter_otlp_protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    applicationinsights_connection_string: SecretStr | None = None
    azure_key_vault_url: AnyHttpUrl | None = None

    # Abuse protection
    honeypot_field: str = Field(default="_gotcha", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    contact_rate_limit: str = "5/minute;20/hour"
    confirmation_rate_limit: str = "1/day"
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = Field(
        default="contact-mailer", pattern=r"^[A-Za-z0-9_.:\-]{1,64}$"
    )
    real_ip_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9\-]{1,64}$")
    proxies_count: int = Field(default=0, ge=0, le=10)
    forwarded_secret: SecretStr | None = None
    captcha_provider: Literal["turnstile", "hcaptcha", "recaptcha"] | None = None
    captcha_secret: SecretStr | None = None
    # Public: the hosted form page renders the provider's widget with it.
    captcha_site_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,100}$")
    captcha_hostname: str | None = Field(default=None, max_length=253)
    captcha_min_score: float = Field(default=0.5, ge=0, le=1)

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

    @field_validator("email_providers", "cors_origins", "contact_recipients", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("email_from_name", "brand_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # Both end up in headers (From, Subject), where a line break is an injection.
        return check_single_line(value)

    @field_validator("email_providers")
    @classmethod
    def _known_providers(cls, value: list[str]) -> list[str]:
        names = [name.lower() for name in value]
        unknown = [name for name in names if name not in PROVIDERS]
        if unknown:
            valid = ", ".join(PROVIDERS)
            raise ValueError(f"unknown provider {unknown[0]!r}; valid names: {valid}")
        if len(set(names)) != len(names):
            raise ValueError("a provider is listed twice")
        return names

    @field_validator(
        "real_ip_header",
        "forwarded_secret",
        "captcha_provider",
        "captcha_secret",
        "captcha_site_key",
        "captcha_hostname",
        "admin_token",
        "forms_file",
        mode="before",
    )
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return _blank_is_none(value)

    @field_validator("captcha_provider", mode="before")
    @classmethod
    def _provider_name(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("default_locale", "owner_locale", mode="before")
    @classmethod
    def _shipped_language(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            # Blank is unset: English by default; the owner's follows the default.
            return LOCALES[0] if info.field_name == "default_locale" else None
        found = supported_locale(value)
        if found is None:
            raise ValueError(f"{value!r} is not a shipped language; valid: {', '.join(LOCALES)}")
        return found

    @field_validator("owner_timezone")
    @classmethod
    def _iana_time_zone(cls, value: str) -> str:
        name = value.strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone; write e.g. UTC or Europe/Amsterdam"
            ) from None
        return name

    @field_validator("honeypot_field")
    @classmethod
    def _honeypot_is_not_a_form_field(cls, value: str) -> str:
        if value.lower() in _FORM_FIELDS:
            raise ValueError(
                f"must not be one of the form's own fields ({', '.join(_FORM_FIELDS)})"
            )
        return value

    @field_validator("contact_rate_limit", "confirmation_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)
        return value.strip()

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        scheme = value.partition("://")[0].lower()
        if "://" not in value or scheme not in RATE_LIMIT_SCHEMES:
            raise ValueError("must start with memory:// or redis:// (rediss://, redis+unix://)")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format_for_environment(
        cls, value: str | None, info: ValidationInfo
    ) -> Literal["text", "json"]:
        if value is not None:
            return value  # type: ignore[return-value]
        return "json" if info.data.get("app_env") == "production" else "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters")
        return value

    @field_validator("admin_token")
    @classmethod
    def _admin_token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_ADMIN_TOKEN_LENGTH} characters")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        production = self.app_env == "production"
        if production and not self.email_providers:
            raise _MissingSetting("email_providers", "required when APP_ENV=production")
        for name in self.providers:
            missing = self.missing_credential(name)
            if missing is not None:
                raise _MissingSetting(missing, f"required by the {name!r} provider")
        if production and self.sender_address.lower() == DEVELOPMENT_FROM:
            raise self._placeholder_sender()
        if self.captcha_provider and self.captcha_secret is None:
            raise _MissingSetting(
                "captcha_secret", f"required by CAPTCHA_PROVIDER={self.captcha_provider}"
            )
        return self

    def _placeholder_sender(self) -> _MissingSetting:
        """Why production refuses the development From address: unset, or set to it."""
        if self.email_from is None and self.email_address is None:
            return _MissingSetting(
                "email_from", "required in production; set EMAIL_FROM (or EMAIL_ADDRESS)"
            )
        field = "email_from" if self.email_from is not None else "email_address"
        return _MissingSetting(
            field,
            f"{self.sender_address} is the development placeholder, not allowed in production; "
            "set your own address",
        )

    def provider_group(self, provider: str) -> ProviderSettings:
        """The settings group ``provider`` declared (``provider_settings.<name>``)."""
        return getattr(self.provider_settings, provider)

    def missing_credential(self, provider: str) -> str | None:
        """The variable of the first setting ``provider`` cannot work without that is unset."""
        return self.provider_group(provider).missing_credential()

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
    def production(self) -> bool:
        """True when ``APP_ENV=production``: no silent defaults, no debug, no preview."""
        return self.app_env == "production"

    @property
    def notification_locale(self) -> str:
        """The owner's language: ``OWNER_LOCALE``, else ``DEFAULT_LOCALE``."""
        return self.owner_locale or self.default_locale

    @property
    def owner_zone(self) -> ZoneInfo:
        """``OWNER_TIMEZONE`` as a time zone (``ZoneInfo`` caches it)."""
        return ZoneInfo(self.owner_timezone)

    @property
    def tracing_enabled(self) -> bool:
        """True when spans have somewhere to go: an OTLP endpoint or Application Insights."""
        return bool(self.otel_exporter_otlp_endpoint or self.applicationinsights_connection_string)

    @property
    def providers(self) -> list[str]:
        """The ordered provider chain; ``file`` when development leaves it empty."""
        return self.email_providers or ["file"]

    @property
    def sender_address(self) -> str:
        """The From address: ``EMAIL_FROM``, else ``EMAIL_ADDRESS``, else a development stand-in."""
        return str(self.email_from or self.email_address or DEVELOPMENT_FROM)

    @property
    def recipients(self) -> list[str]:
        """Who is notified of a submission: ``CONTACT_RECIPIENTS``, else the From address."""
        return [str(addr) for addr in self.contact_recipients] or [self.sender_address]

    @property
    def contact_limits(self) -> list[RateLimitItem]:
        """``CONTACT_RATE_LIMIT`` parsed; empty when it is ``off``."""
        return parse_rate_limit(self.contact_rate_limit)

    @property
    def confirmation_limits(self) -> list[RateLimitItem]:
        """``CONFIRMATION_RATE_LIMIT`` parsed; empty when it is ``off``."""
        return parse_rate_limit(self.confirmation_rate_limit)

    @property
    def allowed_origins(self) -> list[str]:
        """CORS origins: as configured, else ``*`` in development and none in production."""
        if self.cors_origins is not None:
            return self.cors_origins
        return [] if self.production else ["*"]


class _MissingSetting(SettingError):
    """A required setting is absent; pydantic carries it to :func:`_describe` in ``ctx``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field


class _VaultLocation(BaseSettings):
    """Only ``AZURE_KEY_VAULT_URL``: read first, since the vault completes the other settings."""

    model_config = SettingsConfigDict(extra="ignore")

    azure_key_vault_url: AnyHttpUrl | None = None


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
