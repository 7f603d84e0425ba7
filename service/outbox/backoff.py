"""When to try a failed email again, and when to give up.

The first re-attempt comes within 30 s (a blip at Gmail should cost the
visitor seconds, not an hour), then the wait doubles with each attempt up to
one hour between attempts. Jitter spreads the retries of a burst that failed
together, so a provider coming back is not hit by all of them at once. An
email is given up (``dead``) once it has waited ``OUTBOX_MAX_AGE_HOURS`` since
it was queued; the last attempt is made at that deadline.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

__all__ = [
    "FIRST_RETRY_SECONDS",
    "MAX_RETRY_SECONDS",
    "next_attempt_at",
    "retry_delay",
]

FIRST_RETRY_SECONDS = 30.0
"""The longest wait before the first re-attempt."""

MAX_RETRY_SECONDS = 3600.0
"""The longest wait between two attempts."""


def retry_delay(
    attempts: int,
    *,
    rng: Callable[[], float] = random.random,
    hint: float | None = None,
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the first).

    "Equal jitter": the ceiling is ``30 s * 2**(attempts-1)`` capped at one hour,
    and the wait is drawn from its upper half, so waits still grow steadily.
    ``hint`` is a provider's own ``Retry-After``; it is honoured up to the cap.
    """
    if attempts < 1:
        raise ValueError("attempts counts failed attempts and starts at 1")
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** min(attempts - 1, 32))
    delay = ceiling / 2 + rng() * ceiling / 2
    if hint is not None and hint > delay:
        delay = min(hint, MAX_RETRY_SECONDS)
    return delay


def next_attempt_at(
    attempts: int,
    *,
    queued_at: datetime,
    now: datetime,
    max_age: timedelta,
    rng: Callable[[], float] = random.random,
    hint: float | None = None,
) -> datetime | None:
    """When to try again after the ``attempts``-th failure, or ``None`` to give up.

    Gives up once ``now`` has reached ``queued_at + max_age``; otherwise never
    schedules past that deadline, so the final attempt happens right at it.
    """
    deadline = queued_at + max_age
    if now >= deadline:
        return None
    return min(now + timedelta(seconds=retry_delay(attempts, rng=rng, hint=hint)), deadline)
