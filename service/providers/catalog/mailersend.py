"""The ``mailersend`` provider's declaration; implemented by :mod:`service.providers.mailersend`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["MailersendSettings"]


class MailersendSettings(ProviderSettings):
    """``MAILERSEND_API_KEY``, ``_BASE_URL``, ``_SEND_HEADERS`` and ``_WEBHOOK_SIGNING_SECRET``."""

    name = "mailersend"
    implementation = "service.providers.mailersend:MailersendProvider"
    credentials = ("api_key",)
    webhook = "service.providers.mailersend_webhook:MailersendWebhook"
    webhook_secret = "webhook_signing_secret"  # noqa: S105 - the field's name

    api_key: SecretStr | None = None
    #: ``MAILERSEND_WEBHOOK_SIGNING_SECRET``: the webhook's signing secret (HMAC-SHA256).
    webhook_signing_secret: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.mailersend.com")
    #: MailerSend takes custom headers (our Message-ID, Auto-Submitted) on Enterprise plans only.
    send_headers: bool = False
