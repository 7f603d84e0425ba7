"""The outbox store: submissions and their emails, in SQL that SQLite and PostgreSQL both run.

Every accepted submission and its emails live in the store until delivered;
the API writes them in one transaction, the delivery workers claim due emails
under a lease and record each outcome. A dialect subclass (:mod:`.sqlite` for
one machine, :mod:`.postgres` for several replicas) supplies connections and
transactions (:meth:`Store._run`), its column types, the row-lock clause and
index hint of the claim query and a named lock (:meth:`Store._lock`);
:func:`~service.outbox.factory.open_store` picks one from ``DATABASE_URL``.
Each operation is a body of a :class:`~service.outbox.transaction.Transaction`,
and the hot writes share commits (:mod:`service.outbox.group`).

Leases and fencing: :meth:`Store.claim_due` sets ``claimed_by``, a lease end
and increments ``attempts``. The ``mark_*`` methods only apply while the row is
still ``sending`` with the same ``claimed_by`` and ``attempts`` as the claim
(they return ``False`` otherwise). A worker that overran its lease therefore
still records its result if nobody took the email over (better than sending it
twice), but can never overwrite the result of the worker that took it over.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from service.outbox.delivery import DeliveryRecords, suppressed_in
from service.outbox.group import GroupCommit, Outcome, run_in_savepoints
from service.outbox.inbox import InboxRecords
from service.outbox.listings import Listings
from service.outbox.migrations import MIGRATIONS, SCHEMA_VERSION_TABLE
from service.outbox.models import (
    IDEMPOTENCY_TTL,
    UNSENT_STATES,
    AddResult,
    ClaimedEmail,
    Clock,
    EmailState,
    IdempotencyConflict,
    PurgeResult,
    StoredBody,
    SubmissionRecord,
    Unrendered,
    dump_json,
    load_json,
    utcnow,
)
from service.outbox.packing import PackedEmail, Packer, StoredEmail
from service.outbox.recipes import EmailRecipe, suppressed
from service.outbox.rows import SUBMISSION_COLUMNS, as_datetime, maybe_json, submission_record
from service.outbox.sessions import EndedSessions
from service.outbox.transaction import Body, Row, Transaction

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.submission import Submission

__all__ = ["Store"]

T = TypeVar("T")

logger = logging.getLogger("service.outbox")

MIGRATION_LOCK = "service.outbox.migrations"

_UNSENT = ", ".join(f"'{state}'" for state in UNSENT_STATES)

# The subquery picks due rows; in PostgreSQL ``{lock}`` makes concurrent
# claimers skip each other's rows instead of waiting or double-claiming, and
# SQLite gets the same guarantee from BEGIN IMMEDIATE. The NOT EXISTS keeps a
# later email of a submission (the confirmation) back while an earlier one
# (the notification) is unsent.
#
# A claim walks the partial index ``emails_due`` in due order and stops after
# ``LIMIT`` rows, so its cost does not grow with the backlog (it runs inside the
# write transaction every submission waits for). Hence the state test repeats
# the index's condition, and an expired ``sending`` row is found by its
# ``next_attempt_at`` too: it was due when it was claimed, and claiming leaves
# ``next_attempt_at`` alone. ``{index}`` lets a dialect insist on the index.
# ``spam_at`` tells the worker to skip a confirmation whose submission was marked
# as spam while it was being claimed (service.outbox.inbox stops the others).
_CLAIM = """
UPDATE emails
SET state = 'sending', attempts = attempts + 1, claimed_by = $1, lease_until = $2,
    updated_at = $3
WHERE id IN (
    SELECT e.id FROM emails AS e {index}
    WHERE e.state IN ('pending', 'retrying', 'sending') AND e.next_attempt_at <= $3
      AND (e.state <> 'sending' OR e.lease_until <= $3)
      AND NOT EXISTS (
          SELECT 1 FROM emails AS earlier
          WHERE earlier.submission_id = e.submission_id AND earlier.seq < e.seq
            AND earlier.state IN ('pending', 'retrying', 'sending'))
    ORDER BY e.next_attempt_at, e.seq
    LIMIT $4
    {lock}
)
RETURNING id, submission_id, kind, seq, message_id, payload, body, dictionary_id, recipe,
          attempts, claimed_by, lease_until, queued_at, created_at, next_attempt_at,
          (SELECT spam_at FROM submissions WHERE submissions.id = emails.submission_id) AS spam_at
"""

# Every mark_* carries the claim's fencing token; see the Store module doc.
_FINISH = """
UPDATE emails
SET state = $4, updated_at = $5, lease_until = NULL, {fields}
WHERE id = $1 AND state = 'sending' AND claimed_by = $2 AND attempts = $3
"""


EmailRow = tuple["OutgoingEmail | EmailRecipe", tuple[bytes | None, str | None, str | None]]


async def _email_rows(
    tx: Transaction,
    submission: Submission,
    emails: Sequence[OutgoingEmail | EmailRecipe],
    packed: Sequence[PackedEmail | None],
) -> list[EmailRow]:
    """Each email to store with its ``body``, ``dictionary_id`` and ``recipe`` columns.

    Recipes take the visitor's suppression into account (see ``add_submission``).
    """
    recipes = any(isinstance(email, EmailRecipe) for email in emails)
    visitor_suppressed = recipes and await suppressed_in(tx, submission.email)
    rows: list[EmailRow] = []
    for email, body in zip(emails, packed, strict=True):
        if body is not None:
            rows.append((email, (body.data, body.dictionary_id, None)))
        elif isinstance(email, EmailRecipe) and not (visitor_suppressed and email.to_visitor):
            recipe = suppressed(email.recipe) if visitor_suppressed else email.recipe
            rows.append((email, (None, None, dump_json(recipe))))
    return rows


async def _to_render_from(tx: Transaction, rows: Sequence[Row]) -> dict[str, SubmissionRecord]:
    """The submissions that the claimed emails stored as recipes are rendered from, by id."""
    wanted = sorted({row["submission_id"] for row in rows if row["recipe"] is not None})
    if not wanted:
        return {}
    placeholders = ", ".join(f"${n}" for n in range(1, len(wanted) + 1))
    found = await tx.fetch(
        f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id IN ({placeholders})",  # noqa: S608
        *wanted,
    )
    return {row["id"]: submission_record(row) for row in found}


def _claimed(row: Row, stored: StoredBody) -> ClaimedEmail:
    return ClaimedEmail(
        id=row["id"],
        submission_id=row["submission_id"],
        kind=row["kind"],
        seq=row["seq"],
        message_id=row["message_id"],
        stored=stored,
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
        lease_until=as_datetime(row["lease_until"]),
        queued_at=as_datetime(row["queued_at"]),
        created_at=as_datetime(row["created_at"]),
        spam=row["spam_at"] is not None,
    )


class Store(DeliveryRecords, InboxRecords, Listings, EndedSessions, ABC):
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

    async def _learn_dictionaries(self, rows: Sequence[Row]) -> None:
        """Read the dictionaries these rows need that this process does not know yet."""
        wanted = {row["dictionary_id"] for row in rows} - {None, *self.packer.dictionaries}
        if not wanted:
            return
        placeholders = ", ".join(f"${n}" for n in range(1, len(wanted) + 1))
        found = await self._fetch(
            f"SELECT id, data FROM email_dictionaries WHERE id IN ({placeholders})",  # noqa: S608
            *wanted,
        )
        for row in found:
            self.packer.learn(row["id"], bytes(row["data"]))

    def _stored(self, row: Row, submissions: Mapping[str, SubmissionRecord]) -> StoredBody:
        if row["recipe"] is not None:
            # Stored to be rendered (service.outbox.recipes): by the worker that claimed it.
            return Unrendered(load_json(row["recipe"]), submissions[row["submission_id"]])
        if row["body"] is None:
            # Stored before bodies were compressed (schema version 1).
            return StoredEmail(row["payload"], packed=False)
        return self.packer.stored(row["body"], row["dictionary_id"])

    async def _fetch(self, sql: str, *args: Any) -> list[Row]:
        """The rows of one query, in a read transaction of its own."""

        async def fetch(tx: Transaction) -> list[Row]:
            return await tx.fetch(sql, *args)

        return await self._run(fetch, write=False)

    async def schema_version(self) -> int:
        """The highest migration applied to the database."""
        rows = await self._fetch("SELECT max(version) AS version FROM schema_version")
        return rows[0]["version"] or 0

    async def add_submission(
        self,
        submission: Submission,
        emails: Sequence[OutgoingEmail | EmailRecipe],
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        response: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> AddResult:
        """Store the submission and its emails in one transaction; all are due at once.

        An email is stored rendered (an :class:`~service.message.OutgoingEmail`,
        packed) or as an :class:`~service.outbox.recipes.EmailRecipe`, which the
        worker that claims it renders (what the API stores). With recipes, the
        visitor's address is looked up in the suppression list in the same
        transaction: when it is there, recipes ``to_visitor`` (the confirmation)
        are not stored and the others' recipes say so.

        ``emails`` are delivered in list order: an email is not claimed while an
        earlier one of the same submission is still unsent (notification first).
        With ``idempotency_key`` (``request_hash`` then required): if the key was
        stored in the last 24 h with the same hash, nothing is stored and the
        first submission id and ``response`` are returned with ``replayed=True``;
        with another hash :class:`~service.outbox.models.IdempotencyConflict`
        is raised and nothing is stored.
        """
        if idempotency_key is not None and request_hash is None:
            raise ValueError("request_hash is required with idempotency_key")
        now = self._now(now)
        packed = [
            None if isinstance(email, EmailRecipe) else self.packer.pack(email) for email in emails
        ]

        async def add(tx: Transaction) -> AddResult:
            if idempotency_key is not None:
                await self._lock(tx, f"idempotency:{idempotency_key}")
                earlier = await self._remembered(tx, idempotency_key, now)
                if earlier is not None:
                    if earlier["request_hash"] != request_hash:
                        raise IdempotencyConflict(
                            idempotency_key, submission_id=earlier["submission_id"]
                        )
                    return AddResult(
                        submission_id=earlier["submission_id"],
                        replayed=True,
                        response=maybe_json(earlier["response"]),
                    )
            await tx.execute(
                "INSERT INTO submissions"
                " (id, created_at, form, name, email, company, message, fields, consent, locale)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                submission.id,
                now,
                submission.form.id,
                submission.name,
                submission.email,
                submission.company or "",
                submission.message,
                dump_json(submission.fields),
                dump_json(submission.consent_records()) if submission.consents else None,
                submission.locale,
            )
            rows = await _email_rows(tx, submission, emails, packed)
            for seq, (email, (body, dictionary, recipe)) in enumerate(rows):
                await tx.execute(
                    "INSERT INTO emails (id, submission_id, kind, seq, message_id, body,"
                    " dictionary_id, recipe, state, attempts, next_attempt_at, queued_at,"
                    " created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9, $9, $9)",
                    str(uuid.uuid4()),
                    submission.id,
                    email.kind,
                    seq,
                    email.message_id,
                    body,
                    dictionary,
                    recipe,
                    now,
                )
            if idempotency_key is not None:
                await tx.execute(
                    "INSERT INTO idempotency_keys"
                    " (key, request_hash, submission_id, response, created_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    idempotency_key,
                    request_hash,
                    submission.id,
                    None if response is None else dump_json(response),
                    now,
                )
            return AddResult(submission_id=submission.id, replayed=False, response=response)

        return await self.group.run(add)

    async def _remembered(self, tx: Transaction, key: str, now: datetime) -> Row | None:
        rows = await tx.fetch(
            "SELECT request_hash, submission_id, response, created_at"
            " FROM idempotency_keys WHERE key = $1",
            key,
        )
        if not rows:
            return None
        if as_datetime(rows[0]["created_at"]) > now - IDEMPOTENCY_TTL:
            return rows[0]
        # Expired: forget it so the key can be used afresh.
        await tx.execute("DELETE FROM idempotency_keys WHERE key = $1", key)
        return None

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
        if limit < 1:
            return []
        now = self._now(now)
        lease_until = now + timedelta(seconds=lease_seconds)
        claim = _CLAIM.format(lock=self.claim_lock, index=self.claim_index)

        async def take(tx: Transaction) -> tuple[list[Row], dict[str, SubmissionRecord]]:
            rows = await tx.fetch(claim, worker_id, lease_until, now, limit)
            return rows, await _to_render_from(tx, rows)

        rows, submissions = await self.group.run(take)
        # RETURNING has no defined order; hand emails out in due order.
        rows.sort(key=lambda row: (as_datetime(row["next_attempt_at"]), row["seq"]))
        try:
            await self._learn_dictionaries(rows)
        except Exception:
            # Leased already: the emails must go to the worker, whose attempt
            # fails alone on a body it cannot read (and is retried).
            logger.warning("outbox: could not read compression dictionaries; will retry")
        return [_claimed(row, self._stored(row, submissions)) for row in rows]

    async def keep_rendered(
        self, claim: ClaimedEmail, email: OutgoingEmail, *, now: datetime | None = None
    ) -> bool:
        """Store the body the worker rendered for ``claim`` (packed) in place of its recipe.

        Every later attempt, re-queue and resend then sends this email. ``False``
        if the lease was lost or the email was rendered already (see module doc).
        """
        packed = self.packer.pack(email)
        args = (claim.id, claim.claimed_by, claim.attempts, packed.data, packed.dictionary_id)
        updated_at = self._now(now)

        async def keep(tx: Transaction) -> int:
            return await tx.execute(
                "UPDATE emails SET body = $4, dictionary_id = $5, recipe = NULL, updated_at = $6"
                " WHERE id = $1 AND state = 'sending' AND claimed_by = $2 AND attempts = $3"
                " AND recipe IS NOT NULL",
                *args,
                updated_at,
            )

        return await self.group.run(keep) == 1

    async def _finish(
        self,
        claim: ClaimedEmail,
        state: EmailState,
        now: datetime | None,
        fields: str,
        *values: Any,
    ) -> bool:
        statement = _FINISH.format(fields=fields)
        args = (claim.id, claim.claimed_by, claim.attempts, str(state), self._now(now), *values)

        async def finish(tx: Transaction) -> int:
            return await tx.execute(statement, *args)

        return await self.group.run(finish) == 1

    async def mark_sent(
        self,
        claim: ClaimedEmail,
        *,
        provider: str,
        provider_message_id: str | None,
        now: datetime | None = None,
    ) -> bool:
        """Record delivery. ``False`` if the lease was taken over (see module doc)."""
        return await self._finish(
            claim,
            EmailState.SENT,
            now,
            "provider = $6, provider_message_id = $7, sent_at = $5, last_error = NULL,"
            " next_attempt_at = NULL",
            provider,
            provider_message_id,
        )

    async def mark_retry(
        self,
        claim: ClaimedEmail,
        *,
        error: str,
        next_attempt_at: datetime,
        now: datetime | None = None,
    ) -> bool:
        """Record a failure to try again at ``next_attempt_at``. ``False`` if the lease was lost."""
        return await self._finish(
            claim,
            EmailState.RETRYING,
            now,
            "last_error = $6, next_attempt_at = $7",
            error,
            next_attempt_at,
        )

    async def mark_rejected(
        self, claim: ClaimedEmail, *, error: str, now: datetime | None = None
    ) -> bool:
        """Record that a provider refused the message itself. ``False`` if the lease was lost."""
        return await self._finish(
            claim, EmailState.REJECTED, now, "last_error = $6, next_attempt_at = NULL", error
        )

    async def mark_dead(
        self, claim: ClaimedEmail, *, error: str, now: datetime | None = None
    ) -> bool:
        """Record giving up (too old). ``False`` if the lease was lost."""
        return await self._finish(
            claim, EmailState.DEAD, now, "last_error = $6, next_attempt_at = NULL", error
        )

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
