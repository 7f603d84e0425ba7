"""What the emails say and in which language: identity, branding, templates, locales."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, BaseModel, EmailStr, Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from service.i18n import LOCALES, supported_locale
from service.settings.common import split_commas
from service.validation import check_single_line

__all__ = ["EmailSettings", "LanguageSettings"]


class EmailSettings(BaseModel):
    """Who the emails are from and to, and how they look.

    The From address falls back to the SMTP account (``EMAIL_ADDRESS``), which
    the ``smtp`` provider declares, so the fallbacks live in ``Settings``.
    """

    email_from: EmailStr | None = None
    email_from_name: str = Field(default="", max_length=100)
    contact_recipients: Annotated[list[EmailStr], NoDecode] = Field(default_factory=list)
    brand_name: str = Field(default="Contact", max_length=100)
    brand_url: AnyHttpUrl | None = None
    brand_logo_url: AnyHttpUrl | None = None
    brand_color: str = Field(default="#2563eb", pattern=r"^#(?:[0-9a-fA-F]{3}){1,2}$")
    brand_address: str = Field(default="", max_length=300)
    email_templates_dir: Path | None = None

    @field_validator("contact_recipients", mode="before")
    @classmethod
    def _recipients_comma_separated(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("email_from_name", "brand_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # Both end up in headers (From, Subject), where a line break is an injection.
        return check_single_line(value)


class LanguageSettings(BaseModel):
    """The visitors' default language, and the owner's language and time zone."""

    default_locale: str = "en"
    owner_locale: str | None = None
    owner_timezone: str = "UTC"

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

    @property
    def notification_locale(self) -> str:
        """The owner's language: ``OWNER_LOCALE``, else ``DEFAULT_LOCALE``."""
        return self.owner_locale or self.default_locale

    @property
    def owner_zone(self) -> ZoneInfo:
        """``OWNER_TIMEZONE`` as a time zone (``ZoneInfo`` caches it)."""
        return ZoneInfo(self.owner_timezone)
