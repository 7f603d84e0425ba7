"""The ``resend`` provider's declaration; implemented by :mod:`service.providers.resend`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["ResendSettings"]


class ResendSettings(ProviderSettings):
    """``RESEND_API_KEY`` and ``RESEND_BASE_URL``."""

    name = "resend"
    implementation = "service.providers.resend:ResendProvider"
    credentials = ("api_key",)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.resend.com")
