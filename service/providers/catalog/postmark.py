"""The ``postmark`` provider's declaration; implemented by :mod:`service.providers.postmark`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["PostmarkSettings"]


class PostmarkSettings(ProviderSettings):
    """``POSTMARK_SERVER_TOKEN``, ``_BASE_URL``, ``_MESSAGE_STREAM`` and ``_WEBHOOK_AUTH``."""

    name = "postmark"
    implementation = "service.providers.postmark:PostmarkProvider"
    credentials = ("server_token",)
    webhook = "service.providers.postmark_webhook:PostmarkWebhook"
    webhook_secret = "webhook_auth"  # noqa: S105 - the field's name

    server_token: SecretStr | None = None
    #: ``POSTMARK_WEBHOOK_AUTH``: ``user:password`` put in the webhook URL's credentials.
    webhook_auth: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.postmarkapp.com")
    message_stream: str = "outbound"
