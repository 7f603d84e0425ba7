"""Where rate-limit hits are counted: this worker's memory, or a Redis every worker shares.

Both answer the same three questions (count a hit, forget a key, are you
there) so that :class:`~service.abuse.ratelimit.RateLimits` holds only the
policy: which limit, and which way to fail when the counters cannot answer.
A Redis that fails raises :class:`CountersUnavailable`; memory never does.

The memory counters are not the ``limits`` library's: after hits, its memory
storage walks every key it holds with a thread hop per key, and there is a key
per visitor address for a day (:class:`~service.abuse.moving_window.MovingWindows`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from service.abuse.moving_window import MovingWindows

__all__ = ["Counters", "CountersUnavailable", "MemoryCounters", "RedisCounters", "counters_for"]


class CountersUnavailable(Exception):
    """The shared counters did not answer; ``cause`` names the storage's error class."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"rate-limit storage failed ({cause})")
        self.cause = cause


class Counters(Protocol):
    """Moving-window hit counters, opened in the worker that uses them."""

    async def open(self) -> bool:
        """Connect if needed; False when the storage does not answer (it may later)."""

    async def close(self) -> None:
        """Let go of connections; what was counted stays where it is kept."""

    async def hit(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> float | None:
        """None when the hit is counted, else the seconds until it could be."""

    async def forget(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        """Drop the hits counted under ``identifiers``; how many keys were dropped."""


class MemoryCounters:
    """Counters in this worker's memory; they outlive a close, for the next open."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.windows = MovingWindows(clock=clock)

    async def open(self) -> bool:
        return True

    async def close(self) -> None:
        return None

    async def hit(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> float | None:
        return self.windows.hit(item.key_for(*identifiers), item.amount, item.get_expiry())

    async def forget(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        return int(self.windows.forget(item.key_for(*identifiers)))


class RedisCounters:
    """Counters in Redis (the ``limits`` library's moving window), shared by every worker.

    ``timeout`` bounds each Redis command: the client's default is forever.
    Redis says nothing of what it dropped, so :meth:`forget` counts one per limit.
    """

    def __init__(self, url: str, *, key_prefix: str, timeout: float) -> None:
        self.url = url
        self.key_prefix = key_prefix
        self.timeout = timeout
        self.storage: RedisStorage | None = None
        self._limiter: MovingWindowRateLimiter | None = None

    async def open(self) -> bool:
        if self.storage is None:
            storage = storage_from_string(
                f"async+{self.url}",
                wrap_exceptions=True,
                key_prefix=self.key_prefix,
                connect_timeout=self.timeout,
                stream_timeout=self.timeout,
            )
            assert isinstance(storage, RedisStorage)
            self.storage, self._limiter = storage, MovingWindowRateLimiter(storage)
        return await self.storage.check()

    async def close(self) -> None:
        if self.storage is not None:
            # limits has no close(); the client's pool owns the sockets.
            self.storage.bridge.storage.connection_pool.disconnect()
            self.storage = self._limiter = None

    async def hit(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> float | None:
        limiter = self._opened()
        try:
            if await limiter.hit(item, *identifiers):
                return None
            stats = await limiter.get_window_stats(item, *identifiers)
        except StorageError as err:
            raise CountersUnavailable(type(err.storage_error).__name__) from err
        return stats.reset_time - time.time()

    async def forget(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        try:
            await self._opened().clear(item, *identifiers)
        except StorageError as err:
            raise CountersUnavailable(type(err.storage_error).__name__) from err
        return 1

    def _opened(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            raise RuntimeError("RedisCounters.open() was not awaited")
        return self._limiter


def is_shared(url: str) -> bool:
    """True for a storage URL other than ``memory://`` (schemes are case-insensitive)."""
    return url.partition("://")[0].lower() != "memory"


def counters_for(
    url: str, *, key_prefix: str, timeout: float, clock: Callable[[], float] = time.monotonic
) -> Counters:
    """The counters ``RATE_LIMIT_STORAGE_URL`` names; nothing is opened yet."""
    if is_shared(url):
        return RedisCounters(url, key_prefix=key_prefix, timeout=timeout)
    return MemoryCounters(clock)
