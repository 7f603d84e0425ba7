"""The provider chain: retry, fail over or stop, decided in one place.

The chain tries its providers in the configured order (``EMAIL_PROVIDERS``).
What happens after a failed attempt depends only on the kind of error, and
:func:`decide` is the one place that says so:

=====================  ==========================================================
error                  decision
=====================  ==========================================================
TransientError         retry the same provider (tenacity: exponential backoff
                       with jitter, at most ``RETRY_ATTEMPTS`` attempts within
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

Every attempt is logged on ``service.providers.chain`` with the provider, the
attempt number, the outcome, the duration and the error kind, both in the
message and as ``extra`` fields. Only ``str(error)`` is logged, which by
design never holds a secret or a message body, plus the email's Message-ID
and kind. The same attempts are reported to the chain's ``observers`` (metrics,
tracing) as :class:`AttemptEvent`; an observer that fails is logged and never
changes what the chain does.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol, Self

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from service.logs import mask_addresses
from service.providers.errors import (
    ChainExhausted,
    MessageRejected,
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


class Decision(enum.Enum):
    """What the chain does after a failed attempt."""

    RETRY = "retry"
    FAIL_OVER = "fail_over"
    STOP = "stop"


def decide(error: BaseException, *, retries_left: bool = True) -> Decision:
    """The chain's one decision: what to do after ``error`` from a provider.

    ``retries_left`` is false once the retry budget for this provider is spent,
    which turns a transient error into a fail-over.
    """
    match error:
        case TransientError():
            return Decision.RETRY if retries_left else Decision.FAIL_OVER
        case MessageRejected():
            return Decision.STOP
        case _:
            return Decision.FAIL_OVER


# What an attempt led to, in the words of the metrics (see ProviderStats).
_OUTCOMES = {
    None: "sent",
    Decision.RETRY: "retried",
    Decision.FAIL_OVER: "failed_over",
    Decision.STOP: "rejected",
}


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    """One attempt of one provider at one email, as reported to observers.

    ``outcome`` is ``sent``, ``retried``, ``failed_over`` or ``rejected``;
    ``error_kind`` is the :class:`SendError` kind of a failed attempt;
    ``seconds`` is how long the attempt took; ``trace`` is the email's stored
    trace context (:attr:`~service.message.OutgoingEmail.trace`).
    """

    provider: str
    attempt: int
    outcome: str
    error_kind: str | None
    seconds: float
    email_kind: str
    message_id: str
    trace: Mapping[str, str] = field(default_factory=dict)


class AttemptObserver(Protocol):
    """Anything told about every attempt (metrics, tracing)."""

    def attempt(self, event: AttemptEvent) -> None:
        """Called once per attempt, after it ended; must not block."""
        ...


@dataclass(slots=True)
class ProviderStats:
    """Counters for one provider since the worker started.

    ``sent``: emails it accepted. ``retried``: attempts repeated after a
    transient error. ``failed_over``: emails the chain gave up on it for (it
    was unavailable or its retries ran out), whether or not a next provider
    delivered them. ``rejected``: emails it refused as such.
    """

    sent: int = 0
    retried: int = 0
    failed_over: int = 0
    rejected: int = 0


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
        self._backoff = wait_exponential_jitter(max=max_seconds, jitter=BACKOFF_JITTER_SECONDS)
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
        """One provider, with retries on transient errors; raises its final :class:`SendError`."""
        started = self._clock()
        duration = 0.0

        def remaining() -> float:
            return self.max_seconds - (self._clock() - started)

        def hint(state: RetryCallState) -> float | None:
            error = state.outcome.exception() if state.outcome else None
            return error.retry_after if isinstance(error, TransientError) else None

        def wait(state: RetryCallState) -> float:
            asked = hint(state)
            delay = asked if asked is not None else self._backoff(state)
            return max(0.0, min(delay, remaining()))

        def stop(state: RetryCallState) -> bool:
            # A provider that asks for more time than the budget has left will not
            # take the email in time: the next provider (or the outbox, later) will.
            asked = hint(state)
            too_long = asked is not None and asked > remaining()
            return state.attempt_number >= self.attempts or remaining() <= 0 or too_long

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self._stats[provider.name].retried += 1
            self._log_attempt(
                provider,
                email,
                attempt=state.attempt_number,
                duration=duration,
                error=error,
                decision=Decision.RETRY,
                retry_in=state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda error: decide(error) is Decision.RETRY),
            wait=wait,
            stop=stop,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        attempt_number = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    attempt_started = self._clock()
                    try:
                        result = await self._attempt(provider, email)
                    finally:
                        duration = self._clock() - attempt_started
        except SendError as error:
            self._log_attempt(
                provider,
                email,
                attempt=attempt_number,
                duration=duration,
                error=error,
                decision=decide(error, retries_left=False),
            )
            raise
        self._log_attempt(provider, email, attempt=attempt_number, duration=duration)
        return result

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

    def _log_attempt(
        self,
        provider: Provider,
        email: OutgoingEmail,
        *,
        attempt: int,
        duration: float,
        error: BaseException | None = None,
        decision: Decision | None = None,
        retry_in: float | None = None,
    ) -> None:
        duration_ms = round(duration * 1000)
        outcome = "sent" if decision is None else decision.value
        kind = error.kind if isinstance(error, SendError) else None
        extra = {
            "provider": provider.name,
            "attempt": attempt,
            "outcome": outcome,
            "duration_ms": duration_ms,
            "error_kind": kind,
            "email_kind": email.kind,
            "message_id": email.message_id,
        }
        self._notify(
            AttemptEvent(
                provider=provider.name,
                attempt=attempt,
                outcome=_OUTCOMES[decision],
                error_kind=kind,
                seconds=duration,
                email_kind=email.kind,
                message_id=email.message_id,
                trace=email.trace,
            )
        )
        head = f"{provider.name} attempt {attempt} for {email.kind} {email.message_id}"
        if decision is None:
            logger.info("%s: sent in %d ms", head, duration_ms, extra=extra)
            return
        if retry_in is not None:
            extra["retry_in"] = retry_in
            then = f"retrying in {retry_in:.1f} s"
        elif decision is Decision.FAIL_OVER and self.cooldown > 0:
            then = f"failing over; {provider.name} cools down for {self.cooldown:g} s"
        elif decision is Decision.FAIL_OVER:
            then = "failing over"
        else:
            then = "stopping: no provider would accept it"
        # Providers quote refused recipients; the log keeps the answer, not the address.
        detail = mask_addresses(str(error))
        logger.warning(
            "%s: %s after %d ms, %s: %s",
            head,
            kind,
            duration_ms,
            then,
            detail,
            extra={**extra, "error": detail},
        )

    def _notify(self, event: AttemptEvent) -> None:
        for observer in self.observers:
            try:
                observer.attempt(event)
            except Exception:
                # Observing must never change delivery; the bug is still reported.
                logger.exception("chain observer %s failed", type(observer).__name__)
