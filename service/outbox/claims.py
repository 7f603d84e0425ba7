"""Delivering: leasing due emails to a worker, and recording what became of each.

Mixed into :class:`~service.outbox.store.Store` like
:class:`~service.outbox.listings.Listings`; relies on the store's ``group``,
``packer``, ``_fetch``, ``_now`` and its dialect's ``claim_lock`` and
``claim_index``. The leases and their fencing are described in the store's module doc.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from service.outbox.delivery import suppressed_in
from service.outbox.models import (
    ClaimedEmail,
    EmailState,
    Kept,
    StoredBody,
    SubmissionRecord,
    Unrendered,
    load_json,
)
from service.outbox.packing import StoredEmail
from service.outbox.rows import SUBMISSION_COLUMNS, as_datetime, submission_record

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.outbox.group import GroupCommit
    from service.outbox.packing import Packer
    from service.outbox.transaction import Row, Transaction

__all__ = ["Claims"]

logger = logging.getLogger("service.outbox")

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
# The fields of a final failure (rejected, dead): the error, and no next attempt.
_FINAL = "last_error = $6, next_attempt_at = NULL"


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


class Claims:
    """Claiming due emails under a lease, rendering's write-back, and the outcomes."""

    group: GroupCommit
    packer: Packer
    claim_lock: ClassVar[str]
    claim_index: ClassVar[str]
    _fetch: Callable[..., Awaitable[list[Row]]]
    _now: Callable[[datetime | None], datetime]

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
        self,
        claim: ClaimedEmail,
        email: OutgoingEmail,
        *,
        now: datetime | None = None,
        check_suppressed: bool = False,
    ) -> Kept:
        """Store the body the worker rendered for ``claim`` (packed) in place of its recipe.

        Every later attempt, re-queue and resend then sends this email. ``kept``
        is false if the lease was lost or the email was rendered already (see
        module doc). With ``check_suppressed``, the same transaction looks the
        email's recipients up in the suppression list (a confirmation's check
        before its send, without a transaction of its own).
        """
        packed = self.packer.pack(email)
        args = (claim.id, claim.claimed_by, claim.attempts, packed.data, packed.dictionary_id)
        updated_at = self._now(now)
        recipients = [address.addr_spec for address in email.to] if check_suppressed else []

        async def keep(tx: Transaction) -> Kept:
            kept = await tx.execute(
                "UPDATE emails SET body = $4, dictionary_id = $5, recipe = NULL, updated_at = $6"
                " WHERE id = $1 AND state = 'sending' AND claimed_by = $2 AND attempts = $3"
                " AND recipe IS NOT NULL",
                *args,
                updated_at,
            )
            if not check_suppressed:
                return Kept(kept == 1)
            found = [await suppressed_in(tx, recipient) for recipient in recipients]
            return Kept(kept == 1, suppressed=any(found))

        return await self.group.run(keep)

    async def _finish(
        self,
        claim: ClaimedEmail,
        state: EmailState,
        now: datetime | None,
        fields: str,
        *values: Any,
        defer: bool = False,
    ) -> bool:
        statement = _FINISH.format(fields=fields)
        args = (claim.id, claim.claimed_by, claim.attempts, str(state), self._now(now), *values)

        async def finish(tx: Transaction) -> int:
            return await tx.execute(statement, *args)

        return await self.group.run(finish, defer=defer) == 1

    async def mark_sent(
        self,
        claim: ClaimedEmail,
        *,
        provider: str,
        provider_message_id: str | None,
        now: datetime | None = None,
        defer: bool = False,
    ) -> bool:
        """Record delivery. ``False`` if the lease was taken over (see module doc).

        With ``defer`` (every ``mark_*`` takes it), the write shares the commit
        of a later one, within :attr:`~service.outbox.group.GroupCommit.defer_seconds`.
        """
        return await self._finish(
            claim,
            EmailState.SENT,
            now,
            "provider = $6, provider_message_id = $7, sent_at = $5, last_error = NULL,"
            " next_attempt_at = NULL",
            provider,
            provider_message_id,
            defer=defer,
        )

    async def mark_retry(
        self,
        claim: ClaimedEmail,
        *,
        error: str,
        next_attempt_at: datetime,
        now: datetime | None = None,
        defer: bool = False,
    ) -> bool:
        """Record a failure to try again at ``next_attempt_at``. ``False`` if the lease was lost."""
        return await self._finish(
            claim,
            EmailState.RETRYING,
            now,
            "last_error = $6, next_attempt_at = $7",
            error,
            next_attempt_at,
            defer=defer,
        )

    async def mark_rejected(
        self,
        claim: ClaimedEmail,
        *,
        error: str,
        now: datetime | None = None,
        defer: bool = False,
    ) -> bool:
        """Record that a provider refused the message itself. ``False`` if the lease was lost."""
        return await self._finish(claim, EmailState.REJECTED, now, _FINAL, error, defer=defer)

    async def mark_dead(
        self,
        claim: ClaimedEmail,
        *,
        error: str,
        now: datetime | None = None,
        defer: bool = False,
    ) -> bool:
        """Record giving up (too old). ``False`` if the lease was lost."""
        return await self._finish(claim, EmailState.DEAD, now, _FINAL, error, defer=defer)

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
