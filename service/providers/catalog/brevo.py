"""The ``brevo`` provider's declaration; implemented by :mod:`service.providers.brevo`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["BrevoSettings"]


class BrevoSettings(ProviderSettings):
    """``BREVO_API_KEY`` and ``BREVO_BASE_URL``."""

    name = "brevo"
    implementation = "service.providers.brevo:BrevoProvider"
    credentials = ("api_key",)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.brevo.com")
