"""Taking a submission in: the submission row, its emails and its idempotency key, at once.

Mixed into :class:`~service.outbox.store.Store` like
:class:`~service.outbox.listings.Listings`; relies on the store's ``group``
(the hot writes' shared commits), ``packer``, ``_lock`` and ``_now``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from service.ids import uuid7
from service.outbox.delivery import suppressed_in
from service.outbox.models import IDEMPOTENCY_TTL, AddResult, IdempotencyConflict, dump_json
from service.outbox.recipes import EmailRecipe, suppressed
from service.outbox.rows import as_datetime, maybe_json

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.outbox.group import GroupCommit
    from service.outbox.packing import PackedEmail, Packer
    from service.outbox.transaction import Row, Transaction
    from service.submission import Submission

__all__ = ["Intake"]


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


_EMAIL_COLUMNS = (
    "id, submission_id, kind, seq, message_id, body, dictionary_id, recipe,"
    " state, attempts, next_attempt_at, queued_at, created_at, updated_at"
)
_VALUES_PER_EMAIL = 9


@lru_cache(maxsize=8)
def _insert_emails(count: int) -> str:
    """``INSERT INTO emails`` of ``count`` rows, each with :data:`_VALUES_PER_EMAIL` values."""
    rows = []
    for row in range(count):
        n = [row * _VALUES_PER_EMAIL + i for i in range(1, _VALUES_PER_EMAIL + 1)]
        rows.append(
            f"(${n[0]}, ${n[1]}, ${n[2]}, ${n[3]}, ${n[4]}, ${n[5]}, ${n[6]}, ${n[7]},"
            f" 'pending', 0, ${n[8]}, ${n[8]}, ${n[8]}, ${n[8]})"
        )
    values = ", ".join(rows)
    return f"INSERT INTO emails ({_EMAIL_COLUMNS}) VALUES {values}"  # noqa: S608 - placeholders only


def _email_values(submission: Submission, rows: list[EmailRow], now: datetime) -> list[Any]:
    """The values of :func:`_insert_emails` for ``rows``, in order (``seq`` is the position)."""
    values: list[Any] = []
    for seq, (email, (body, dictionary, recipe)) in enumerate(rows):
        values += (uuid7(), submission.id, email.kind, seq, email.message_id)
        values += (body, dictionary, recipe, now)
    return values


class Intake:
    """Storing an accepted submission with its emails, idempotently."""

    group: GroupCommit
    packer: Packer
    _lock: Callable[[Transaction, str], Awaitable[None]]
    _now: Callable[[datetime | None], datetime]

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
            if rows:
                # One statement for all of them (on SQLite, each is a trip to its thread).
                await tx.execute(_insert_emails(len(rows)), *_email_values(submission, rows, now))
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
