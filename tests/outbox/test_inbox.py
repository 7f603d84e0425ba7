"""The inbox on SQLite and PostgreSQL: search, badges, export batches, spam marks, erasure."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from outbox_doubles import VISITOR, FakeClock, build_email

from service.outbox import DeliveryWorker, EmailState, Store
from service.outbox.inbox import SPAM_SKIPPED, SubmissionFilter
from service.providers import ProviderChain
from service.submission import Answer, FormInfo, Submission

pytestmark = pytest.mark.asyncio

OTHER = "someone.else@example.net"


async def add(
    store: Store,
    clock: FakeClock,
    *,
    name: str = "Vera Visitor",
    email: str = VISITOR,
    message: str = "Hello",
    company: str | None = None,
    form: str = "contact",
    answers: tuple[Answer, ...] = (),
    key: str | None = None,
) -> str:
    """Store a submission with a notification and a confirmation, a minute after the last."""
    clock.advance(minutes=1)
    submission = Submission(
        name=name,
        email=email,
        message=message,
        company=company,
        form=FormInfo(id=form, title=form),
        answers=answers,
    )
    emails = [build_email("notification"), build_email("confirmation")]
    options = {"idempotency_key": key, "request_hash": "h"} if key else {}
    result = await store.add_submission(submission, emails, **options)
    return result.submission_id


async def ids(store: Store, **wanted: object) -> list[str]:
    entries = await store.search_submissions(SubmissionFilter(**wanted))  # type: ignore[arg-type]
    return [entry.submission.id for entry in entries]


async def test_search_matches_every_text_case_insensitively_and_literally(
    store: Store, clock: FakeClock
) -> None:
    by_name = await add(store, clock, name="Zoë Ángel")
    by_company = await add(store, clock, company="Initech_Labs")
    by_message = await add(store, clock, message="First line\nwe need 100% uptime")
    by_field = await add(
        store, clock, form="careers", answers=(Answer("position", "Position", "text", "Welder"),)
    )
    by_email = await add(store, clock, email="Pat@Example.COM")

    # Case folds beyond ASCII on both databases.
    assert await ids(store, search="zoë") == [by_name]
    assert await ids(store, search="ZOË ÁNGEL") == [by_name]
    assert await ids(store, search="initech_") == [by_company]
    # The wildcards are literal: "_" does not match any character, "%" no run of them.
    assert await ids(store, search="initech-") == []
    assert await ids(store, search="100%") == [by_message]
    assert await ids(store, search="0% up") == [by_message]
    assert await ids(store, search="WELDER") == [by_field]
    assert await ids(store, search="pat@example.com") == [by_email]
    assert await ids(store, search="nobody") == []
    newest_first = [by_email, by_field, by_message, by_company, by_name]
    assert await ids(store) == newest_first
    assert await ids(store, form="careers") == [by_field]


async def test_date_range_is_inclusive_then_exclusive(store: Store, clock: FakeClock) -> None:
    first = await add(store, clock)
    start = clock.now
    second = await add(store, clock)
    end = clock.now
    third = await add(store, clock)

    assert await ids(store, since=start) == [third, second, first]
    assert await ids(store, since=start + timedelta(seconds=1)) == [third, second]
    assert await ids(store, since=start, until=end) == [first]
    assert await ids(store, until=end) == [first]
    assert await ids(store, since=end) == [third, second]


async def test_badges_and_the_state_filter(store: Store, clock: FakeClock) -> None:
    pending = await add(store, clock)
    delivered = await add(store, clock)
    dead = await add(store, clock)
    spam = await add(store, clock)
    # Notifications first, then confirmations: each claim round settles what it got.
    for _ in range(2):
        for claimed in await store.claim_due("w", 10, 60):
            if claimed.submission_id == dead:
                await store.mark_dead(claimed, error="gave up")
            elif claimed.submission_id == pending:
                later = clock.now + timedelta(hours=1)
                await store.mark_retry(claimed, error="busy", next_attempt_at=later)
            else:
                await store.mark_sent(claimed, provider="file", provider_message_id=None)
    await store.mark_spam(spam)

    entries = await store.search_submissions(SubmissionFilter())
    assert {entry.submission.id: entry.state for entry in entries} == {
        pending: "pending",
        delivered: "delivered",
        dead: "dead",
        spam: "spam",
    }
    for state, expected in [("pending", pending), ("dead", dead), ("spam", spam)]:
        assert await ids(store, state=state) == [expected]
    assert await ids(store, state="bounced") == []
    with pytest.raises(ValueError, match="unknown inbox state"):
        SubmissionFilter(state="lost")


async def test_first_line_is_the_first_non_blank_one(store: Store, clock: FakeClock) -> None:
    await add(store, clock, message="\n  \n  Call me back  \nsecond line")
    [entry] = await store.search_submissions(SubmissionFilter())
    assert entry.first_line == "Call me back"


async def test_export_batches_cover_every_match_once_in_order(
    store: Store, clock: FakeClock
) -> None:
    added = [await add(store, clock, name=f"Lead {n}") for n in range(7)]
    await add(store, clock, form="careers")

    batches = [
        [entry.submission.id for entry in batch]
        async for batch in store.iter_submissions(SubmissionFilter(form="contact"), batch=3)
    ]
    assert [len(batch) for batch in batches] == [3, 3, 1]
    assert [sid for batch in batches for sid in batch] == added[::-1]


async def test_spam_mark_stops_the_confirmation_until_it_is_lifted(
    store: Store, clock: FakeClock
) -> None:
    submission = await add(store, clock)
    marked = await store.mark_spam(submission)
    assert marked is not None
    assert marked.spam

    emails = {email.kind: email for email in await store.emails_of([submission])}
    assert emails["confirmation"].state == EmailState.REJECTED
    assert emails["confirmation"].last_error == SPAM_SKIPPED
    assert emails["notification"].state == EmailState.PENDING
    claimed = await store.claim_due("w", 10, 60)
    assert [email.kind for email in claimed] == ["notification"]
    # The operator cannot re-queue it while the mark stands...
    assert not await store.requeue(emails["confirmation"].id)
    assert await store.requeue_dead() == 0
    # ...and can once it is lifted.
    lifted = await store.mark_spam(submission, spam=False)
    assert lifted is not None
    assert not lifted.spam
    assert await store.requeue(emails["confirmation"].id)
    assert await store.mark_spam("0b7e6c1c-0000-4000-8000-000000000000") is None


async def test_erasing_a_person_leaves_nothing_of_them_and_everything_else(
    store: Store, clock: FakeClock
) -> None:
    theirs = [
        await add(store, clock, key="k1"),
        await add(store, clock, email=VISITOR.upper()),
    ]
    kept = await add(store, clock, email=OTHER, key="k2")

    erased = await store.erase_person(f" {VISITOR.title()} ")

    assert (erased.submissions, erased.emails, erased.idempotency_keys) == (2, 4, 1)
    for submission in theirs:
        assert await store.get_submission(submission) is None
    assert await store.emails_of(theirs) == []
    assert await ids(store, search="visitor.private") == []
    assert await ids(store) == [kept]
    assert len(await store.emails_of([kept])) == 2
    # The idempotency record went with the submission: the key is free again.
    again = await add(store, clock, key="k1")
    assert await store.get_submission(again) is not None
    nothing = await store.erase_person("nobody@example.org")
    assert (nothing.submissions, nothing.emails, nothing.events, nothing.idempotency_keys) == (
        0,
        0,
        0,
        0,
    )


async def test_the_worker_skips_a_confirmation_marked_as_spam_while_it_was_leased(
    store: Store, clock: FakeClock, file_chain: ProviderChain, tmp_path: Path
) -> None:
    submission = await add(store, clock)
    worker = DeliveryWorker(store, file_chain, worker_id="w1", clock=clock)
    (notification,) = await worker.run_once()
    # Another worker leased the confirmation and died; the mark comes meanwhile.
    (leased,) = await store.claim_due("dead-worker", 10, 60)
    await store.mark_spam(submission)
    clock.advance(seconds=61)

    (skipped,) = await worker.run_once()

    assert (notification.kind, notification.state) == ("notification", EmailState.SENT)
    assert (skipped.kind, skipped.state, skipped.recorded) == (
        "confirmation",
        EmailState.REJECTED,
        True,
    )
    record = await store.get_email(leased.id)
    assert record is not None
    assert (record.state, record.last_error) == (EmailState.REJECTED, SPAM_SKIPPED)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
