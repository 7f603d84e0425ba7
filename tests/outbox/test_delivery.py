"""Delivery events and suppressions in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from outbox_doubles import VISITOR, FakeClock, Submit

from service.outbox import EmailRecord, Store
from service.outbox.delivery import EVENTS_KEPT, DeliveryEvent, Recorded


async def sent_emails(store: Store, submit: Submit, clock: FakeClock) -> dict[str, EmailRecord]:
    """One submission whose two emails were sent through ``resend``, by kind."""
    submission_id = await submit()
    for _ in range(2):  # the confirmation waits for the notification
        for claim in await store.claim_due("w1", 10, 60):
            await store.mark_sent(claim, provider="resend", provider_message_id=f"re-{claim.kind}")
    emails = await store.emails_of([submission_id])
    return {email.kind: email for email in emails}


def event(name: str, *, event_id: str = "ev-1", **fields: Any) -> DeliveryEvent:
    """A ``resend`` event a minute after the submission."""
    return DeliveryEvent(
        provider="resend",
        event_id=event_id,
        event=name,  # type: ignore[arg-type] - the tests pass normalised names
        occurred_at=datetime(2026, 1, 1, 12, 1, tzinfo=UTC),
        **fields,
    )


async def test_an_event_matches_by_provider_message_id_and_sets_delivery(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    emails = await sent_emails(store, submit, clock)
    result = await store.record_event(event("delivered", provider_message_id="re-confirmation"))
    assert result.outcome is Recorded.RECORDED
    assert result.kind == "confirmation"
    record = await store.get_email(emails["confirmation"].id)
    assert record is not None
    assert record.delivery == "delivered"
    events = await store.events_of([record.id])
    assert [(e.provider, e.event) for e in events[record.id]] == [("resend", "delivered")]


async def test_an_event_matches_by_outbox_id_first(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    emails = await sent_emails(store, submit, clock)
    notification = emails["notification"].id
    result = await store.record_event(
        event("deferred", outbox_id=notification, provider_message_id="unknown")
    )
    assert (result.outcome, result.email_id) == (Recorded.RECORDED, notification)


async def test_the_same_event_twice_is_recorded_once(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    emails = await sent_emails(store, submit, clock)
    first = event("delivered", provider_message_id="re-notification")
    assert (await store.record_event(first)).outcome is Recorded.RECORDED
    assert (await store.record_event(first)).outcome is Recorded.DUPLICATE
    events = await store.events_of([emails["notification"].id])
    assert len(events[emails["notification"].id]) == 1


async def test_an_unmatched_event_is_not_stored(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    emails = await sent_emails(store, submit, clock)
    result = await store.record_event(event("bounced", provider_message_id="nobody", bounce="hard"))
    assert result.outcome is Recorded.UNMATCHED
    assert await store.events_of([email.id for email in emails.values()]) == {}
    assert not await store.is_suppressed(VISITOR)


async def test_a_weaker_event_does_not_overwrite_a_stronger_one(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    emails = await sent_emails(store, submit, clock)
    target = "re-confirmation"
    await store.record_event(
        event("bounced", event_id="a", provider_message_id=target, bounce="soft")
    )
    await store.record_event(event("deferred", event_id="b", provider_message_id=target))
    record = await store.get_email(emails["confirmation"].id)
    assert record is not None
    assert record.delivery == "bounced"


async def test_the_event_history_is_bounded(store: Store, submit: Submit, clock: FakeClock) -> None:
    emails = await sent_emails(store, submit, clock)
    for n in range(EVENTS_KEPT + 5):
        clock.advance(seconds=1)
        await store.record_event(
            event("deferred", event_id=f"d{n}", provider_message_id="re-notification")
        )
    kept = (await store.events_of([emails["notification"].id]))[emails["notification"].id]
    assert len(kept) == EVENTS_KEPT


async def test_a_hard_bounce_of_a_confirmation_suppresses_the_visitor(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    await sent_emails(store, submit, clock)
    soft = event("bounced", event_id="s", provider_message_id="re-confirmation", bounce="soft")
    assert not (await store.record_event(soft)).suppressed
    assert not await store.is_suppressed(VISITOR)
    hard = replace(soft, event_id="h", bounce="hard", reason="550 5.1.1 no such user")
    assert (await store.record_event(hard)).suppressed
    assert await store.is_suppressed(VISITOR.upper())
    (listed,) = await store.list_suppressions()
    assert VISITOR not in listed.masked
    assert (listed.reason, listed.provider) == ("bounced", "resend")
    assert await store.remove_suppression(VISITOR)
    assert not await store.is_suppressed(VISITOR)
    assert not await store.remove_suppression(VISITOR)


async def test_a_complaint_suppresses_and_survives_the_purge(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    await sent_emails(store, submit, clock)
    await store.record_event(event("complained", provider_message_id="re-confirmation"))
    clock.advance(days=400)
    purged = await store.purge(retention=timedelta(days=30))
    assert purged.submissions == 1
    assert await store.is_suppressed(VISITOR)


async def test_an_owner_bounce_is_an_alarm_until_a_notification_is_delivered(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    await sent_emails(store, submit, clock)
    assert await store.owner_alarm() is None
    bounce = event(
        "bounced",
        event_id="o1",
        provider_message_id="re-notification",
        bounce="hard",
        reason="mailbox full",
    )
    result = await store.record_event(bounce)
    assert (result.kind, result.suppressed) == ("notification", False)  # owners are not suppressed
    alarm = await store.owner_alarm()
    assert alarm is not None
    assert (alarm.event, alarm.reason) == ("bounced", "mailbox full")
    await sent_emails(store, submit, clock)
    clock.advance(seconds=1)
    await store.record_event(
        event("delivered", event_id="o2", provider_message_id="re-notification")
    )
    assert await store.owner_alarm() is None


async def test_the_same_event_delivered_twice_at_once_is_recorded_once(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    emails = await sent_emails(store, submit, clock)
    same = event("delivered", provider_message_id="re-notification")
    results = await asyncio.gather(*(store.record_event(same) for _ in range(4)))
    assert sorted(result.outcome for result in results) == sorted(
        [Recorded.RECORDED] + [Recorded.DUPLICATE] * 3
    )
    assert len((await store.events_of([emails["notification"].id]))[emails["notification"].id]) == 1
