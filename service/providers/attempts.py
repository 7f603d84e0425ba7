"""What the chain decides after an attempt, and how it reports each one.

:func:`decide` is the one place that says what follows a failed attempt (the
table in :mod:`service.providers.chain`). Every attempt is reported to the
chain's observers (metrics, tracing) as an :class:`AttemptEvent`, and logged
on ``service.providers.chain`` by :func:`log_attempt`: a failed attempt as a
warning with the provider, the attempt number, the duration, the error kind,
what happens next and the provider's answer (addresses masked); an accepted
one only at DEBUG, since the outbox says so in its one line per delivered
email (with the provider, this attempt number and its duration, from the
:class:`~service.providers.base.SendResult`). Only ``str(error)`` is logged,
which by design never holds a secret or a message body.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from service.logs import mask_addresses
from service.providers.errors import MessageRejected, SendError, TransientError

if TYPE_CHECKING:
    from service.message import OutgoingEmail

__all__ = [
    "AttemptEvent",
    "AttemptObserver",
    "Decision",
    "ProviderStats",
    "decide",
    "log_attempt",
    "outcome_of",
]

logger = logging.getLogger("service.providers.chain")


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


def outcome_of(decision: Decision | None) -> str:
    """``sent`` (no decision was needed), ``retried``, ``failed_over`` or ``rejected``."""
    return _OUTCOMES[decision]


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


def log_attempt(
    provider: str,
    email: OutgoingEmail,
    *,
    attempt: int,
    duration: float,
    error: BaseException | None = None,
    decision: Decision | None = None,
    retry_in: float | None = None,
    cooldown: float = 0.0,
) -> None:
    """Log one attempt (see the module docstring); ``cooldown`` is the chain's, for a fail-over."""
    level = logging.DEBUG if decision is None else logging.WARNING
    if not logger.isEnabledFor(level):
        return
    duration_ms = round(duration * 1000)
    kind = error.kind if isinstance(error, SendError) else None
    extra = {
        "provider": provider,
        "attempt": attempt,
        "outcome": "sent" if decision is None else decision.value,
        "duration_ms": duration_ms,
        "error_kind": kind,
        "email_kind": email.kind,
        "message_id": email.message_id,
    }
    head = f"{provider} attempt {attempt} for {email.kind} {email.message_id}"
    if decision is None:
        logger.debug("%s: sent in %d ms", head, duration_ms, extra=extra)
        return
    if retry_in is not None:
        extra["retry_in"] = retry_in
        then = f"retrying in {retry_in:.1f} s"
    elif decision is Decision.FAIL_OVER and cooldown > 0:
        then = f"failing over; {provider} cools down for {cooldown:g} s"
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
