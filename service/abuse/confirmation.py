"""Whether a submission's visitor may get a confirmation email.

The confirmation goes to whatever address the form was given, so it is the
part of the service a spammer can aim at someone else. It is sent at most
once per address per ``CONFIRMATION_RATE_LIMIT``, never to one of our own
addresses (which would mail ourselves, or loop with an auto-responder), and
never for a submission that tripped a spam check (the caller's job). Both
checks compare mailboxes, not strings (:func:`~service.validation.mailbox_key`):
``victim+1@example.net`` is ``victim@example.net``'s second confirmation, and
``contact+x@example.com`` is our own ``contact@example.com``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Self

from service.abuse.events import count
from service.validation import mailbox_key

if TYPE_CHECKING:
    from service.abuse.ratelimit import RateLimits
    from service.config import Settings

__all__ = ["ConfirmationPolicy", "own_addresses"]


def own_addresses(settings: Settings, recipients: Iterable[str] = ()) -> frozenset[str]:
    """Every mailbox the service sends from or to, the forms' ``recipients`` too.

    Each is written as :func:`mailbox_key` writes it.
    """
    addresses = {*settings.recipients, *recipients, settings.sender_address}
    if settings.email_address:
        addresses.add(str(settings.email_address))
    return frozenset(mailbox_key(address) for address in addresses)


class ConfirmationPolicy:
    """Decides, per submission, whether the confirmation is composed at all."""

    def __init__(self, own: frozenset[str], limits: RateLimits) -> None:
        self.own = own
        self.limits = limits

    @classmethod
    def from_settings(
        cls, settings: Settings, limits: RateLimits, recipients: Iterable[str] = ()
    ) -> Self:
        """The policy for ``settings`` and the forms' ``recipients``, counting in ``limits``."""
        return cls(own_addresses(settings, recipients), limits)

    async def allows(self, address: str) -> bool:
        """True when ``address`` may get a confirmation now (and counts it against its mailbox)."""
        mailbox = mailbox_key(address)
        if mailbox in self.own:
            count("confirmation_skipped", "own-address")
            return False
        if not await self.limits.allow_confirmation(mailbox):
            count("confirmation_skipped", "rate-limited")
            return False
        return True

    async def forget(self, address: str) -> int:
        """Drop the confirmation allowance counted for ``address``'s mailbox (an erasure)."""
        return await self.limits.forget_confirmations(mailbox_key(address))
