"""The outbox behaviour, written once in SQL that SQLite and PostgreSQL both run.

A dialect subclass supplies connections and transactions
(:meth:`SqlStore._run`), its column types, the row-lock clause and
index hint of the claim query and a named lock (:meth:`SqlStore._lock`). Statements use ``$1``
placeholders; the SQLite dialect rewrites them to ``?1``. Each operation is
written as a *body*, an async function of an open transaction, so that a
dialect can run a whole transaction in one go and the hot writes can share a
commit (:mod:`service.outbox.group`).
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from service.outbox.group import Body, GroupCommit, Outcome, run_in_savepoints
from service.outbox.migrations import MIGRATIONS, SCHEMA_VERSION_TABLE
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
    SubmissionRecord,
    dump_json,
    load_json,
    utcnow,
)
from service.outbox.store import IDEMPOTENCY_TTL, Store

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.submission import Submission

__all__ = ["Row", "SqlStore", "Transaction"]

Row = Mapping[str, Any]

T = TypeVar("T")

MIGRATION_LOCK = "service.outbox.migrations"

_UNSENT = ", ".join(f"'{state}'" for state in UNSENT_STATES)

_EMAIL_COLUMNS = (
    "id, submission_id, kind, seq, message_id, state, attempts, next_attempt_at,"
    " lease_until, claimed_by, provider, provider_message_id, last_error, queued_at,"
    " created_at, updated_at, sent_at, purged_at"
)
_SUBMISSION_COLUMNS = (
    "id, created_at, form, name, email, company, message, fields, consent, purged_at, locale"
)

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
RETURNING id, submission_id, kind, seq, message_id, payload, attempts, claimed_by,
          lease_until, queued_at, created_at, next_attempt_at
"""

# Every mark_* carries the claim's fencing token; see the Store module doc.
_FINISH = """
UPDATE emails
SET state = $4, updated_at = $5, lease_until = NULL, {fields}
WHERE id = $1 AND state = 'sending' AND claimed_by = $2 AND attempts = $3
"""


class Transaction(Protocol):
    """One open transaction of a dialect."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the number of rows it changed."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; returns its rows as mappings."""


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


def _maybe_datetime(value: Any) -> datetime | None:
    return None if value is None else _as_datetime(value)


def _maybe_json(value: Any) -> Any:
    return None if value is None else load_json(value)


def _email_record(row: Row) -> EmailRecord:
    return EmailRecord(
        id=row["id"],
        submission_id=row["submission_id"],
        kind=row["kind"],
        seq=row["seq"],
        message_id=row["message_id"],
        state=EmailState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=_maybe_datetime(row["next_attempt_at"]),
        lease_until=_maybe_datetime(row["lease_until"]),
        claimed_by=row["claimed_by"],
        provider=row["provider"],
        provider_message_id=row["provider_message_id"],
        last_error=row["last_error"],
        queued_at=_as_datetime(row["queued_at"]),
        created_at=_as_datetime(row["created_at"]),
        updated_at=_as_datetime(row["updated_at"]),
        sent_at=_maybe_datetime(row["sent_at"]),
        purged=row["purged_at"] is not None,
    )


def _submission_record(row: Row) -> SubmissionRecord:
    return SubmissionRecord(
        id=row["id"],
        created_at=_as_datetime(row["created_at"]),
        form=row["form"],
        name=row["name"],
        email=row["email"],
        company=row["company"],
        message=row["message"],
        fields=_maybe_json(row["fields"]),
        consent=_maybe_json(row["consent"]),
        purged_at=_maybe_datetime(row["purged_at"]),
        locale=row["locale"],
    )


def _claimed(row: Row) -> ClaimedEmail:
    return ClaimedEmail(
        id=row["id"],
        submission_id=row["submission_id"],
        kind=row["kind"],
        seq=row["seq"],
        message_id=row["message_id"],
        payload=load_json(row["payload"]),
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
        lease_until=_as_datetime(row["lease_until"]),
        queued_at=_as_datetime(row["queued_at"]),
        created_at=_as_datetime(row["created_at"]),
    )


class SqlStore(Store):
    """:class:`Store` implemented over a dialect's transactions.

    The writes of the hot path (submissions, claims, outcomes) go through a
    :class:`~service.outbox.group.GroupCommit` (``group``): concurrent ones
    share a commit, each in its own savepoint.
    """

    ts_type: ClassVar[str]
    json_type: ClassVar[str]
    claim_lock: ClassVar[str] = ""
    claim_index: ClassVar[str] = ""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or utcnow
        self.group = GroupCommit(self._run_batch)

    async def open(self) -> None:
        await self._connect()
        try:
            await self._migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        # Writes already queued are committed (or fail) before the connections go.
        await self.group.drain()
        await self._disconnect()

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
                for statement in migration.render(ts=self.ts_type, json=self.json_type):
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    self.clock(),
                )

        await self._run(migrate, write=True)

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
        emails: Sequence[OutgoingEmail],
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        response: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> AddResult:
        if idempotency_key is not None and request_hash is None:
            raise ValueError("request_hash is required with idempotency_key")
        now = self._now(now)

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
                        response=_maybe_json(earlier["response"]),
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
            for seq, email in enumerate(emails):
                await tx.execute(
                    "INSERT INTO emails (id, submission_id, kind, seq, message_id, payload,"
                    " state, attempts, next_attempt_at, queued_at, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7, $7)",
                    str(uuid.uuid4()),
                    submission.id,
                    email.kind,
                    seq,
                    email.message_id,
                    dump_json(email.to_dict()),
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
        if _as_datetime(rows[0]["created_at"]) > now - IDEMPOTENCY_TTL:
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
        if limit < 1:
            return []
        now = self._now(now)
        lease_until = now + timedelta(seconds=lease_seconds)
        claim = _CLAIM.format(lock=self.claim_lock, index=self.claim_index)

        async def take(tx: Transaction) -> list[Row]:
            return await tx.fetch(claim, worker_id, lease_until, now, limit)

        rows: list[Row] = await self.group.run(take)
        # RETURNING has no defined order; hand emails out in due order.
        rows.sort(key=lambda row: (_as_datetime(row["next_attempt_at"]), row["seq"]))
        return [_claimed(row) for row in rows]

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
        return await self._finish(
            claim, EmailState.REJECTED, now, "last_error = $6, next_attempt_at = NULL", error
        )

    async def mark_dead(
        self, claim: ClaimedEmail, *, error: str, now: datetime | None = None
    ) -> bool:
        return await self._finish(
            claim, EmailState.DEAD, now, "last_error = $6, next_attempt_at = NULL", error
        )

    async def requeue(self, email_id: str, *, now: datetime | None = None) -> bool:
        now = self._now(now)

        async def requeue(tx: Transaction) -> int:
            return await tx.execute(
                "UPDATE emails SET state = 'pending', next_attempt_at = $2, queued_at = $2,"
                " updated_at = $2, lease_until = NULL"
                " WHERE id = $1 AND state IN ('dead', 'rejected') AND payload IS NOT NULL",
                email_id,
                now,
            )

        return await self._run(requeue, write=True) == 1

    async def requeue_dead(
        self,
        *,
        states: Sequence[EmailState] = (EmailState.DEAD, EmailState.REJECTED),
        now: datetime | None = None,
    ) -> int:
        wanted = [EmailState(state) for state in states]
        allowed = (EmailState.DEAD, EmailState.REJECTED)
        if not wanted or any(state not in allowed for state in wanted):
            raise ValueError("only dead and rejected emails can be re-queued")
        now = self._now(now)

        async def requeue(tx: Transaction) -> int:
            return await tx.execute(
                "UPDATE emails SET state = 'pending', next_attempt_at = $1, queued_at = $1,"
                " updated_at = $1, lease_until = NULL"
                " WHERE (state = $2 OR state = $3) AND payload IS NOT NULL",
                now,
                str(wanted[0]),
                str(wanted[-1]),
            )

        return await self._run(requeue, write=True)

    async def get_email(self, email_id: str) -> EmailRecord | None:
        rows = await self._fetch(
            f"SELECT {_EMAIL_COLUMNS} FROM emails WHERE id = $1",  # noqa: S608 - constant
            email_id,
        )
        return _email_record(rows[0]) if rows else None

    async def list_emails(
        self, *, state: EmailState | None = None, limit: int = 50, offset: int = 0
    ) -> list[EmailRecord]:
        where = "" if state is None else "WHERE state = $3"
        args: list[Any] = [limit, offset]
        if state is not None:
            args.append(str(EmailState(state)))
        rows = await self._fetch(
            f"SELECT {_EMAIL_COLUMNS} FROM emails {where}"  # noqa: S608 - constants
            " ORDER BY created_at DESC, submission_id, seq LIMIT $1 OFFSET $2",
            *args,
        )
        return [_email_record(row) for row in rows]

    async def emails_of(self, submission_ids: Sequence[str]) -> list[EmailRecord]:
        if not submission_ids:
            return []
        placeholders = ", ".join(f"${n}" for n in range(1, len(submission_ids) + 1))
        rows = await self._fetch(
            f"SELECT {_EMAIL_COLUMNS} FROM emails"  # noqa: S608 - placeholders only
            f" WHERE submission_id IN ({placeholders}) ORDER BY submission_id, seq",
            *submission_ids,
        )
        return [_email_record(row) for row in rows]

    async def get_submission(self, submission_id: str) -> SubmissionRecord | None:
        rows = await self._fetch(
            f"SELECT {_SUBMISSION_COLUMNS} FROM submissions WHERE id = $1",  # noqa: S608
            submission_id,
        )
        return _submission_record(rows[0]) if rows else None

    async def list_submissions(
        self, *, form: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[SubmissionRecord]:
        where = "" if form is None else "WHERE form = $3"
        rows = await self._fetch(
            f"SELECT {_SUBMISSION_COLUMNS} FROM submissions {where}"  # noqa: S608 - constants
            " ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
            limit,
            offset,
            *([] if form is None else [form]),
        )
        return [_submission_record(row) for row in rows]

    async def stats(self, *, now: datetime | None = None) -> OutboxStats:
        now = self._now(now)

        async def read(tx: Transaction) -> tuple[list[Row], list[Row]]:
            counted = await tx.fetch("SELECT state, count(*) AS n FROM emails GROUP BY state")
            oldest = await tx.fetch(
                f"SELECT min(queued_at) AS oldest FROM emails WHERE state IN ({_UNSENT})"  # noqa: S608
            )
            return counted, oldest

        counted, oldest = await self._run(read, write=False)
        counts = {state: 0 for state in EmailState}
        for row in counted:
            counts[EmailState(row["state"])] = int(row["n"])
        first = _maybe_datetime(oldest[0]["oldest"])
        age = None if first is None else max(0.0, (now - first).total_seconds())
        return OutboxStats(counts=counts, oldest_unsent_age=age)

    async def purge(self, *, retention: timedelta, now: datetime | None = None) -> PurgeResult:
        now = self._now(now)
        cutoff = now - retention

        async def purge(tx: Transaction) -> PurgeResult:
            emails = await tx.execute(
                "UPDATE emails SET payload = NULL, last_error = NULL, purged_at = $1"
                " WHERE payload IS NOT NULL"
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
                "   WHERE emails.submission_id = submissions.id AND emails.payload IS NOT NULL)",
                now,
                cutoff,
            )
            keys = await tx.execute(
                "DELETE FROM idempotency_keys WHERE created_at <= $1", now - IDEMPOTENCY_TTL
            )
            return PurgeResult(emails=emails, submissions=submissions, idempotency_keys=keys)

        return await self._run(purge, write=True)
