"""The outbox store interface and the factory that picks an implementation.

Every accepted submission and its emails live in the store until delivered;
the API writes them in one transaction, the delivery workers claim due emails
under a lease and record each outcome. Two implementations share one
behaviour (:class:`~service.outbox.sql.SqlStore`): SQLite for one machine and
PostgreSQL for several replicas.

Leases and fencing: :meth:`Store.claim_due` sets ``claimed_by``, a lease end
and increments ``attempts``. The ``mark_*`` methods only apply while the row is
still ``sending`` with the same ``claimed_by`` and ``attempts`` as the claim
(they return ``False`` otherwise). A worker that overran its lease therefore
still records its result if nobody took the email over (better than sending it
twice), but can never overwrite the result of the worker that took it over.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from service.outbox.models import (
    AddResult,
    ClaimedEmail,
    Clock,
    EmailRecord,
    EmailState,
    OutboxStats,
    PurgeResult,
    StoreError,
    SubmissionRecord,
)

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.submission import Submission

__all__ = ["IDEMPOTENCY_TTL", "Store", "open_store", "sqlite_path"]

IDEMPOTENCY_TTL = timedelta(hours=24)
"""How long an ``Idempotency-Key`` is remembered."""

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


class Store(ABC):
    """Durable storage for submissions and the emails they cause.

    Build with :func:`open_store` (no I/O), then ``await store.open()`` (connects
    and applies migrations) and ``await store.close()``; or ``async with``.
    Every method taking ``now`` uses the store's clock when it is omitted.
    """

    clock: Clock

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date (safe when processes start at once)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def add_submission(
        self,
        submission: Submission,
        emails: Sequence[OutgoingEmail],
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        response: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> AddResult:
        """Store the submission and its emails in one transaction; all are due at once.

        ``emails`` are delivered in list order: an email is not claimed while an
        earlier one of the same submission is still unsent (notification first).
        With ``idempotency_key`` (``request_hash`` then required): if the key was
        stored in the last 24 h with the same hash, nothing is stored and the
        first submission id and ``response`` are returned with ``replayed=True``;
        with another hash :class:`~service.outbox.models.IdempotencyConflict`
        is raised and nothing is stored.
        """

    @abstractmethod
    async def claim_due(
        self,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        *,
        now: datetime | None = None,
    ) -> list[ClaimedEmail]:
        """Lease up to ``limit`` due emails to ``worker_id``, oldest due first.

        Due: ``pending``/``retrying`` with ``next_attempt_at <= now``, or
        ``sending`` with an expired lease (its worker died). Concurrent callers,
        in any process, never receive the same email while its lease runs.
        """

    @abstractmethod
    async def mark_sent(
        self,
        claim: ClaimedEmail,
        *,
        provider: str,
        provider_message_id: str | None,
        now: datetime | None = None,
    ) -> bool:
        """Record delivery. ``False`` if the lease was taken over (see module doc)."""

    @abstractmethod
    async def mark_retry(
        self,
        claim: ClaimedEmail,
        *,
        error: str,
        next_attempt_at: datetime,
        now: datetime | None = None,
    ) -> bool:
        """Record a failure to try again at ``next_attempt_at``. ``False`` if the lease was lost."""

    @abstractmethod
    async def mark_rejected(
        self, claim: ClaimedEmail, *, error: str, now: datetime | None = None
    ) -> bool:
        """Record that a provider refused the message itself. ``False`` if the lease was lost."""

    @abstractmethod
    async def mark_dead(
        self, claim: ClaimedEmail, *, error: str, now: datetime | None = None
    ) -> bool:
        """Record giving up (too old). ``False`` if the lease was lost."""

    @abstractmethod
    async def requeue(self, email_id: str, *, now: datetime | None = None) -> bool:
        """Move one ``dead`` or ``rejected`` email back to ``pending``, due now.

        Its age for the give-up rule restarts now. ``False`` if there is no such
        email in those states, or its body was already purged.
        """

    @abstractmethod
    async def requeue_dead(
        self,
        *,
        states: Sequence[EmailState] = (EmailState.DEAD, EmailState.REJECTED),
        now: datetime | None = None,
    ) -> int:
        """Move every email in ``states`` back to ``pending``, due now; returns how many."""

    @abstractmethod
    async def get_email(self, email_id: str) -> EmailRecord | None:
        """One email's delivery metadata, or ``None``."""

    @abstractmethod
    async def list_emails(
        self, *, state: EmailState | None = None, limit: int = 50, offset: int = 0
    ) -> list[EmailRecord]:
        """Emails newest first, optionally only those in ``state``."""

    @abstractmethod
    async def emails_of(self, submission_ids: Sequence[str]) -> list[EmailRecord]:
        """The emails of these submissions, grouped by submission, each group in sending order."""

    @abstractmethod
    async def get_submission(self, submission_id: str) -> SubmissionRecord | None:
        """One submission, or ``None``."""

    @abstractmethod
    async def list_submissions(
        self, *, form: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[SubmissionRecord]:
        """Submissions newest first; only those of ``form`` when it is given."""

    @abstractmethod
    async def stats(self, *, now: datetime | None = None) -> OutboxStats:
        """Counts by state and the age in seconds of the oldest unsent email."""

    @abstractmethod
    async def purge(self, *, retention: timedelta, now: datetime | None = None) -> PurgeResult:
        """Delete personal data older than ``retention`` and expired idempotency keys.

        Empties the body and addresses (``payload``, ``last_error``) of emails
        ``sent`` before ``now - retention`` and of ``dead``/``rejected`` ones
        untouched since then, and the personal fields of submissions older than
        that whose emails are all emptied. Delivery metadata stays for counts.
        """


def sqlite_path(database_url: str) -> Path:
    """The file a ``sqlite:///path`` URL names; relative paths are relative to the cwd."""
    raw = database_url.removeprefix(SQLITE_PREFIX)
    if not raw or raw.startswith(":memory:"):
        raise StoreError("DATABASE_URL: the outbox needs a file, e.g. sqlite:///var/outbox.db")
    return Path(raw)


def open_store(database_url: str, *, clock: Clock | None = None) -> Store:
    """The store ``database_url`` selects (``sqlite:///...`` or ``postgresql://...``); no I/O."""
    if database_url.startswith(SQLITE_PREFIX):
        from service.outbox.sqlite import SqliteStore

        return SqliteStore(sqlite_path(database_url), clock=clock)
    if database_url.startswith(POSTGRES_PREFIXES):
        from service.outbox.postgres import PostgresStore

        return PostgresStore(database_url, clock=clock)
    raise StoreError("DATABASE_URL: must start with sqlite:/// or postgresql://")
