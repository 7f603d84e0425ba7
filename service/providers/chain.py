"""The provider chain: try each provider in order until one accepts the email."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from service.providers.errors import ChainExhausted, MessageRejected, SendError

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.providers.base import Provider, SendResult

__all__ = ["ProviderChain"]


class ProviderChain:
    """An ordered list of providers that together send one email."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        self.providers = list(providers)

    @property
    def names(self) -> list[str]:
        """The providers' names, in the order they are tried."""
        return [provider.name for provider in self.providers]

    async def open(self) -> None:
        """Open every provider (``before_server_start``)."""
        for provider in self.providers:
            await provider.open()

    async def close(self) -> None:
        """Close every provider (``after_server_stop``), even if one fails to close."""
        for provider in self.providers:
            try:
                await provider.close()
            except Exception:  # noqa: S112 - closing the rest matters more
                continue

    async def send(self, email: OutgoingEmail) -> SendResult:
        """Send through the first provider that accepts; raise :class:`ChainExhausted` if none."""
        errors: list[SendError] = []
        for provider in self.providers:
            try:
                return await provider.send(email)
            except SendError as error:
                errors.append(error)
                if isinstance(error, MessageRejected):
                    break
        raise ChainExhausted(errors)
