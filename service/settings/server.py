"""The HTTP side: the server process, the forms and pages, webhooks, the admin API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, field_validator

from service.settings.common import blank_is_none, check_length

__all__ = [
    "MIN_ADMIN_TOKEN_LENGTH",
    "AdminSettings",
    "FormSettings",
    "ServerSettings",
    "WebhookSettings",
]

# The admin token reads every lead, so it must be long; `openssl rand -hex 24` makes one.
MIN_ADMIN_TOKEN_LENGTH = 24


class ServerSettings(BaseModel):
    """The process and its HTTP server: environment, address, workers, request limits."""

    app_env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    request_max_size: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    request_deadline_seconds: float = Field(default=30.0, gt=0, le=600)

    @property
    def production(self) -> bool:
        """True when ``APP_ENV=production``: no silent defaults, no debug, no preview."""
        return self.app_env == "production"


class FormSettings(BaseModel):
    """The forms served and where a browser goes after posting one."""

    forms_file: Path | None = None
    contact_redirect_url: AnyHttpUrl | None = None

    @field_validator("forms_file", mode="before")
    @classmethod
    def _forms_file_optional(cls, value: Any) -> Any:
        return blank_is_none(value)


class WebhookSettings(BaseModel):
    """Providers' delivery webhooks; each provider's secret is in its own group."""

    # SendGrid batches events up to 768 kB; a contact form needs far less.
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=10 * 1024 * 1024)


class AdminSettings(BaseModel):
    """The admin API: off unless ``ADMIN_TOKEN`` is set."""

    admin_token: SecretStr | None = None

    @field_validator("admin_token", mode="before")
    @classmethod
    def _admin_token_optional(cls, value: Any) -> Any:
        return blank_is_none(value)

    @field_validator("admin_token")
    @classmethod
    def _admin_token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        return check_length(value, MIN_ADMIN_TOKEN_LENGTH)
