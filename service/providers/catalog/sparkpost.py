"""The ``sparkpost`` provider's declaration; implemented by :mod:`service.providers.sparkpost`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["SparkpostSettings"]


class SparkpostSettings(ProviderSettings):
    """``SPARKPOST_API_KEY`` and ``SPARKPOST_BASE_URL`` (``https://api.eu.sparkpost.com``: EU)."""

    name = "sparkpost"
    implementation = "service.providers.sparkpost:SparkpostProvider"
    credentials = ("api_key",)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.sparkpost.com")
