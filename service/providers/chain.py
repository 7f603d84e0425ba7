"""The provider chain: retry, fail over or stop, decided in one place.

The chain tries its providers in the configured order (``EMAIL_PROVIDERS``).
What happens after a failed attempt depends only on the kind of error, and
:func:`decide` is the one place that says so:

=====================  ==========================================================
error                  decision
=====================  ==========================================================
TransientError         retry the same provider (exponential backoff with
                       jitter, at most ``RETRY_ATTEMPTS`` attempts within
                       ``RETRY_MAX_SECONDS``; a ``retry_after`` hint is honoured
                       when it fits in what is left of that time, and fails
                       over at once when it does not); once retries are
                       exhausted, fail over
ProviderUnavailable    fail over at once, without a retry (a 535 retried earns a
                       lockout); the provider cools down
MessageRejected        stop: every provider would refuse this message
anything else          treated as ProviderUnavailable; never escapes the chain
=====================  ==========================================================

A provider that fails over sits out ``PROVIDER_COOLDOWN_SECONDS`` (like the
``retry_period`` of Symfony's failover transport): later messages try the
providers that are not cooling down first, so they do not each pay a dead
provider's timeout. Cooling providers go to the back of the line rather than
out of it, so when every provider is cooling down (or every other one has just
failed) they are still tried, in order, rather than the message given up.
A delivery clears the provider's cool-down.

Every attempt is reported to the chain's ``observers`` (metrics, tracing) as
an :class:`AttemptEvent` and logged on ``service.providers.chain``, a failed
one as a warning (:mod:`service.providers.attempts` says how); an observer that
fails is logged and never changes what the chain does. The result says which
attempt of the provider was accepted and how long it took, for the outbox's
one line per delivered email.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Self

from service.providers.attempts import (
    AttemptEvent,
    AttemptObserver,
    Decision,
    ProviderStats,
    decide,
    log_attempt,
    outcome_of,
)
from service.providers.errors import (
    ChainExhausted,
    ProviderUnavailable,
    SendError,
    TransientError,
)

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail
    from service.providers.base import Provider, SendResult

__all__ = [
    "AttemptEvent",
    "AttemptObserver",
    "Decision",
    "ProviderChain",
    "ProviderStats",
    "decide",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Backoff before retry n is 2**(n-1) seconds plus up to this much random jitter.
BACKOFF_JITTER_SECONDS = 1.0


class ProviderChain:
    """An ordered list of providers that together send one email.

    ``attempts`` and ``max_seconds`` bound the retries on one provider for one
    email; ``max_seconds`` bounds when the last attempt may start. ``cooldown``
    is how long a provider that failed over is tried last. ``clock`` (monotonic
    seconds) and ``sleep`` are injectable so tests control time. ``observers``
    are told about every attempt.
    """

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        attempts: int = 3,
        max_seconds: float = 20.0,
        cooldown: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        observers: Sequence[AttemptObserver] = (),
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if max_seconds <= 0:
            raise ValueError("max_seconds must be positive")
        if cooldown < 0:
            raise ValueError("cooldown must not be negative")
        names = [provider.name for provider in providers]
        if len(set(names)) != len(names):
            raise ValueError(f"a provider is listed twice: {', '.join(names)}")
        self.providers = list(providers)
        self.attempts = attempts
        self.max_seconds = max_seconds
        self.cooldown = cooldown
        self._clock = clock
        self._sleep = sleep
        self.observers = list(observers)
        self._stats = {name: ProviderStats() for name in names}
        self._cooling_until: dict[str, float] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        providers: Sequence[Provider],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        observers: Sequence[AttemptObserver] = (),
    ) -> Self:
        """A chain of ``providers`` with ``RETRY_ATTEMPTS``, ``RETRY_MAX_SECONDS`` and
        ``PROVIDER_COOLDOWN_SECONDS`` from ``settings``."""
        return cls(
            providers,
            attempts=settings.retry_attempts,
            max_seconds=settings.retry_max_seconds,
            cooldown=settings.provider_cooldown_seconds,
            clock=clock,
            sleep=sleep,
            observers=observers,
        )

    @property
    def names(self) -> list[str]:
        """The providers' names, in the configured order."""
        return [provider.name for provider in self.providers]

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Per-provider counters (see :class:`ProviderStats`), in chain order."""
        return {name: asdict(stats) for name, stats in self._stats.items()}

    @property
    def cooldowns(self) -> dict[str, float]:
        """Seconds each cooling provider has left to sit out; absent when not cooling."""
        now = self._clock()
        return {
            name: until - now
            for name in self.names
            if (until := self._cooling_until.get(name)) is not None and until > now
        }

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
        """Send through the first provider that accepts, in the order described above.

        Raises :class:`ChainExhausted` carrying each tried provider's last error;
        its ``rejected`` is true when a provider refused the message itself.
        """
        errors: list[SendError] = []
        for provider in self._in_order():
            stats = self._stats[provider.name]
            try:
                result = await self._send_with_retries(provider, email)
            except SendError as error:
                errors.append(error)
                if decide(error, retries_left=False) is Decision.STOP:
                    stats.rejected += 1
                    break
                stats.failed_over += 1
                if self.cooldown > 0:
                    self._cooling_until[provider.name] = self._clock() + self.cooldown
                continue
            stats.sent += 1
            self._cooling_until.pop(provider.name, None)
            return result
        raise ChainExhausted(errors)

    def _in_order(self) -> list[Provider]:
        """The providers not cooling down, then the cooling ones, each in configured order."""
        now = self._clock()
        cooling = {name for name, until in self._cooling_until.items() if until > now}
        ready = [p for p in self.providers if p.name not in cooling]
        waiting = [p for p in self.providers if p.name in cooling]
        if waiting:
            logger.debug(
                "providers cooling down, tried last: %s",
                ", ".join(p.name for p in waiting),
                extra={"cooling": [p.name for p in waiting]},
            )
        return ready + waiting

    async def _send_with_retries(self, provider: Provider, email: OutgoingEmail) -> SendResult:
        """One provider, with retries on transient errors; raises its final :class:`SendError`.

        A retry waits the provider's ``retry_after`` hint or the backoff, cut to
        what is left of ``max_seconds``; a hint longer than that fails over at
        once: the next provider (or the outbox, later) will take the email.
        """
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            attempt_started = self._clock()
            try:
                result = await self._attempt(provider, email)
            except SendError as error:
                ended = self._clock()
                duration = ended - attempt_started
                delay = self._retry_delay(error, attempt, self.max_seconds - (ended - started))
                if delay is None:
                    decision = decide(error, retries_left=False)
                    self._report(provider.name, email, attempt, duration, error, decision)
                    raise
                self._stats[provider.name].retried += 1
                self._report(provider.name, email, attempt, duration, error, Decision.RETRY, delay)
                await self._sleep(delay)
                continue
            duration = self._clock() - attempt_started
            self._report(provider.name, email, attempt, duration)
            return replace(result, attempt=attempt, seconds=duration)

    def _retry_delay(self, error: SendError, attempt: int, remaining: float) -> float | None:
        """Seconds to wait before retrying after ``error``, or ``None`` for no retry."""
        if decide(error) is not Decision.RETRY or attempt >= self.attempts or remaining <= 0:
            return None
        hint = error.retry_after if isinstance(error, TransientError) else None
        if hint is not None:
            return None if hint > remaining else max(0.0, hint)
        backoff = 2.0 ** min(attempt - 1, 64) + random.uniform(0, BACKOFF_JITTER_SECONDS)  # noqa: S311
        return max(0.0, min(backoff, self.max_seconds, remaining))

    @staticmethod
    async def _attempt(provider: Provider, email: OutgoingEmail) -> SendResult:
        """One call to ``provider.send``; whatever escapes is a :class:`SendError`.

        The base class already translates, but a provider overriding ``send``
        must not be able to stop the failover with an exception type the chain
        does not expect.
        """
        try:
            return await provider.send(email)
        except SendError:
            raise
        except Exception as err:
            raise ProviderUnavailable(
                f"unexpected {type(err).__name__}", provider=provider.name
            ) from err

    def _report(
        self,
        provider: str,
        email: OutgoingEmail,
        attempt: int,
        duration: float,
        error: SendError | None = None,
        decision: Decision | None = None,
        retry_in: float | None = None,
    ) -> None:
        """Tell the observers about one attempt, and log it."""
        if self.observers:
            self._notify(
                AttemptEvent(
                    provider=provider,
                    attempt=attempt,
                    outcome=outcome_of(decision),
                    error_kind=error.kind if error is not None else None,
                    seconds=duration,
                    email_kind=email.kind,
                    message_id=email.message_id,
                    trace=email.trace,
                )
            )
        log_attempt(
            provider,
            email,
            attempt=attempt,
            duration=duration,
            error=error,
            decision=decision,
            retry_in=retry_in,
            cooldown=self.cooldown,
        )

    def _notify(self, event: AttemptEvent) -> None:
        for observer in self.observers:
            try:
                observer.attempt(event)
            except Exception:
                # Observing must never change delivery; the bug is still reported.
                logger.exception("chain observer %s failed", type(observer).__name__)
