"""The ``brevo`` provider's declaration; implemented by :mod:`service.providers.brevo`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["BrevoSettings"]


class BrevoSettings(ProviderSettings):
    """``BREVO_API_KEY``, ``BREVO_BASE_URL`` and ``BREVO_WEBHOOK_AUTH``."""

    name = "brevo"
    implementation = "service.providers.brevo:BrevoProvider"
    credentials = ("api_key",)
    webhook = "service.providers.brevo_webhook:BrevoWebhook"
    webhook_secret = "webhook_auth"  # noqa: S105 - the field's name

    api_key: SecretStr | None = None
    #: ``BREVO_WEBHOOK_AUTH``: ``user:password`` in the webhook URL, or the webhook's bearer token.
    webhook_auth: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.brevo.com")
