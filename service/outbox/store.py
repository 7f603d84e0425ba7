"""The outbox store: submissions and their emails, in SQL that SQLite and PostgreSQL both run.

Every accepted submission and its emails live in the store until delivered;
the API writes them in one transaction, the delivery workers claim due emails
under a lease and record each outcome. A dialect subclass (:mod:`.sqlite` for
one machine, :mod:`.postgres` for several replicas) supplies connections and
transactions (:meth:`Store._run`), its column types, the row-lock clause and
index hint of the claim query and a named lock (:meth:`Store._lock`);
:func:`~service.outbox.factory.open_store` picks one from ``DATABASE_URL``.
Each operation is a body of a :class:`~service.outbox.transaction.Transaction`,
and the hot writes share commits (:mod:`service.outbox.group`). The
operations live in mixins by who uses them: taking a submission in
(:mod:`.intake`), delivering (:mod:`.claims`), webhooks' delivery events
(:mod:`.delivery`), the leads inbox (:mod:`.inbox`), the operator's listings
(:mod:`.listings`) and admin sessions (:mod:`.sessions`); this class holds
the connection, the migrations, the compression dictionaries and the purge.

Leases and fencing: :meth:`Store.claim_due` sets ``claimed_by``, a lease end
and increments ``attempts``. The ``mark_*`` methods only apply while the row is
still ``sending`` with the same ``claimed_by`` and ``attempts`` as the claim
(they return ``False`` otherwise). A worker that overran its lease therefore
still records its result if nobody took the email over (better than sending it
twice), but can never overwrite the result of the worker that took it over.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from service.outbox.claims import Claims
from service.outbox.delivery import DeliveryRecords
from service.outbox.group import BodyFailed, GroupCommit, Outcome, run_all, run_in_savepoints
from service.outbox.inbox import InboxRecords
from service.outbox.intake import Intake
from service.outbox.listings import Listings
from service.outbox.migrations import MIGRATIONS, SCHEMA_VERSION_TABLE
from service.outbox.models import (
    IDEMPOTENCY_TTL,
    Clock,
    PurgeResult,
    utcnow,
)
from service.outbox.packing import Packer
from service.outbox.sessions import EndedSessions
from service.outbox.transaction import Body, Row, Transaction

if TYPE_CHECKING:
    from service.message import OutgoingEmail

__all__ = ["Store"]

T = TypeVar("T")

logger = logging.getLogger("service.outbox")

MIGRATION_LOCK = "service.outbox.migrations"


class Store(Intake, Claims, DeliveryRecords, InboxRecords, Listings, EndedSessions, ABC):
    """Durable storage for submissions and the emails they cause.

    Build with :func:`~service.outbox.factory.open_store` (no I/O), then
    ``await store.open()`` (connects and applies migrations) and
    ``await store.close()``; or ``async with``. Every method taking ``now``
    uses the store's clock when it is omitted. The writes of the hot path
    (submissions, claims, outcomes) go through a
    :class:`~service.outbox.group.GroupCommit` (``group``): concurrent ones
    share a commit, each in its own savepoint.

    ``samples`` (an email of each kind, rendered with sample data) become the
    dictionaries that stored bodies are compressed against
    (:mod:`service.outbox.packing`); a store that only delivers needs none.
    """

    ts_type: ClassVar[str]
    json_type: ClassVar[str]
    blob_type: ClassVar[str]
    claim_lock: ClassVar[str] = ""
    claim_index: ClassVar[str] = ""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        samples: Mapping[str, OutgoingEmail] | None = None,
    ) -> None:
        self.clock = clock or utcnow
        self.group = GroupCommit(self._run_batch)
        self.packer = Packer(samples)

    async def open(self) -> None:
        """Connect and bring the schema up to date (safe when processes start at once)."""
        await self._connect()
        try:
            await self._migrate()
            await self._keep_dictionaries()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Release connections. Idempotent."""
        # Writes already queued are committed (or fail) before the connections go.
        await self.group.drain()
        await self._disconnect()

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
    async def _connect(self) -> None:
        """Open the connection(s) and set per-connection options."""

    @abstractmethod
    async def _disconnect(self) -> None:
        """Close the connection(s). Idempotent."""

    @abstractmethod
    async def _run(self, body: Callable[[Transaction], Awaitable[T]], *, write: bool) -> T:
        """Run ``body`` in one transaction: committed if it returns, rolled back if it raises.

        ``body`` must await nothing but the transaction's own methods (and
        :meth:`_lock`): a dialect may run it to its end without an event loop.
        """

    async def _lock(self, tx: Transaction, name: str) -> None:
        """Serialise transactions that take the lock ``name`` until they end.

        The default suits a dialect whose write transactions already exclude
        each other (SQLite's BEGIN IMMEDIATE).
        """
        return

    async def _run_batch(self, bodies: Sequence[Body]) -> list[Outcome]:
        if len(bodies) > 1:
            try:
                return await self._run(partial(run_all, bodies=bodies), write=True)
            except BodyFailed:
                pass  # rolled back: again, each body alone in a savepoint
        return await self._run(partial(run_in_savepoints, bodies=bodies), write=True)

    def _now(self, now: datetime | None) -> datetime:
        return now if now is not None else self.clock()

    async def _migrate(self) -> None:
        async def migrate(tx: Transaction) -> None:
            # Several processes may start at once: only one applies each step.
            await self._lock(tx, MIGRATION_LOCK)
            await tx.execute(SCHEMA_VERSION_TABLE.format(ts=self.ts_type))
            rows = await tx.fetch("SELECT max(version) AS version FROM schema_version")
            current = rows[0]["version"] or 0
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                types = {"ts": self.ts_type, "json": self.json_type, "blob": self.blob_type}
                for statement in migration.render(**types):
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    self.clock(),
                )

        await self._run(migrate, write=True)

    async def _keep_dictionaries(self) -> None:
        """Store the samples' dictionaries, once each, so any process can read what they packed."""
        samples = self.packer.samples
        if not samples:
            return
        now = self.clock()

        async def keep(tx: Transaction) -> None:
            for name, data in samples.items():
                await tx.execute(
                    "INSERT INTO email_dictionaries (id, data, created_at) VALUES ($1, $2, $3)"
                    " ON CONFLICT (id) DO NOTHING",
                    name,
                    data,
                    now,
                )

        await self._run(keep, write=True)

    async def _fetch(self, sql: str, *args: Any) -> list[Row]:
        """The rows of one query, in a read transaction of its own."""

        async def fetch(tx: Transaction) -> list[Row]:
            return await tx.fetch(sql, *args)

        return await self._run(fetch, write=False)

    async def schema_version(self) -> int:
        """The highest migration applied to the database."""
        rows = await self._fetch("SELECT max(version) AS version FROM schema_version")
        return rows[0]["version"] or 0

    async def purge(self, *, retention: timedelta, now: datetime | None = None) -> PurgeResult:
        """Delete personal data older than ``retention`` and expired idempotency keys.

        Empties the body and addresses (``body``, ``last_error``) of emails
        ``sent`` before ``now - retention`` and of ``dead``/``rejected`` ones
        untouched since then, and the personal fields of submissions older than
        that whose emails are all emptied. Delivery metadata stays for counts.
        """
        now = self._now(now)
        cutoff = now - retention

        async def purge(tx: Transaction) -> PurgeResult:
            emails = await tx.execute(
                "UPDATE emails SET payload = NULL, body = NULL, dictionary_id = NULL,"
                " recipe = NULL, last_error = NULL, purged_at = $1"
                " WHERE purged_at IS NULL"
                " AND ((state = 'sent' AND sent_at < $2)"
                "      OR (state IN ('dead', 'rejected') AND updated_at < $2))",
                now,
                cutoff,
            )
            submissions = await tx.execute(
                "UPDATE submissions SET name = NULL, email = NULL, company = NULL,"
                " message = NULL, fields = NULL, consent = NULL, purged_at = $1"
                " WHERE purged_at IS NULL AND created_at < $2 AND NOT EXISTS ("
                "   SELECT 1 FROM emails"
                "   WHERE emails.submission_id = submissions.id AND emails.purged_at IS NULL)",
                now,
                cutoff,
            )
            keys = await tx.execute(
                "DELETE FROM idempotency_keys WHERE created_at <= $1", now - IDEMPOTENCY_TTL
            )
            return PurgeResult(emails=emails, submissions=submissions, idempotency_keys=keys)

        return await self._run(purge, write=True)
