"""The ``sparkpost`` provider's declaration; implemented by :mod:`service.providers.sparkpost`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["SparkpostSettings"]


class SparkpostSettings(ProviderSettings):
    """``SPARKPOST_API_KEY``, ``_WEBHOOK_AUTH`` and ``_BASE_URL`` (EU: ``api.eu.sparkpost.com``)."""

    name = "sparkpost"
    implementation = "service.providers.sparkpost:SparkpostProvider"
    credentials = ("api_key",)
    webhook = "service.providers.sparkpost_webhook:SparkpostWebhook"
    webhook_secret = "webhook_auth"  # noqa: S105 - the field's name

    api_key: SecretStr | None = None
    #: ``SPARKPOST_WEBHOOK_AUTH``: ``user:password``, the webhook's Basic credentials.
    webhook_auth: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.sparkpost.com")
