"""The ``mailjet`` provider's declaration; implemented by :mod:`service.providers.mailjet`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["MailjetSettings"]


class MailjetSettings(ProviderSettings):
    """``MAILJET_API_KEY``, ``_SECRET_KEY``, ``_BASE_URL`` and ``_WEBHOOK_AUTH``."""

    name = "mailjet"
    implementation = "service.providers.mailjet:MailjetProvider"
    credentials = ("api_key", "secret_key")
    webhook = "service.providers.mailjet_webhook:MailjetWebhook"
    webhook_secret = "webhook_auth"  # noqa: S105 - the field's name

    api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    #: ``MAILJET_WEBHOOK_AUTH``: ``user:password`` put in the event callback URL.
    webhook_auth: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.mailjet.com")
