"""Provider names, as ``EMAIL_PROVIDERS`` lists them, mapped to their classes.

Modules are imported only when their provider is used, so a chain of ``file``
never imports aiosmtplib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.config import Settings
    from service.providers.base import Provider

__all__ = ["PROVIDER_CLASSES", "build_providers", "provider_class"]

PROVIDER_CLASSES: dict[str, str] = {
    "file": "service.providers.file:FileProvider",
    "smtp": "service.providers.smtp:SmtpProvider",
    "resend": "service.providers.resend:ResendProvider",
    "postmark": "service.providers.postmark:PostmarkProvider",
    "sendgrid": "service.providers.sendgrid:SendgridProvider",
    "mailgun": "service.providers.mailgun:MailgunProvider",
}


def provider_class(name: str) -> type[Provider]:
    """The class registered under ``name`` (one of :data:`PROVIDER_CLASSES`)."""
    module_name, _, class_name = PROVIDER_CLASSES[name].partition(":")
    return getattr(import_module(module_name), class_name)


def build_providers(
    settings: Settings, names: list[str] | None = None, **shared: object
) -> list[Provider]:
    """Build the providers named by ``names`` (default: the configured chain), in order."""
    return [
        provider_class(name).from_settings(settings, **shared)
        for name in (names if names is not None else settings.providers)
    ]
