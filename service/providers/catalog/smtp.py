"""The ``smtp`` provider's declaration: SMTP submission (Gmail first of all).

Implemented by :mod:`service.providers.smtp`. ``EMAIL_ADDRESS`` is both the
login and, without ``EMAIL_FROM``, the From address.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import EmailStr, Field, SecretStr, field_validator

from service.providers.base import ProviderSettings
from service.settings_groups import Env

__all__ = ["SmtpSettings"]


class SmtpSettings(ProviderSettings):
    """``SMTP_*`` plus the account: ``EMAIL_ADDRESS`` and ``EMAIL_PASSWORD``."""

    name = "smtp"
    implementation = "service.providers.smtp:SmtpProvider"
    credentials = ("username", "password")

    username: Annotated[EmailStr | None, Env("EMAIL_ADDRESS")] = None
    password: Annotated[SecretStr | None, Env("EMAIL_PASSWORD")] = None
    host: str = "smtp.gmail.com"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    timeout: float = Field(default=15.0, gt=0, le=300)
    pool_size: int = Field(default=2, ge=1, le=20)
    pool_idle_seconds: float = Field(default=60.0, gt=0)

    @field_validator("password")
    @classmethod
    def _strip_app_password_spaces(cls, value: SecretStr | None) -> SecretStr | None:
        # Gmail shows App Passwords in groups of four; people paste them with the spaces.
        if value is None:
            return None
        return SecretStr(value.get_secret_value().replace(" ", ""))

    def missing_credential(self) -> str | None:
        # SMTP_SECURITY=none talks to a local catcher that takes no password.
        missing = super().missing_credential()
        if missing == self.variable("password") and self.security == "none":
            return None
        return missing
