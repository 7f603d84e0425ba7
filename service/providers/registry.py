"""Provider names, as ``EMAIL_PROVIDERS`` lists them, and building the chain's providers.

Names and settings come from the declarations (:mod:`service.providers.catalog`);
a provider's implementation module is imported only when it is built, so a
chain of ``file`` never imports aiosmtplib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from service.providers.catalog import PROVIDERS

if TYPE_CHECKING:
    from service.config import Settings
    from service.providers.base import Provider

__all__ = ["PROVIDER_NAMES", "build_providers", "provider_class"]

#: Every provider name, sorted.
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)


def provider_class(name: str) -> type[Provider]:
    """The implementation of provider ``name`` (one of :data:`PROVIDER_NAMES`), imported now."""
    module_name, _, class_name = PROVIDERS[name].implementation.partition(":")
    return getattr(import_module(module_name), class_name)


def build_providers(
    settings: Settings, names: list[str] | None = None, **shared: object
) -> list[Provider]:
    """Build the providers named by ``names`` (default: the configured chain), in order.

    Raises :class:`~service.config.ConfigError` naming the first missing
    credential of a provider outside the chain (the chain's are checked at startup).
    """
    chosen = names if names is not None else settings.providers
    for name in chosen:
        settings.require_credentials(name)
    return [provider_class(name).from_settings(settings, **shared) for name in chosen]
