"""What happened to an email after a provider accepted it: delivery events and suppressions.

A provider's webhook (:mod:`service.webhooks`) turns its payload into
:class:`DeliveryEvent` values; :meth:`DeliveryRecords.record_event` matches
each to the stored email and, in one transaction:

* remembers the event under ``(provider, event_id)``: a second delivery of the
  same event changes nothing (``duplicate``);
* sets the email's ``delivery`` (a later, weaker event such as ``deferred``
  after ``delivered`` does not overwrite a stronger one) and keeps its last
  :data:`EVENTS_KEPT` events (time, provider, event, reason; never a body);
* for a hard bounce or a complaint on a visitor's confirmation, adds the
  visitor's address to the suppression list as a SHA-256 hash plus a masked
  form, so the list survives the retention purge (which empties addresses).

An event that matches no stored email is not stored (``unmatched``).
Data only flows in: this module imports nothing from the webhooks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from service.logs import mask_email

if TYPE_CHECKING:
    from service.outbox.transaction import Row, Transaction

__all__ = [
    "DELIVERY_STATES",
    "EVENTS_KEPT",
    "DeliveryEvent",
    "DeliveryRecords",
    "EventRecord",
    "OwnerAlarm",
    "RecordResult",
    "Recorded",
    "Suppression",
    "address_hash",
    "suppressed_in",
]

T = TypeVar("T")

EventName = Literal["delivered", "deferred", "bounced", "complained", "rejected"]

#: The normalised events, weakest first: a stronger one is never overwritten by a weaker one.
DELIVERY_STATES: tuple[str, ...] = ("deferred", "delivered", "rejected", "bounced", "complained")
_RANK = {name: rank for rank, name in enumerate(DELIVERY_STATES)}

EVENTS_KEPT = 20
"""Events kept per email; older ones are deleted as new ones arrive."""

ALARM_WINDOW = timedelta(days=7)
"""An owner's bounce received longer ago than this no longer degrades health."""

_REASON_LIMIT = 200


_SUPPRESSED = "SELECT 1 AS found FROM suppressions WHERE address_hash = $1"


async def suppressed_in(tx: Transaction, address: str) -> bool:
    """:meth:`DeliveryRecords.is_suppressed` inside the transaction ``tx``."""
    return bool(await tx.fetch(_SUPPRESSED, address_hash(address)))


def address_hash(address: str) -> str:
    """The suppression list's key for ``address``: SHA-256 of its lower-cased form."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One provider event, normalised. ``reason`` is the provider's short text, never a body.

    ``outbox_id`` is the stored email's id when the provider echoes it back
    (metadata, tag, custom argument); ``provider_message_id`` is the provider's
    id for the message (or the Message-ID it saw).
    """

    provider: str
    event_id: str
    event: EventName
    occurred_at: datetime
    provider_message_id: str | None = None
    outbox_id: str | None = None
    recipient: str | None = None
    bounce: Literal["hard", "soft"] | None = None
    reason: str = ""

    @property
    def suppresses(self) -> bool:
        """A hard bounce or a complaint: the address should get nothing more from us."""
        return self.event == "complained" or (self.event == "bounced" and self.bounce == "hard")


class Recorded(StrEnum):
    """What :meth:`DeliveryRecords.record_event` did with an event."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """The outcome, and which kind of email the event was about (``None`` if unmatched)."""

    outcome: Recorded
    kind: str | None = None
    email_id: str | None = None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event of an email, for operators."""

    email_id: str
    provider: str
    event: str
    bounce: str | None
    reason: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Suppression:
    """An address that hard-bounced or complained: its hash, masked form and why."""

    address_hash: str
    masked: str
    reason: str
    provider: str | None
    detail: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OwnerAlarm:
    """The latest event on an owner notification was a bounce or a complaint."""

    event: str
    reason: str | None
    provider: str
    occurred_at: datetime


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


class DeliveryRecords:
    """Delivery events and suppressions, mixed into :class:`~service.outbox.store.Store`.

    Relies on the store's ``_run`` (a transaction), ``_fetch`` and ``clock``.
    """

    clock: Callable[[], datetime]
    _run: Callable[..., Awaitable[Any]]
    _fetch: Callable[..., Awaitable[list[Row]]]

    async def record_event(self, event: DeliveryEvent) -> RecordResult:
        """Match ``event`` to its email and record it once (see the module doc)."""
        received = self.clock()

        async def record(tx: Transaction) -> RecordResult:
            email = await _match(tx, event)
            if email is None:
                return RecordResult(Recorded.UNMATCHED)
            if not await _append(tx, email["id"], event, received):
                return RecordResult(Recorded.DUPLICATE, email["kind"], email["id"])
            current = email["delivery"]
            if current is None or _RANK[event.event] >= _RANK.get(current, -1):
                await tx.execute(
                    "UPDATE emails SET delivery = $2 WHERE id = $1", email["id"], event.event
                )
            suppressed = False
            if event.suppresses and email["kind"] == "confirmation":
                address = email["visitor"] or event.recipient
                if address:
                    await _suppress(tx, address, event, received)
                    suppressed = True
            return RecordResult(Recorded.RECORDED, email["kind"], email["id"], suppressed)

        return await self._run(record, write=True)

    async def events_of(self, email_ids: Sequence[str]) -> dict[str, list[EventRecord]]:
        """The stored events of these emails, oldest first, by email id."""
        if not email_ids:
            return {}
        placeholders = ", ".join(f"${n}" for n in range(1, len(email_ids) + 1))
        rows = await self._fetch(
            "SELECT email_id, provider, event, bounce, reason, occurred_at FROM email_events"  # noqa: S608 - placeholders only
            f" WHERE email_id IN ({placeholders})"
            " ORDER BY email_id, received_at, occurred_at",
            *email_ids,
        )
        found: dict[str, list[EventRecord]] = {}
        for row in rows:
            found.setdefault(row["email_id"], []).append(
                EventRecord(
                    email_id=row["email_id"],
                    provider=row["provider"],
                    event=row["event"],
                    bounce=row["bounce"],
                    reason=row["reason"],
                    occurred_at=_when(row["occurred_at"]),
                )
            )
        return found

    async def is_suppressed(self, address: str) -> bool:
        """True when ``address`` hard-bounced or complained before."""
        return bool(await self._fetch(_SUPPRESSED, address_hash(address)))

    async def list_suppressions(self, *, limit: int = 100, offset: int = 0) -> list[Suppression]:
        """Suppressed addresses, newest first (masked; the address itself is not kept)."""
        rows = await self._fetch(
            "SELECT address_hash, masked, reason, provider, detail, created_at FROM suppressions"
            " ORDER BY created_at DESC, address_hash LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        return [
            Suppression(
                address_hash=row["address_hash"],
                masked=row["masked"],
                reason=row["reason"],
                provider=row["provider"],
                detail=row["detail"],
                created_at=_when(row["created_at"]),
            )
            for row in rows
        ]

    async def remove_suppression(self, address: str) -> bool:
        """Forget ``address``: confirmations go to it again. ``False`` if it was not listed."""
        return await self.remove_suppressed_hash(address_hash(address))

    async def remove_suppressed_hash(self, hashed: str) -> bool:
        """Forget the address whose :func:`address_hash` is ``hashed`` (the list shows no more)."""

        async def remove(tx: Transaction) -> int:
            return await tx.execute("DELETE FROM suppressions WHERE address_hash = $1", hashed)

        return await self._run(remove, write=True) == 1

    async def owner_alarm(self) -> OwnerAlarm | None:
        """The latest event on an owner notification, when it is a recent bounce or complaint."""
        rows = await self._fetch(
            "SELECT ev.event, ev.reason, ev.provider, ev.occurred_at, ev.received_at"
            " FROM email_events AS ev"
            " JOIN emails ON emails.id = ev.email_id WHERE emails.kind = 'notification'"
            " AND ev.event IN ('delivered', 'bounced', 'complained')"
            " ORDER BY ev.received_at DESC LIMIT 1"
        )
        if not rows or rows[0]["event"] == "delivered":
            return None
        row = rows[0]
        if _when(row["received_at"]) < self.clock() - ALARM_WINDOW:
            return None
        return OwnerAlarm(row["event"], row["reason"], row["provider"], _when(row["occurred_at"]))


async def _match(tx: Transaction, event: DeliveryEvent) -> Row | None:
    """The email ``event`` is about: by outbox id, else by the provider's or our message id."""
    select = (
        "SELECT emails.id, emails.kind, emails.delivery, submissions.email AS visitor"
        " FROM emails JOIN submissions ON submissions.id = emails.submission_id WHERE "
    )
    if event.outbox_id:
        rows = await tx.fetch(select + "emails.id = $1", event.outbox_id)
        if rows:
            return rows[0]
    if event.provider_message_id:
        bare = event.provider_message_id.strip().strip("<>")
        rows = await tx.fetch(
            select + "(emails.provider = $1 AND emails.provider_message_id IN ($2, $3))"
            " OR emails.message_id = $3 LIMIT 1",
            event.provider,
            bare,
            f"<{bare}>",
        )
        if rows:
            return rows[0]
    return None


async def _append(tx: Transaction, email_id: str, event: DeliveryEvent, received: datetime) -> bool:
    """Store ``event`` unless ``(provider, event_id)`` is already there; ``False`` if it was.

    ON CONFLICT rather than a look first: two deliveries of one event racing
    each other (a provider retrying while the first is still being recorded)
    then record it once and both succeed, on SQLite and PostgreSQL alike.
    """
    added = await tx.execute(
        "INSERT INTO email_events (provider, event_id, email_id, event, bounce, reason,"
        " occurred_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (provider, event_id) DO NOTHING",
        event.provider,
        event.event_id,
        email_id,
        event.event,
        event.bounce,
        event.reason[:_REASON_LIMIT] or None,
        event.occurred_at,
        received,
    )
    if added != 1:
        return False
    # Bounded history: keep the newest EVENTS_KEPT of this email.
    await tx.execute(
        "DELETE FROM email_events WHERE email_id = $1 AND event_id NOT IN ("
        " SELECT event_id FROM email_events WHERE email_id = $1"
        " ORDER BY received_at DESC, occurred_at DESC LIMIT $2)",
        email_id,
        EVENTS_KEPT,
    )
    return True


async def _suppress(tx: Transaction, address: str, event: DeliveryEvent, now: datetime) -> None:
    key = address_hash(address)
    if await tx.fetch("SELECT 1 AS found FROM suppressions WHERE address_hash = $1", key):
        return
    await tx.execute(
        "INSERT INTO suppressions (address_hash, masked, reason, provider, detail, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        key,
        mask_email(address),
        event.event,
        event.provider,
        event.reason[:_REASON_LIMIT] or None,
        now,
    )
