"""The ``sendgrid`` provider's declaration; implemented by :mod:`service.providers.sendgrid`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["SendgridSettings"]


class SendgridSettings(ProviderSettings):
    """``SENDGRID_API_KEY`` and ``SENDGRID_BASE_URL``."""

    name = "sendgrid"
    implementation = "service.providers.sendgrid:SendgridProvider"
    credentials = ("api_key",)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.sendgrid.com")
