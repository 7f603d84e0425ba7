"""The outbox's plain data: what goes in, what a worker claims, what an operator sees.

Times are timezone-aware UTC :class:`~datetime.datetime` values everywhere;
each store converts them to its own column type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from service.message import OutgoingEmail

__all__ = [
    "IDEMPOTENCY_TTL",
    "UNSENT_STATES",
    "AddResult",
    "ClaimedEmail",
    "Clock",
    "EmailRecord",
    "EmailState",
    "IdempotencyConflict",
    "Kept",
    "NotRendered",
    "OutboxStats",
    "PurgeResult",
    "Rendered",
    "StoreError",
    "StoredBody",
    "SubmissionRecord",
    "Unrendered",
    "dump_json",
    "dump_json_bytes",
    "load_json",
    "utcnow",
]

IDEMPOTENCY_TTL = timedelta(hours=24)
"""How long an ``Idempotency-Key`` is remembered."""

Clock = Callable[[], datetime]
"""Returns the current time (aware, UTC). Injected so tests control time."""


def utcnow() -> datetime:
    """The default :data:`Clock`."""
    return datetime.now(UTC)


def dump_json_bytes(value: Mapping[str, Any] | list[Any]) -> bytes:
    """Compact, deterministic JSON (sorted keys, UTF-8) for stored payloads and answers.

    orjson rather than the standard library: a stored email holds its whole
    rendered HTML, about 20 kB of quotes to escape, written once per email at
    submission and read once per attempt (about 6x faster to write, 2x to read).
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def dump_json(value: Mapping[str, Any] | list[Any]) -> str:
    """:func:`dump_json_bytes` as text, for JSON columns."""
    return dump_json_bytes(value).decode()


def load_json(text: str | bytes) -> Any:
    """The value :func:`dump_json` wrote."""
    return orjson.loads(text)


class EmailState(StrEnum):
    """Where one stored email is in its life.

    ``pending`` → ``sending`` (claimed, leased) → ``sent`` | ``retrying`` |
    ``rejected`` | ``dead``; ``retrying`` → ``sending`` again when due.
    The operator moves ``dead`` and ``rejected`` back to ``pending``.
    """

    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    REJECTED = "rejected"
    DEAD = "dead"


UNSENT_STATES: tuple[EmailState, ...] = (
    EmailState.PENDING,
    EmailState.RETRYING,
    EmailState.SENDING,
)
"""States in which an email still waits to be delivered (the outbox depth)."""


class StoreError(Exception):
    """The outbox store cannot do what was asked (bad URL, unusable database)."""


class IdempotencyConflict(StoreError):
    """The idempotency key was used, within its lifetime, for a different request."""

    def __init__(self, key: str, *, submission_id: str) -> None:
        super().__init__("idempotency key already used for a different request")
        self.key = key
        self.submission_id = submission_id


@dataclass(frozen=True, slots=True)
class AddResult:
    """What :meth:`Store.add_submission` did.

    ``replayed`` is true when the idempotency key matched an earlier identical
    request: nothing new was stored and ``submission_id``/``response`` are the
    first request's.
    """

    submission_id: str
    replayed: bool
    response: dict[str, Any] | None = None


class StoredBody(Protocol):
    """A stored email read back, decoded when sent (:class:`.packing.StoredEmail`)."""

    def email(self) -> OutgoingEmail:
        """The email exactly as it was rendered; raises if the stored bytes are damaged."""


class NotRendered(Exception):
    """An email stored as a recipe was to be sent by a worker that cannot render it."""


@dataclass(frozen=True, slots=True)
class Unrendered:
    """An email stored as a recipe (:mod:`.recipes`), to be rendered by the worker that claims it.

    ``recipe`` is the parsed recipe and ``submission`` the stored submission it
    is rendered from, read in the claim's transaction.
    """

    recipe: Mapping[str, Any]
    submission: SubmissionRecord

    def email(self) -> OutgoingEmail:
        """There is no email yet: see :mod:`service.outbox.rendering`."""
        raise NotRendered("stored to be rendered when claimed; this worker has no renderer")


@dataclass(frozen=True, slots=True)
class Kept:
    """What :meth:`~service.outbox.store.Store.keep_rendered` did.

    ``kept``: the body was stored (false if the lease was lost or it was rendered
    already). ``suppressed``: whether a recipient is on the suppression list,
    when the caller asked (else ``None``).
    """

    kept: bool
    suppressed: bool | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """An email just rendered for its attempt (its packed body is stored for the next).

    ``suppressed`` says whether a recipient was on the suppression list when the
    body was stored (looked up in that transaction, for a confirmation), or
    ``None`` when nobody looked.
    """

    value: OutgoingEmail
    suppressed: bool | None = None

    def email(self) -> OutgoingEmail:
        """The email as rendered."""
        return self.value


@dataclass(frozen=True, slots=True)
class ClaimedEmail:
    """An email a worker holds a lease on.

    The pair (``claimed_by``, ``attempts``) is the lease's fencing token: every
    claim increments ``attempts``, so a worker whose lease expired and was taken
    over cannot record an outcome over the new holder's.
    """

    id: str
    submission_id: str
    kind: str
    seq: int
    message_id: str
    stored: StoredBody
    attempts: int
    claimed_by: str
    lease_until: datetime
    queued_at: datetime
    created_at: datetime
    #: Its submission is marked as spam: a confirmation is then not sent.
    spam: bool = False

    @property
    def unrendered(self) -> Unrendered | None:
        """What to render this email from, while it is stored as a recipe; else ``None``."""
        return self.stored if isinstance(self.stored, Unrendered) else None

    def to_email(self) -> OutgoingEmail:
        """The stored email, exactly as it was rendered (same Message-ID), with its outbox id.

        Decoded here, not when claimed: an email whose stored body cannot be read
        fails its own attempt (and is retried, then given up), not the whole claim.
        """
        return replace(self.stored.email(), outbox_id=self.id)


@dataclass(frozen=True, slots=True)
class EmailRecord:
    """One stored email's delivery metadata, for operators (never its body)."""

    id: str
    submission_id: str
    kind: str
    seq: int
    message_id: str
    state: EmailState
    attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    claimed_by: str | None
    provider: str | None
    provider_message_id: str | None
    last_error: str | None
    queued_at: datetime
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    purged: bool
    #: What the provider's webhook last said (``service.outbox.delivery``), else ``None``.
    delivery: str | None = None


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    """One stored submission; the personal fields are ``None`` once purged.

    ``fields`` are the form's declared fields by name; ``consent`` the consent
    records (field, label text as shown, time given).
    ``locale`` (the visitor's language) is kept: it says nothing about the person.
    """

    id: str
    created_at: datetime
    form: str
    name: str | None
    email: str | None
    company: str | None
    message: str | None
    fields: dict[str, Any] | None
    consent: list[dict[str, Any]] | None
    purged_at: datetime | None
    locale: str | None = None
    #: An operator marked it as spam (:meth:`~service.outbox.inbox.InboxRecords.mark_spam`).
    spam: bool = False


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts of emails by state and how long the oldest unsent one has waited."""

    counts: dict[EmailState, int]
    oldest_unsent_age: float | None

    @property
    def depth(self) -> int:
        """Emails still to deliver (pending, retrying or being sent)."""
        return sum(self.counts.get(state, 0) for state in UNSENT_STATES)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How many rows :meth:`Store.purge` emptied or deleted."""

    emails: int
    submissions: int
    idempotency_keys: int
