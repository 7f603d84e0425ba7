"""What became of one attempt at one email: :class:`Delivery`, and how it is logged.

The worker (:mod:`service.outbox.worker`) records each outcome in the store and
hands the :class:`Delivery` to ``on_delivery``; :func:`log_outcome` writes its
one line. A delivered email is one INFO line carrying the outbox's ids (email,
submission, Message-ID, attempt) and what the chain said of the send (provider,
which attempt of it, duration); the chain logs failed attempts itself. Logs
name emails by id, never a body or an address: errors appear by kind and code
(:func:`error_summary`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.outbox.models import ClaimedEmail, EmailState
from service.providers.errors import ChainExhausted, SendError, TransientError

__all__ = ["Delivery", "error_summary", "log_outcome", "retry_hint"]

logger = logging.getLogger("service.outbox")


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one attempt at one email, as recorded in the store.

    ``recorded`` is false when the store did not take the outcome: the lease
    had been taken over, or the store failed (the lease then expires and the
    email is sent again: at least once).
    """

    email_id: str
    submission_id: str
    kind: str
    message_id: str
    attempt: int
    state: EmailState
    provider: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    recorded: bool = True
    #: A confirmation not sent because its address was suppressed after it was stored.
    suppressed: bool = False
    #: For a sent email: which attempt of ``provider`` took it, and how long that took.
    provider_attempt: int | None = None
    send_seconds: float | None = None

    @classmethod
    def of(cls, claim: ClaimedEmail, state: EmailState, **outcome: Any) -> Delivery:
        """The outcome ``state`` (with ``provider``, ``error``...) of the attempt ``claim`` made."""
        return cls(
            email_id=claim.id,
            submission_id=claim.submission_id,
            kind=claim.kind,
            message_id=claim.message_id,
            attempt=claim.attempts,
            state=state,
            **outcome,
        )


def error_summary(error: SendError) -> str:
    """Each provider's error kind and code: provider messages may quote an address, logs do not."""
    errors = error.errors if isinstance(error, ChainExhausted) else (error,)
    parts = [
        f"{item.provider}:{item.kind}" + (f"[{item.code}]" if item.code is not None else "")
        for item in errors
    ]
    return ", ".join(parts) or "no provider configured"


def retry_hint(error: SendError) -> float | None:
    """The longest ``retry_after`` any provider asked for, if one did."""
    errors = error.errors if isinstance(error, ChainExhausted) else (error,)
    hints = [
        item.retry_after
        for item in errors
        if isinstance(item, TransientError) and item.retry_after is not None
    ]
    return max(hints) if hints else None


def log_outcome(delivery: Delivery, loggable: str, *, recorded: bool) -> None:
    """One line per outcome; ``loggable`` is the error as logs may hold it (kinds and codes)."""
    where = (
        f"email={delivery.email_id} submission={delivery.submission_id}"
        f" kind={delivery.kind} message_id={delivery.message_id} attempt={delivery.attempt}"
    )
    if not recorded:
        logger.warning("outbox: lease lost, %s not recorded %s", delivery.state, where)
    elif delivery.state is EmailState.SENT:
        _log_sent(delivery, where)
    elif delivery.suppressed:
        logger.warning("outbox: not sent, address suppressed %s", where)
    elif delivery.state is EmailState.RETRYING:
        when = delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else "-"
        logger.warning("outbox: retrying %s next=%s errors=%s", where, when, loggable)
    else:
        logger.error("outbox: %s %s errors=%s", delivery.state, where, loggable)


def _log_sent(delivery: Delivery, where: str) -> None:
    """The one line of a delivered email: the outbox's ids and what the chain said of it."""
    if not logger.isEnabledFor(logging.INFO):
        return
    duration_ms = round(delivery.send_seconds * 1000) if delivery.send_seconds is not None else None
    logger.info(
        "outbox: sent %s provider=%s provider_attempt=%s duration_ms=%s",
        where,
        delivery.provider,
        delivery.provider_attempt,
        duration_ms,
        extra={
            "email_id": delivery.email_id,
            "submission_id": delivery.submission_id,
            "email_kind": delivery.kind,
            "message_id": delivery.message_id,
            "attempt": delivery.attempt,
            "provider": delivery.provider,
            "provider_attempt": delivery.provider_attempt,
            "outcome": "sent",
            "duration_ms": duration_ms,
        },
    )
