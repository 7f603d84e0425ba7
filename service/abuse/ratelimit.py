"""Moving-window rate limits, in this worker's memory or in Redis.

Three limits are kept: submissions per client (``CONTACT_RATE_LIMIT``),
confirmations per recipient address (``CONFIRMATION_RATE_LIMIT``) and
attempts to sign in to the admin pages per client (10 an hour). Counters
live in ``RATE_LIMIT_STORAGE_URL``: this worker's memory by default
(:class:`~service.abuse.moving_window.MovingWindows`), or a Redis that every
worker and replica shares (the ``limits`` library's moving window).

The memory counters are not the ``limits`` library's: after hits, its memory
storage walks every key it holds with a thread hop per key, and there is a key
per visitor address for a day.

When the storage fails (Redis down), the two limits fail in opposite
directions on purpose: submissions are let through, since the owner would
rather get a message than lose one, while confirmations are not sent, since a
confirmation is the one thing a spammer can aim at a stranger.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from sanic.exceptions import SanicException

from service.abuse.moving_window import MovingWindows
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


@dataclass(frozen=True, slots=True)
class _Refusal:
    retry_after: int


class RateLimits:
    """Both limits over one storage. Built from settings without I/O; :meth:`open` connects.

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
        self.key_prefix = key_prefix
        self.workers = workers
        self.timeout = timeout
        self.clock = clock
        self._windows: MovingWindows | None = None
        self._storage: Storage | None = None
        self._limiter: MovingWindowRateLimiter | None = None

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
        # Schemes are case-insensitive, as the settings' check treats them.
        return self.storage_url.partition("://")[0].lower() != "memory"

    async def open(self) -> None:
        """Create the storage in this worker (and event loop); warn when Redis does not answer."""
        if not self.shared and self._windows is None:
            self._windows = MovingWindows(clock=self.clock)
        if self.shared and self._storage is None:
            self._storage = storage_from_string(
                f"async+{self.storage_url}",
                wrap_exceptions=True,
                key_prefix=self.key_prefix,
                connect_timeout=self.timeout,
                stream_timeout=self.timeout,
            )
            self._limiter = MovingWindowRateLimiter(self._storage)
        if not self.shared and self.workers > 1:
            logger.warning(
                "rate limits are counted in memory by each of %d workers; "
                "set RATE_LIMIT_STORAGE_URL=redis://... to share them",
                self.workers,
            )
        if self.shared and not await self._storage.check():
            logger.warning(
                "rate-limit storage does not answer: submissions are not limited "
                "and confirmations are not sent until it does"
            )

    async def close(self) -> None:
        """Drop Redis connections; counters in memory stay for the next :meth:`open`."""
        # Servers open and close once per worker, but a test client or a reloader
        # may cycle them: counting must not start again from zero each time.
        if isinstance(self._storage, RedisStorage):
            # limits has no close(); the client's pool owns the sockets.
            self._storage.bridge.storage.connection_pool.disconnect()
            self._storage = self._limiter = None

    async def check_contact(self, client: str) -> None:
        """Count one submission from ``client``; raise :class:`RateLimited` past the limit."""
        try:
            refusal = await self._hit(self.contact, "contact", client)
        except StorageError as err:
            logger.warning(
                "rate-limit storage failed (%s); submission allowed",
                type(err.storage_error).__name__,
            )
            return
        if refusal is not None:
            raise RateLimited(refusal.retry_after)

    async def check_sign_in(self, client: str) -> int | None:
        """Count one sign-in attempt from ``client``; past the limit, the seconds to wait.

        When the storage fails the attempt is refused: the admin pages can
        wait, a token guesser must not get unlimited tries.
        """
        try:
            refusal = await self._hit(self.sign_in, "sign-in", client)
        except StorageError as err:
            logger.warning(
                "rate-limit storage failed (%s); sign-in refused",
                type(err.storage_error).__name__,
            )
            return 60
        return refusal.retry_after if refusal is not None else None

    async def allow_confirmation(self, address: str) -> bool:
        """Count one confirmation to ``address``; False when it is over its limit."""
        try:
            refusal = await self._hit(self.confirmation, "confirmation", address_key(address))
        except StorageError as err:
            logger.warning(
                "rate-limit storage failed (%s); confirmation not sent",
                type(err.storage_error).__name__,
            )
            return False
        return refusal is None

    async def forget_confirmations(self, address: str) -> int:
        """Drop ``address``'s confirmation counters (an erasure); how many were dropped.

        In memory, only this process's counters can be reached (they lapse with
        their window anyway); in Redis, every worker's. Redis answers no count,
        so each limit cleared there counts as one.
        """
        key = address_key(address)
        if self._windows is not None:
            forgotten = [
                self._windows.forget(item.key_for("confirmation", key))
                for item in self.confirmation
            ]
            return sum(forgotten)
        if self._limiter is None:
            raise RuntimeError("RateLimits.open() was not awaited")
        try:
            for item in self.confirmation:
                await self._limiter.clear(item, "confirmation", key)
        except StorageError as err:
            logger.warning(
                "rate-limit storage failed (%s); confirmation counters not erased",
                type(err.storage_error).__name__,
            )
            return 0
        return len(self.confirmation)

    async def _hit(self, items: list[RateLimitItem], *identifiers: str) -> _Refusal | None:
        for item in items:
            wait = await self._hit_item(item, identifiers)
            if wait is not None:
                return _Refusal(retry_after=max(1, math.ceil(wait)))
        return None

    async def _hit_item(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> float | None:
        """None when the hit is counted, else the seconds until it could be."""
        if self._windows is not None:
            return self._windows.hit(item.key_for(*identifiers), item.amount, item.get_expiry())
        if self._limiter is None:
            raise RuntimeError("RateLimits.open() was not awaited")
        if await self._limiter.hit(item, *identifiers):
            return None
        stats = await self._limiter.get_window_stats(item, *identifiers)
        return stats.reset_time - time.time()
