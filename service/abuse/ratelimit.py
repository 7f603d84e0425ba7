"""Moving-window rate limits: the policy, over counters in memory or in Redis.

Three limits are kept: submissions per client (``CONTACT_RATE_LIMIT``),
confirmations per recipient address (``CONFIRMATION_RATE_LIMIT``) and
attempts to sign in to the admin pages per client (10 an hour). Counters
live in ``RATE_LIMIT_STORAGE_URL`` (:mod:`service.abuse.counters`): this
worker's memory by default, or a Redis that every worker and replica shares.

When the storage fails (Redis down), the limits fail in different directions
on purpose: submissions are let through, since the owner would rather get a
message than lose one, while confirmations are not sent, since a confirmation
is the one thing a spammer can aim at a stranger, and sign-ins are refused.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from limits import RateLimitItem, parse_many
from sanic.exceptions import SanicException

from service.abuse.counters import CountersUnavailable, counters_for, is_shared
from service.i18n import N_

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["RateLimited", "RateLimits", "address_key"]

logger = logging.getLogger("service.abuse")

# How long one Redis command may take before the storage counts as failed. The
# client's default is forever; a healthy Redis answers in a millisecond, and a
# limit check is a few commands, so a hung Redis costs a visitor about 1.5 s.
REDIS_TIMEOUT_SECONDS = 0.5

SIGN_IN_LIMIT = "10/hour"
"""Attempts to sign in to the admin pages per client: too few to guess a token."""


class RateLimited(SanicException):
    """429: this client sent too many submissions; ``Retry-After`` says when to try again."""

    status_code = 429
    quiet = True

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            N_("Too many messages from your address. Please try again later."),
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def address_key(address: str) -> str:
    """The confirmation counter's key: a hash, so Redis never holds the address itself."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


class RateLimits:
    """The three limits over one set of counters. Built without I/O; :meth:`open` connects.

    ``clock`` times the counters kept in memory; Redis counters use the system time.
    """

    def __init__(
        self,
        storage_url: str,
        *,
        contact: list[RateLimitItem],
        confirmation: list[RateLimitItem],
        key_prefix: str,
        sign_in: list[RateLimitItem] | None = None,
        workers: int = 1,
        timeout: float = REDIS_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage_url = storage_url
        self.contact = contact
        self.confirmation = confirmation
        self.sign_in = sign_in if sign_in is not None else parse_many(SIGN_IN_LIMIT)
        self.workers = workers
        self.counters = counters_for(
            storage_url, key_prefix=key_prefix, timeout=timeout, clock=clock
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The limits ``settings`` describe; nothing is opened yet."""
        return cls(
            settings.rate_limit_storage_url,
            contact=settings.contact_limits,
            confirmation=settings.confirmation_limits,
            key_prefix=settings.rate_limit_key_prefix,
            workers=settings.workers,
        )

    @property
    def shared(self) -> bool:
        """True when the counters live in Redis, shared across workers and replicas."""
        return is_shared(self.storage_url)

    async def open(self) -> None:
        """Open the counters in this worker (and event loop); warn when they cannot be shared."""
        if not self.shared and self.workers > 1:
            logger.warning(
                "rate limits are counted in memory by each of %d workers; "
                "set RATE_LIMIT_STORAGE_URL=redis://... to share them",
                self.workers,
            )
        if not await self.counters.open():
            logger.warning(
                "rate-limit storage does not answer: submissions are not limited "
                "and confirmations are not sent until it does"
            )

    async def close(self) -> None:
        """Drop Redis connections; counters in memory stay for the next :meth:`open`."""
        # Servers open and close once per worker, but a test client or a reloader
        # may cycle them: counting must not start again from zero each time.
        await self.counters.close()

    async def check_contact(self, client: str) -> None:
        """Count one submission from ``client``; raise :class:`RateLimited` past the limit."""
        try:
            retry_after = await self._hit(self.contact, "contact", client)
        except CountersUnavailable as err:
            logger.warning("rate-limit storage failed (%s); submission allowed", err.cause)
            return
        if retry_after is not None:
            raise RateLimited(retry_after)

    async def check_sign_in(self, client: str) -> int | None:
        """Count one sign-in attempt from ``client``; past the limit, the seconds to wait.

        When the storage fails the attempt is refused: the admin pages can
        wait, a token guesser must not get unlimited tries.
        """
        try:
            return await self._hit(self.sign_in, "sign-in", client)
        except CountersUnavailable as err:
            logger.warning("rate-limit storage failed (%s); sign-in refused", err.cause)
            return 60

    async def allow_confirmation(self, address: str) -> bool:
        """Count one confirmation to ``address``; False when it is over its limit."""
        try:
            retry_after = await self._hit(self.confirmation, "confirmation", address_key(address))
        except CountersUnavailable as err:
            logger.warning("rate-limit storage failed (%s); confirmation not sent", err.cause)
            return False
        return retry_after is None

    async def forget_confirmations(self, address: str) -> int:
        """Drop ``address``'s confirmation counters (an erasure); how many were dropped.

        In memory, only this process's counters can be reached (they lapse with
        their window anyway); in Redis, every worker's.
        """
        identifiers = ("confirmation", address_key(address))
        try:
            return sum(
                [await self.counters.forget(item, identifiers) for item in self.confirmation]
            )
        except CountersUnavailable as err:
            logger.warning(
                "rate-limit storage failed (%s); confirmation counters not erased", err.cause
            )
            return 0

    async def _hit(self, items: list[RateLimitItem], *identifiers: str) -> int | None:
        """None when every limit counted the hit, else whole seconds to wait (at least 1)."""
        for item in items:
            wait = await self.counters.hit(item, identifiers)
            if wait is not None:
                return max(1, math.ceil(wait))
        return None
