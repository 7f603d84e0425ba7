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
    """``MAILGUN_API_KEY``, ``_DOMAIN``, ``_BASE_URL`` and ``_WEBHOOK_SIGNING_KEY``."""

    name = "mailgun"
    implementation = "service.providers.mailgun:MailgunProvider"
    credentials = ("api_key", "domain")
    webhook = "service.providers.mailgun_webhook:MailgunWebhook"
    webhook_secret = "webhook_signing_key"  # noqa: S105 - the field's name

    api_key: SecretStr | None = None
    #: ``MAILGUN_WEBHOOK_SIGNING_KEY``: the "HTTP webhook signing key" of the account.
    webhook_signing_key: SecretStr | None = None
    domain: str | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.mailgun.net")

    @field_validator("domain")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value and not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a domain name")
        return value
