"""The ``mailgun`` provider's declaration; implemented by :mod:`service.providers.mailgun`."""

from __future__ import annotations

import re

from pydantic import AnyHttpUrl, SecretStr, field_validator

from service.providers.base import ProviderSettings

__all__ = ["MailgunSettings"]

# A hostname; "/" or "%" would change the endpoint, and Mailgun answers a
# wrong endpoint with a misleading 200.
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class MailgunSettings(ProviderSettings):
    """``MAILGUN_API_KEY``, ``MAILGUN_DOMAIN`` and ``MAILGUN_BASE_URL``."""

    name = "mailgun"
    implementation = "service.providers.mailgun:MailgunProvider"
    credentials = ("api_key", "domain")

    api_key: SecretStr | None = None
    domain: str | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.mailgun.net")

    @field_validator("domain")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value and not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a domain name")
        return value
