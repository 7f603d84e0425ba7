"""The ``mailjet`` provider's declaration; implemented by :mod:`service.providers.mailjet`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["MailjetSettings"]


class MailjetSettings(ProviderSettings):
    """``MAILJET_API_KEY``, ``MAILJET_SECRET_KEY`` and ``MAILJET_BASE_URL``."""

    name = "mailjet"
    implementation = "service.providers.mailjet:MailjetProvider"
    credentials = ("api_key", "secret_key")

    api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.mailjet.com")
