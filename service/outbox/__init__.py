"""The durable outbox: submissions and their emails, stored before the API answers.

:func:`open_store` picks SQLite or PostgreSQL from ``DATABASE_URL``;
:class:`DeliveryWorker` sends what is due through the provider chain.
"""

from __future__ import annotations

from service.outbox.backoff import next_attempt_at, retry_delay
from service.outbox.models import (
    UNSENT_STATES,
    AddResult,
    ClaimedEmail,
    Clock,
    EmailRecord,
    EmailState,
    IdempotencyConflict,
    OutboxStats,
    PurgeResult,
    StoreError,
    SubmissionRecord,
)
from service.outbox.store import IDEMPOTENCY_TTL, Store, open_store
from service.outbox.worker import Delivery, DeliveryWorker, Sender

__all__ = [
    "IDEMPOTENCY_TTL",
    "UNSENT_STATES",
    "AddResult",
    "ClaimedEmail",
    "Clock",
    "Delivery",
    "DeliveryWorker",
    "EmailRecord",
    "EmailState",
    "IdempotencyConflict",
    "OutboxStats",
    "PurgeResult",
    "Sender",
    "Store",
    "StoreError",
    "SubmissionRecord",
    "next_attempt_at",
    "open_store",
    "retry_delay",
]
