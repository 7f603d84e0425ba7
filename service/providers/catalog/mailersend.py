"""The ``mailersend`` provider's declaration; implemented by :mod:`service.providers.mailersend`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["MailersendSettings"]


class MailersendSettings(ProviderSettings):
    """``MAILERSEND_API_KEY``, ``MAILERSEND_BASE_URL`` and ``MAILERSEND_SEND_HEADERS``."""

    name = "mailersend"
    implementation = "service.providers.mailersend:MailersendProvider"
    credentials = ("api_key",)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.mailersend.com")
    #: MailerSend takes custom headers (our Message-ID, Auto-Submitted) on Enterprise plans only.
    send_headers: bool = False
