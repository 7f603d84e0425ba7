"""The admin JSON API's response models, and how the outbox's records become them.

No model carries an email body or a recipient address; provider errors and
reasons are masked (providers quote the refused address).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.logs import mask_addresses
from service.outbox import EmailRecord, EmailState
from service.outbox.delivery import EventRecord
from service.outbox.inbox import InboxEntry

__all__ = [
    "ConsentRecord",
    "DeliveryEventSummary",
    "EmailSummary",
    "ErasureResponse",
    "OutboxPage",
    "RetryResponse",
    "SpamResponse",
    "SubmissionEmail",
    "SubmissionSummary",
    "SubmissionsPage",
    "email_summary",
    "event_summaries",
    "submission_summary",
]


class DeliveryEventSummary(BaseModel):
    """One event a provider's webhook reported for an email: no body, no address."""

    provider: str
    event: str = Field(description="delivered, deferred, bounced, complained or rejected.")
    bounce: str | None = Field(description="hard or soft, for a bounce.")
    reason: str | None = Field(description="The provider's short reason, addresses masked.")
    occurred_at: datetime


class EmailSummary(BaseModel):
    """One email's delivery metadata: no body, no address."""

    id: str
    submission_id: str
    kind: str
    message_id: str
    state: EmailState
    provider: str | None
    provider_message_id: str | None
    attempts: int
    last_error: str | None = Field(
        description="The last provider error, or why the outbox did not send it; addresses masked."
    )
    created_at: datetime
    queued_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    purged: bool = Field(description="The body was deleted after the retention period.")
    delivery: str | None = Field(description="What the provider's webhook last reported.")
    events: list[DeliveryEventSummary] = Field(description="The latest webhook events.")


class OutboxPage(BaseModel):
    """The outbox: counts by state, and a page of its emails."""

    counts: dict[str, int]
    depth: int = Field(description="Emails still to deliver: pending, retrying or sending.")
    oldest_unsent_seconds: float | None
    total: int = Field(description="Emails matching the filter, for paging.")
    limit: int
    offset: int
    next_offset: int | None
    emails: list[EmailSummary]


class SubmissionEmail(BaseModel):
    """How one email of a submission fared."""

    id: str
    kind: str
    state: EmailState
    provider: str | None
    attempts: int
    sent_at: datetime | None
    delivery: str | None
    events: list[DeliveryEventSummary]


class ConsentRecord(BaseModel):
    """A consent box the visitor checked: the label text as shown, and when."""

    field: str
    label: str
    given_at: datetime


class SubmissionSummary(BaseModel):
    """One lead as the visitor submitted it; the personal fields are ``null`` once purged."""

    id: str
    created_at: datetime
    form: str = Field(description="The form's id, as `FORMS_FILE` declares it.")
    name: str | None
    email: str | None
    company: str | None
    message: str | None
    fields: dict[str, str | int | float | bool] | None = Field(
        description="The form's declared fields that were filled in, by name."
    )
    consent: list[ConsentRecord] | None
    locale: str | None = Field(
        description="The visitor's language (en, nl, de, fr); `null` if stored before it was kept."
    )
    purged: bool
    spam: bool = Field(description="An operator marked it as spam.")
    state: str = Field(description="Its delivery badge: spam, dead, bounced, pending or delivered.")
    emails: list[SubmissionEmail]


class SubmissionsPage(BaseModel):
    """A page of submissions, newest first."""

    limit: int
    offset: int
    next_offset: int | None
    submissions: list[SubmissionSummary]


class SpamResponse(BaseModel):
    """The submission's spam mark, as it now stands."""

    success: Literal[True] = True
    id: str
    spam: bool


class ErasureResponse(BaseModel):
    """What was erased about a person: counts only (the address is gone)."""

    success: Literal[True] = True
    submissions: int = Field(description="Submissions from the address, deleted.")
    emails: int = Field(description="Their emails (bodies, addresses, errors), deleted.")
    events: int = Field(description="Those emails' delivery events, deleted.")
    idempotency_keys: int = Field(description="Idempotency records of those submissions.")
    confirmation_counters: int = Field(
        description="Confirmation rate-limit counters of the address, dropped."
    )


class RetryResponse(BaseModel):
    """The email is queued again."""

    success: Literal[True] = True
    id: str
    state: EmailState = EmailState.PENDING


def event_summaries(records: list[EventRecord]) -> list[DeliveryEventSummary]:
    return [
        DeliveryEventSummary(
            provider=record.provider,
            event=record.event,
            bounce=record.bounce,
            # Providers quote the refused address in their reasons.
            reason=mask_addresses(record.reason) if record.reason else None,
            occurred_at=record.occurred_at,
        )
        for record in records
    ]


def email_summary(record: EmailRecord, events: list[EventRecord]) -> EmailSummary:
    return EmailSummary(
        id=record.id,
        submission_id=record.submission_id,
        kind=record.kind,
        message_id=record.message_id,
        state=record.state,
        provider=record.provider,
        provider_message_id=record.provider_message_id,
        attempts=record.attempts,
        # Providers quote refused recipients in their answers.
        last_error=mask_addresses(record.last_error) if record.last_error else None,
        created_at=record.created_at,
        queued_at=record.queued_at,
        updated_at=record.updated_at,
        next_attempt_at=record.next_attempt_at,
        sent_at=record.sent_at,
        purged=record.purged,
        delivery=record.delivery,
        events=event_summaries(events),
    )


def submission_summary(
    entry: InboxEntry,
    emails: list[EmailRecord],
    events: dict[str, list[EventRecord]],
) -> SubmissionSummary:
    """One lead for the JSON API: its fields (``null`` once purged), badge and emails."""
    record = entry.submission
    return SubmissionSummary(
        id=record.id,
        created_at=record.created_at,
        form=record.form,
        name=record.name,
        email=record.email,
        company=record.company or None,
        message=record.message,
        fields=record.fields if record.purged_at is None else None,
        consent=[ConsentRecord.model_validate(item) for item in record.consent or ()]
        if record.purged_at is None
        else None,
        locale=record.locale,
        purged=record.purged_at is not None,
        spam=record.spam,
        state=entry.state,
        emails=[
            SubmissionEmail(
                id=email.id,
                kind=email.kind,
                state=email.state,
                provider=email.provider,
                attempts=email.attempts,
                sent_at=email.sent_at,
                delivery=email.delivery,
                events=event_summaries(events.get(email.id, [])),
            )
            for email in emails
        ],
    )
