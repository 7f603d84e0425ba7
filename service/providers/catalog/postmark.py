"""The ``postmark`` provider's declaration; implemented by :mod:`service.providers.postmark`."""

from __future__ import annotations

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings

__all__ = ["PostmarkSettings"]


class PostmarkSettings(ProviderSettings):
    """``POSTMARK_SERVER_TOKEN``, ``POSTMARK_BASE_URL`` and ``POSTMARK_MESSAGE_STREAM``."""

    name = "postmark"
    implementation = "service.providers.postmark:PostmarkProvider"
    credentials = ("server_token",)

    server_token: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.postmarkapp.com")
    message_stream: str = "outbound"
