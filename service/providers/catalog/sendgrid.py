"""The ``sendgrid`` provider's declaration; implemented by :mod:`service.providers.sendgrid`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["SendgridSettings"]


class SendgridSettings(ProviderSettings):
    """``SENDGRID_API_KEY``, ``SENDGRID_BASE_URL`` and ``SENDGRID_WEBHOOK_PUBLIC_KEY``."""

    name = "sendgrid"
    implementation = "service.providers.sendgrid:SendgridProvider"
    credentials = ("api_key",)
    webhook = "service.providers.sendgrid_webhook:SendgridWebhook"
    webhook_secret = "webhook_public_key"  # noqa: S105 - the field's name

    api_key: SecretStr | None = None
    #: ``SENDGRID_WEBHOOK_PUBLIC_KEY``: the Signed Event Webhook's verification key (base64).
    webhook_public_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.sendgrid.com")
