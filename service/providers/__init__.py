"""Email providers: one module each, a common base, and the chain that orders them."""

from __future__ import annotations

from service.providers.base import Provider, SendResult
from service.providers.chain import ProviderChain
from service.providers.errors import (
    ChainExhausted,
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.registry import PROVIDER_CLASSES, build_providers, provider_class

__all__ = [
    "PROVIDER_CLASSES",
    "ChainExhausted",
    "MessageRejected",
    "Provider",
    "ProviderChain",
    "ProviderUnavailable",
    "SendError",
    "SendResult",
    "TransientError",
    "build_providers",
    "provider_class",
]
