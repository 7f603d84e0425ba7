"""Rows of the outbox's tables as records: the columns read and their conversion.

Shared by :class:`~service.outbox.store.Store` and its mixins (listings, inbox),
so that a column added to a table is read in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from service.outbox.models import EmailRecord, EmailState, SubmissionRecord, load_json

if TYPE_CHECKING:
    from service.outbox.transaction import Row

__all__ = [
    "EMAIL_COLUMNS",
    "SUBMISSION_COLUMNS",
    "as_datetime",
    "email_record",
    "maybe_datetime",
    "maybe_json",
    "submission_record",
]

EMAIL_COLUMNS = (
    "id, submission_id, kind, seq, message_id, state, attempts, next_attempt_at,"
    " lease_until, claimed_by, provider, provider_message_id, last_error, queued_at,"
    " created_at, updated_at, sent_at, purged_at, delivery"
)
SUBMISSION_COLUMNS = (
    "id, created_at, form, name, email, company, message, fields, consent, purged_at, locale,"
    " spam_at"
)


def as_datetime(value: Any) -> datetime:
    """A stored time (a datetime, or SQLite's epoch seconds) in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


def maybe_datetime(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)


def maybe_json(value: Any) -> Any:
    return None if value is None else load_json(value)


def email_record(row: Row) -> EmailRecord:
    """An ``emails`` row read with :data:`EMAIL_COLUMNS`."""
    return EmailRecord(
        id=row["id"],
        submission_id=row["submission_id"],
        kind=row["kind"],
        seq=row["seq"],
        message_id=row["message_id"],
        state=EmailState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=maybe_datetime(row["next_attempt_at"]),
        lease_until=maybe_datetime(row["lease_until"]),
        claimed_by=row["claimed_by"],
        provider=row["provider"],
        provider_message_id=row["provider_message_id"],
        last_error=row["last_error"],
        queued_at=as_datetime(row["queued_at"]),
        created_at=as_datetime(row["created_at"]),
        updated_at=as_datetime(row["updated_at"]),
        sent_at=maybe_datetime(row["sent_at"]),
        purged=row["purged_at"] is not None,
        delivery=row["delivery"],
    )


def submission_record(row: Row) -> SubmissionRecord:
    """A ``submissions`` row read with :data:`SUBMISSION_COLUMNS`."""
    return SubmissionRecord(
        id=row["id"],
        created_at=as_datetime(row["created_at"]),
        form=row["form"],
        name=row["name"],
        email=row["email"],
        company=row["company"],
        message=row["message"],
        fields=maybe_json(row["fields"]),
        consent=maybe_json(row["consent"]),
        purged_at=maybe_datetime(row["purged_at"]),
        locale=row["locale"],
        spam=row["spam_at"] is not None,
    )
