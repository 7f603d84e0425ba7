"""Moving-window hit counters per key, in this process's memory.

The same rule as the ``limits`` library's moving window: a hit on a key is
counted when fewer than ``amount`` hits on it were counted in the last
``period`` seconds, and a refused hit is not counted. Everything runs on the
caller's thread without awaiting, so on an event loop a hit is atomic.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable

__all__ = ["SWEEP_INTERVAL_SECONDS", "MovingWindows"]

# How often keys whose hits have all expired are dropped. A sweep visits every
# key, so it runs at most this often; an expired key waiting for it costs only
# memory, since its hits no longer count.
SWEEP_INTERVAL_SECONDS = 60.0


class MovingWindows:
    """Counters of recent hits per key; keys with no hit left in their window are swept away.

    A key belongs to one period: hit it always with the same ``period`` (key it
    by the limit, as ``RateLimitItem.key_for`` does).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_interval: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._next_sweep = clock() + sweep_interval
        # When each counted hit leaves its window, oldest first, at most ``amount``
        # of them. A list, not a deque: an empty deque alone takes 760 bytes, and
        # there is a key per visitor address.
        self._expiries: dict[str, list[float]] = {}

    def __len__(self) -> int:
        """How many keys are held, expired ones not yet swept included."""
        return len(self._expiries)

    def hit(self, key: str, amount: int, period: float) -> float | None:
        """Count one hit on ``key`` unless ``amount`` were counted in the last ``period`` seconds.

        Returns None when the hit is counted, else the seconds until the oldest
        counted hit leaves the window and a hit can be counted again.
        """
        if amount < 1:
            raise ValueError("amount must be at least 1")
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        expiries = self._expiries.get(key)
        if expiries is None:
            self._expiries[key] = [now + period]
            return None
        # A hit ``period`` seconds old has left: waiting the whole period is enough.
        if expired := bisect_right(expiries, now):
            del expiries[:expired]
        if len(expiries) >= amount:
            return expiries[0] - now
        expiries.append(now + period)
        return None

    def forget(self, key: str) -> bool:
        """Drop ``key``'s counted hits (an erasure); ``False`` if it had none."""
        return self._expiries.pop(key, None) is not None

    def _sweep(self, now: float) -> None:
        # A new dict rather than deletions: a dict keeps its table's size after
        # deletions, and this one may have grown to a busy day's addresses.
        self._expiries = {key: hits for key, hits in self._expiries.items() if hits[-1] > now}
        self._next_sweep = now + self._sweep_interval
