"""What an operator reads and re-queues: emails, submissions, counts (the admin API, the CLI).

Mixed into :class:`~service.outbox.store.Store` like
:class:`~service.outbox.delivery.DeliveryRecords`; relies on the store's
``_run`` (a transaction), ``_fetch`` and ``_now``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.outbox.models import (
    UNSENT_STATES,
    EmailRecord,
    EmailState,
    OutboxStats,
    SubmissionRecord,
)
from service.outbox.rows import (
    EMAIL_COLUMNS,
    SUBMISSION_COLUMNS,
    email_record,
    maybe_datetime,
    submission_record,
)

if TYPE_CHECKING:
    from service.outbox.transaction import Row, Transaction

__all__ = ["Listings"]

_UNSENT = ", ".join(f"'{state}'" for state in UNSENT_STATES)


class Listings:
    """Reads for the operator, and moving dead or rejected emails back to ``pending``."""

    _run: Callable[..., Awaitable[Any]]
    _fetch: Callable[..., Awaitable[list[Row]]]
    _now: Callable[[datetime | None], datetime]

    async def requeue(self, email_id: str, *, now: datetime | None = None) -> bool:
        """Move one ``dead`` or ``rejected`` email back to ``pending``, due now.

        Its age for the give-up rule restarts now. ``False`` if there is no such
        email in those states, its body was already purged, or it is the
        confirmation of a submission marked as spam.
        """
        now = self._now(now)

        async def requeue(tx: Transaction) -> int:
            return await tx.execute(
                "UPDATE emails SET state = 'pending', next_attempt_at = $2, queued_at = $2,"
                " updated_at = $2, lease_until = NULL"
                " WHERE id = $1 AND state IN ('dead', 'rejected') AND purged_at IS NULL"
                # A spam-marked submission's confirmation stays unsent (service.outbox.inbox).
                " AND NOT (kind = 'confirmation' AND EXISTS (SELECT 1 FROM submissions AS s"
                " WHERE s.id = emails.submission_id AND s.spam_at IS NOT NULL))",
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
        """Move every email in ``states`` back to ``pending``, due now; returns how many."""
        wanted = [EmailState(state) for state in states]
        allowed = (EmailState.DEAD, EmailState.REJECTED)
        if not wanted or any(state not in allowed for state in wanted):
            raise ValueError("only dead and rejected emails can be re-queued")
        now = self._now(now)

        async def requeue(tx: Transaction) -> int:
            return await tx.execute(
                "UPDATE emails SET state = 'pending', next_attempt_at = $1, queued_at = $1,"
                " updated_at = $1, lease_until = NULL"
                " WHERE (state = $2 OR state = $3) AND purged_at IS NULL"
                " AND NOT (kind = 'confirmation' AND EXISTS (SELECT 1 FROM submissions AS s"
                " WHERE s.id = emails.submission_id AND s.spam_at IS NOT NULL))",
                now,
                str(wanted[0]),
                str(wanted[-1]),
            )

        return await self._run(requeue, write=True)

    async def get_email(self, email_id: str) -> EmailRecord | None:
        """One email's delivery metadata, or ``None``."""
        rows = await self._fetch(
            f"SELECT {EMAIL_COLUMNS} FROM emails WHERE id = $1",  # noqa: S608 - constant
            email_id,
        )
        return email_record(rows[0]) if rows else None

    async def list_emails(
        self, *, state: EmailState | None = None, limit: int = 50, offset: int = 0
    ) -> list[EmailRecord]:
        """Emails newest first, optionally only those in ``state``."""
        where = "" if state is None else "WHERE state = $3"
        args: list[Any] = [limit, offset]
        if state is not None:
            args.append(str(EmailState(state)))
        rows = await self._fetch(
            f"SELECT {EMAIL_COLUMNS} FROM emails {where}"  # noqa: S608 - constants
            " ORDER BY created_at DESC, submission_id, seq LIMIT $1 OFFSET $2",
            *args,
        )
        return [email_record(row) for row in rows]

    async def emails_of(self, submission_ids: Sequence[str]) -> list[EmailRecord]:
        """The emails of these submissions, grouped by submission, each group in sending order."""
        if not submission_ids:
            return []
        placeholders = ", ".join(f"${n}" for n in range(1, len(submission_ids) + 1))
        rows = await self._fetch(
            f"SELECT {EMAIL_COLUMNS} FROM emails"  # noqa: S608 - placeholders only
            f" WHERE submission_id IN ({placeholders}) ORDER BY submission_id, seq",
            *submission_ids,
        )
        return [email_record(row) for row in rows]

    async def get_submission(self, submission_id: str) -> SubmissionRecord | None:
        """One submission, or ``None``."""
        rows = await self._fetch(
            f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1",  # noqa: S608
            submission_id,
        )
        return submission_record(rows[0]) if rows else None

    async def list_submissions(
        self, *, form: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[SubmissionRecord]:
        """Submissions newest first; only those of ``form`` when it is given."""
        where = "" if form is None else "WHERE form = $3"
        rows = await self._fetch(
            f"SELECT {SUBMISSION_COLUMNS} FROM submissions {where}"  # noqa: S608 - constants
            " ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
            limit,
            offset,
            *([] if form is None else [form]),
        )
        return [submission_record(row) for row in rows]

    async def stats(self, *, now: datetime | None = None) -> OutboxStats:
        """Counts by state and the age in seconds of the oldest unsent email."""
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
        first = maybe_datetime(oldest[0]["oldest"])
        age = None if first is None else max(0.0, (now - first).total_seconds())
        return OutboxStats(counts=counts, oldest_unsent_age=age)
