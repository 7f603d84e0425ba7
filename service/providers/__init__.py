"""Email providers: a declaration and an implementation each, a common base, and the chain.

The names below are imported on first use (PEP 562), so that configuration can
read the light declarations in :mod:`service.providers.catalog` without loading
the chain or any provider's library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.providers.base import Provider, ProviderSettings, SendResult
    from service.providers.chain import ProviderChain
    from service.providers.errors import (
        ChainExhausted,
        MessageRejected,
        ProviderUnavailable,
        SendError,
        TransientError,
    )
    from service.providers.registry import PROVIDER_NAMES, build_providers, provider_class

__all__ = [
    "PROVIDER_NAMES",
    "ChainExhausted",
    "MessageRejected",
    "Provider",
    "ProviderChain",
    "ProviderSettings",
    "ProviderUnavailable",
    "SendError",
    "SendResult",
    "TransientError",
    "build_providers",
    "provider_class",
]

_HOMES = {
    "Provider": "base",
    "ProviderSettings": "base",
    "SendResult": "base",
    "ProviderChain": "chain",
    "ChainExhausted": "errors",
    "MessageRejected": "errors",
    "ProviderUnavailable": "errors",
    "SendError": "errors",
    "TransientError": "errors",
    "PROVIDER_NAMES": "registry",
    "build_providers": "registry",
    "provider_class": "registry",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
