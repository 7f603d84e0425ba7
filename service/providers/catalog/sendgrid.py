"""The ``sendgrid`` provider's declaration; implemented by :mod:`service.providers.sendgrid`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["SendgridSettings"]


class SendgridSettings(ProviderSettings):
    """``SENDGRID_API_KEY`` and ``SENDGRID_BASE_URL``."""

    name: ClassVar[str] = "sendgrid"
    implementation: ClassVar[str] = "service.providers.sendgrid:SendgridProvider"
    credentials: ClassVar[tuple[str, ...]] = ("api_key",)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.sendgrid.com")
