"""The ``resend`` provider's declaration; implemented by :mod:`service.providers.resend`."""

from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, SecretStr

from service.providers.base import ProviderSettings
from service.settings_groups import Env

__all__ = ["ResendSettings"]


class ResendSettings(ProviderSettings):
    """``RESEND_API_KEY``, ``RESEND_BASE_URL`` and ``RESEND_WEBHOOK_SECRET``."""

    name = "resend"
    implementation = "service.providers.resend:ResendProvider"
    credentials = ("api_key",)
    webhook = "service.providers.resend_webhook:ResendWebhook"
    webhook_secret = "signing_secret"  # noqa: S105 - the field's name

    api_key: SecretStr | None = None
    #: ``RESEND_WEBHOOK_SECRET``: the webhook endpoint's signing secret (``whsec_...``).
    signing_secret: Annotated[SecretStr | None, Env("RESEND_WEBHOOK_SECRET")] = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.resend.com")
