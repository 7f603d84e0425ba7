"""Abuse defences: the honeypot, rate limits, trusted proxies, captcha, allowed origins."""

from __future__ import annotations

from typing import Any, Literal, Self

from limits import RateLimitItem, parse_many
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from service.settings.common import CommaList, blank_is_none, split_commas
from service.settings_groups import SettingError

__all__ = ["RATE_LIMIT_SCHEMES", "AbuseSettings", "parse_rate_limit"]

# Where rate-limit counters may live: this process, or a Redis shared by every worker.
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix")

# Form fields the honeypot must not shadow: a visitor fills these.
_FORM_FIELDS = ("name", "email", "message", "company", "locale")


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


class AbuseSettings(BaseModel):
    """What stands between a bot and the owner's inbox; all on by default but the captcha."""

    honeypot_field: str = Field(default="_gotcha", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    cors_origins: CommaList | None = None
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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_comma_separated(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator(
        "real_ip_header",
        "forwarded_secret",
        "captcha_provider",
        "captcha_secret",
        "captcha_site_key",
        "captcha_hostname",
        mode="before",
    )
    @classmethod
    def _abuse_optional(cls, value: Any) -> Any:
        return blank_is_none(value)

    @field_validator("captcha_provider", mode="before")
    @classmethod
    def _captcha_provider_name(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

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

    @model_validator(mode="after")
    def _captcha_has_its_secret(self) -> Self:
        if self.captcha_provider and self.captcha_secret is None:
            raise SettingError(
                "captcha_secret", f"required by CAPTCHA_PROVIDER={self.captcha_provider}"
            )
        return self

    @property
    def contact_limits(self) -> list[RateLimitItem]:
        """``CONTACT_RATE_LIMIT`` parsed; empty when it is ``off``."""
        return parse_rate_limit(self.contact_rate_limit)

    @property
    def confirmation_limits(self) -> list[RateLimitItem]:
        """``CONFIRMATION_RATE_LIMIT`` parsed; empty when it is ``off``."""
        return parse_rate_limit(self.confirmation_rate_limit)
