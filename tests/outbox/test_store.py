"""The store behaviour suite: every test runs against SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from outbox_doubles import SECRET_BODY, VISITOR, FakeClock, Submit, build_email

from service.outbox import (
    EmailState,
    IdempotencyConflict,
    Store,
    open_store,
)
from service.outbox.migrations import MIGRATIONS
from service.submission import Submission

LEASE = 60.0


async def claim_one(store: Store, worker: str = "w1", **options: Any):
    claims = await store.claim_due(worker, 10, LEASE, **options)
    assert len(claims) == 1, [claim.kind for claim in claims]
    return claims[0]


async def deliver_all(store: Store) -> None:
    while claims := await store.claim_due("w1", 10, LEASE):
        for claim in claims:
            assert await store.mark_sent(claim, provider="file", provider_message_id="m")


async def test_a_stored_email_comes_back_exactly_as_rendered(store: Store) -> None:
    notification = build_email("notification")
    submission = Submission(name="Vera", email=VISITOR, message=SECRET_BODY)
    result = await store.add_submission(submission, [notification])

    claim = await claim_one(store)

    assert result.submission_id == submission.id
    assert not result.replayed
    assert claim.submission_id == submission.id
    assert (claim.kind, claim.seq, claim.attempts) == ("notification", 0, 1)
    assert claim.message_id == notification.message_id
    # The same email, carrying its outbox id for the provider's metadata.
    assert claim.to_email() == replace(notification, outbox_id=claim.id)


async def test_submission_and_emails_are_stored_together_or_not_at_all(store: Store) -> None:
    unstorable = build_email("confirmation", headers={"X-Broken": object()})
    with pytest.raises(TypeError):
        await store.add_submission(
            Submission(name="Vera", email=VISITOR, message="hi"),
            [build_email("notification"), unstorable],
        )
    assert await store.list_submissions() == []
    assert await store.list_emails() == []


async def test_claimed_email_is_leased_to_its_worker(store: Store, submit: Submit) -> None:
    await submit()
    claim = await claim_one(store, "worker-a")

    record = await store.get_email(claim.id)
    assert record is not None
    assert record.state is EmailState.SENDING
    assert record.claimed_by == "worker-a"
    assert record.lease_until == store.clock() + timedelta(seconds=LEASE)
    assert await store.claim_due("worker-b", 10, LEASE) == []


async def test_confirmation_waits_until_the_notification_is_sent(
    store: Store, submit: Submit
) -> None:
    await submit()
    notification = await claim_one(store)
    assert notification.kind == "notification"
    assert await store.claim_due("w1", 10, LEASE) == []

    assert await store.mark_sent(notification, provider="file", provider_message_id="m1")

    confirmation = await claim_one(store)
    assert confirmation.kind == "confirmation"
    assert confirmation.seq == 1


async def test_confirmation_waits_while_the_notification_is_retrying(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    await submit()
    notification = await claim_one(store)
    await store.mark_retry(
        notification, error="down", next_attempt_at=clock.now + timedelta(seconds=30)
    )

    clock.advance(seconds=29)
    assert await store.claim_due("w1", 10, LEASE) == []
    clock.advance(seconds=1)
    again = await claim_one(store)
    assert (again.kind, again.attempts) == ("notification", 2)


async def test_a_rejected_notification_does_not_hold_back_the_confirmation(
    store: Store, submit: Submit
) -> None:
    await submit()
    notification = await claim_one(store)
    assert await store.mark_rejected(notification, error="550 no such user")

    assert (await claim_one(store)).kind == "confirmation"


async def test_submissions_do_not_wait_for_each_other(store: Store, submit: Submit) -> None:
    await submit()
    await submit()
    claims = await store.claim_due("w1", 10, LEASE)
    assert sorted(claim.kind for claim in claims) == ["notification", "notification"]


async def test_claim_limit_and_due_order(store: Store, submit: Submit, clock: FakeClock) -> None:
    first = await submit(emails=[build_email("notification")])
    clock.advance(seconds=1)
    second = await submit(emails=[build_email("notification")])

    claims = await store.claim_due("w1", 1, LEASE)
    assert [claim.submission_id for claim in claims] == [first]
    claims = await store.claim_due("w1", 1, LEASE)
    assert [claim.submission_id for claim in claims] == [second]
    assert await store.claim_due("w1", 0, LEASE) == []


async def test_expired_lease_is_taken_over_and_fences_the_old_holder(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    await submit()
    stale = await claim_one(store, "worker-a")

    clock.advance(seconds=LEASE - 1)
    assert await store.claim_due("worker-b", 10, LEASE) == []
    clock.advance(seconds=1)
    fresh = await claim_one(store, "worker-b")
    assert fresh.id == stale.id
    assert fresh.attempts == stale.attempts + 1

    assert not await store.mark_sent(stale, provider="late", provider_message_id="x")
    assert not await store.mark_retry(stale, error="x", next_attempt_at=clock.now)
    assert not await store.mark_rejected(stale, error="x")
    assert not await store.mark_dead(stale, error="x")
    assert await store.mark_sent(fresh, provider="file", provider_message_id="m2")

    record = await store.get_email(fresh.id)
    assert record is not None
    assert (record.state, record.provider, record.claimed_by) == (
        EmailState.SENT,
        "file",
        "worker-b",
    )


async def test_an_overrun_lease_still_records_if_nobody_took_over(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    await submit()
    claim = await claim_one(store)
    clock.advance(seconds=LEASE * 3)

    assert await store.mark_sent(claim, provider="file", provider_message_id="m1")
    assert not await store.mark_sent(claim, provider="file", provider_message_id="m1")


async def test_outcomes_are_recorded(store: Store, submit: Submit, clock: FakeClock) -> None:
    await submit(emails=[build_email("notification")])
    await submit(emails=[build_email("notification")])
    await submit(emails=[build_email("notification")])
    sent, retry, dead = await store.claim_due("w1", 10, LEASE)
    clock.advance(seconds=2)
    later = clock.now + timedelta(seconds=20)

    assert await store.mark_sent(sent, provider="smtp", provider_message_id="<id@smtp>")
    assert await store.mark_retry(retry, error="all providers failed", next_attempt_at=later)
    assert await store.mark_dead(dead, error="too old")

    sent_record = await store.get_email(sent.id)
    retry_record = await store.get_email(retry.id)
    dead_record = await store.get_email(dead.id)
    assert sent_record is not None
    assert retry_record is not None
    assert dead_record is not None
    assert sent_record.state is EmailState.SENT
    assert (sent_record.provider, sent_record.provider_message_id) == ("smtp", "<id@smtp>")
    assert sent_record.sent_at == clock.now
    assert sent_record.lease_until is None
    assert retry_record.state is EmailState.RETRYING
    assert (retry_record.last_error, retry_record.next_attempt_at) == (
        "all providers failed",
        later,
    )
    assert (dead_record.state, dead_record.last_error) == (EmailState.DEAD, "too old")
    assert dead_record.next_attempt_at is None


async def test_idempotent_replay_returns_the_first_answer_and_stores_nothing(
    store: Store, submit: Submit
) -> None:
    first_id = await submit(idempotency_key="k-1", request_hash="h", response={"ok": True})
    replay = await store.add_submission(
        Submission(name="Vera", email=VISITOR, message=SECRET_BODY),
        [build_email("notification"), build_email("confirmation")],
        idempotency_key="k-1",
        request_hash="h",
        response={"ok": "second"},
    )

    assert replay.replayed
    assert replay.submission_id == first_id
    assert replay.response == {"ok": True}
    assert [s.id for s in await store.list_submissions()] == [first_id]
    assert len(await store.list_emails()) == 2


async def test_same_key_with_another_body_conflicts(store: Store, submit: Submit) -> None:
    first_id = await submit(idempotency_key="k-1", request_hash="h1")
    with pytest.raises(IdempotencyConflict) as caught:
        await submit(idempotency_key="k-1", request_hash="h2")
    assert caught.value.submission_id == first_id
    assert len(await store.list_submissions()) == 1
    assert len(await store.list_emails()) == 2


async def test_idempotency_keys_expire_after_24_hours(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    first_id = await submit(idempotency_key="k-1", request_hash="h1")
    clock.advance(hours=23, minutes=59)
    with pytest.raises(IdempotencyConflict):
        await submit(idempotency_key="k-1", request_hash="h2")

    clock.advance(minutes=1)
    second_id = await submit(idempotency_key="k-1", request_hash="h2")
    assert second_id != first_id
    replay = await store.add_submission(
        Submission(name="V", email=VISITOR, message="m"),
        [],
        idempotency_key="k-1",
        request_hash="h2",
    )
    assert (replay.replayed, replay.submission_id) == (True, second_id)


async def test_idempotency_key_needs_a_request_hash(store: Store, submit: Submit) -> None:
    with pytest.raises(ValueError, match="request_hash"):
        await submit(idempotency_key="k-1")


async def test_requeue_brings_dead_and_rejected_back_with_a_fresh_age(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    for _ in range(3):
        await submit(emails=[build_email("notification")])
    dead, rejected, sent = await store.claim_due("w1", 10, LEASE)
    await store.mark_dead(dead, error="too old")
    await store.mark_rejected(rejected, error="550")
    await store.mark_sent(sent, provider="file", provider_message_id="m")
    clock.advance(hours=100)

    assert await store.requeue(dead.id)
    assert not await store.requeue(dead.id)
    assert not await store.requeue(sent.id)
    assert not await store.requeue("no-such-id")
    assert await store.requeue_dead(states=[EmailState.DEAD]) == 0
    assert await store.requeue_dead() == 1

    for email_id in (dead.id, rejected.id):
        record = await store.get_email(email_id)
        assert record is not None
        assert (record.state, record.queued_at, record.next_attempt_at) == (
            EmailState.PENDING,
            clock.now,
            clock.now,
        )
    assert {claim.id for claim in await store.claim_due("w1", 10, LEASE)} == {
        dead.id,
        rejected.id,
    }


async def test_only_dead_and_rejected_can_be_requeued_in_bulk(store: Store) -> None:
    with pytest.raises(ValueError, match="dead and rejected"):
        await store.requeue_dead(states=[EmailState.SENT])


async def test_stats_count_states_and_age_the_oldest_unsent(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    empty = await store.stats()
    assert (empty.depth, empty.oldest_unsent_age) == (0, None)

    await submit()
    clock.advance(seconds=30)
    await submit()
    claim = (await store.claim_due("w1", 1, LEASE))[0]
    await store.mark_sent(claim, provider="file", provider_message_id="m")
    clock.advance(seconds=10)

    stats = await store.stats()
    assert stats.counts[EmailState.SENT] == 1
    assert stats.counts[EmailState.PENDING] == 3
    assert stats.counts[EmailState.DEAD] == 0
    assert stats.depth == 3
    assert stats.oldest_unsent_age == pytest.approx(40.0)


async def test_listing_filters_and_pages(store: Store, submit: Submit, clock: FakeClock) -> None:
    ids = []
    for _ in range(3):
        ids.append(await submit())
        clock.advance(seconds=1)
    claim = (await store.claim_due("w1", 1, LEASE))[0]
    await store.mark_sent(claim, provider="file", provider_message_id="m")

    submissions = await store.list_submissions(limit=2)
    assert [s.id for s in submissions] == [ids[2], ids[1]]
    assert [s.id for s in await store.list_submissions(limit=2, offset=2)] == [ids[0]]
    assert submissions[0].email == VISITOR
    assert submissions[0].message == SECRET_BODY

    assert len(await store.list_emails()) == 6
    assert [e.id for e in await store.list_emails(state=EmailState.SENT)] == [claim.id]
    pending = await store.list_emails(state=EmailState.PENDING, limit=10)
    assert len(pending) == 5
    assert pending[0].submission_id == ids[2]


async def test_emails_of_submissions_come_grouped_in_sending_order(
    store: Store, submit: Submit
) -> None:
    first, second, other = await submit(), await submit(), await submit()

    emails = await store.emails_of([second, first])

    assert sorted({email.submission_id for email in emails}) == sorted([first, second])
    assert other not in {email.submission_id for email in emails}
    for submission_id in (first, second):
        kinds = [email.kind for email in emails if email.submission_id == submission_id]
        assert kinds == ["notification", "confirmation"]
    groups = [email.submission_id for email in emails]
    assert groups == sorted(groups)
    assert await store.emails_of([]) == []
    assert await store.emails_of(["no-such-submission"]) == []
    assert len(await store.list_emails(limit=4, offset=4)) == 2
    assert await store.get_email("missing") is None
    assert await store.get_submission("missing") is None


async def test_purge_forgets_personal_data_after_retention(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    retention = timedelta(days=30)
    stuck = await submit()
    waiting = await claim_one(store)
    await store.mark_retry(waiting, error="down", next_attempt_at=clock.now + timedelta(days=99))
    old = await submit(idempotency_key="k-old", request_hash="h")
    await deliver_all(store)
    clock.advance(days=20)
    recent = await submit()
    await deliver_all(store)
    clock.advance(days=10, seconds=1)

    result = await store.purge(retention=retention)

    assert (result.emails, result.submissions, result.idempotency_keys) == (2, 1, 1)
    gone = await store.get_submission(old)
    assert gone is not None
    assert (gone.name, gone.email, gone.message, gone.fields) == (None, None, None, None)
    assert gone.purged_at == clock.now
    old_emails = [e for e in await store.list_emails() if e.submission_id == old]
    assert all(e.purged and e.state is EmailState.SENT for e in old_emails)
    # Undelivered and recent submissions keep everything.
    for kept in (stuck, recent):
        record = await store.get_submission(kept)
        assert record is not None
        assert record.email == VISITOR
    assert not any(e.purged for e in await store.list_emails() if e.submission_id != old)
    again = await store.purge(retention=retention)
    assert (again.emails, again.submissions, again.idempotency_keys) == (0, 0, 0)


async def test_purge_also_forgets_long_dead_emails_which_then_cannot_be_requeued(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    sid = await submit(emails=[build_email("notification")])
    claim = await claim_one(store)
    await store.mark_dead(claim, error=f"550 {VISITOR} unknown")
    clock.advance(days=31)

    result = await store.purge(retention=timedelta(days=30))

    assert (result.emails, result.submissions) == (1, 1)
    record = await store.get_email(claim.id)
    assert record is not None
    assert record.purged
    assert record.last_error is None
    assert not await store.requeue(claim.id)
    assert await store.requeue_dead() == 0
    submission = await store.get_submission(sid)
    assert submission is not None
    assert submission.email is None


async def test_the_visitor_s_language_is_kept_and_outlives_the_purge(
    store: Store, clock: FakeClock
) -> None:
    dutch = Submission(name="Vera", email=VISITOR, message=SECRET_BODY, locale="nl")
    english = Submission(name="Olaf", email=VISITOR, message=SECRET_BODY)
    await store.add_submission(dutch, [])
    await store.add_submission(english, [])
    stored = await store.get_submission(dutch.id)
    assert stored is not None
    assert stored.locale == "nl"
    listed = {record.id: record.locale for record in await store.list_submissions()}
    assert listed == {dutch.id: "nl", english.id: "en"}

    clock.advance(days=31)
    await store.purge(retention=timedelta(days=30))
    purged = await store.get_submission(dutch.id)
    assert purged is not None
    assert (purged.name, purged.message, purged.locale) == (None, None, "nl")


async def test_submissions_stored_before_the_language_column_have_none(
    database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_only = MIGRATIONS[:1]
    monkeypatch.setattr("service.outbox.store.MIGRATIONS", first_only)
    async with open_store(database_url, clock=clock) as old:
        await old._run(
            lambda tx: tx.execute(
                "INSERT INTO submissions (id, created_at, name, email, company, message, extra)"
                " VALUES ('before', $1, 'Vera', $2, '', 'hi', '{}')",
                clock(),
                VISITOR,
            ),
            write=True,
        )
    monkeypatch.setattr("service.outbox.store.MIGRATIONS", MIGRATIONS)
    async with open_store(database_url, clock=clock) as upgraded:
        assert await upgraded.schema_version() == MIGRATIONS[-1].version
        before = await upgraded.get_submission("before")
    assert before is not None
    assert (before.name, before.locale) == ("Vera", None)


async def test_an_ended_admin_session_is_refused_until_it_would_have_expired(
    store: Store, clock: FakeClock
) -> None:
    until = clock.now + timedelta(hours=8)
    assert not await store.session_ended("session-a")
    await store.end_session("session-a", until)
    await store.end_session("session-a", until)  # a second sign-out of the same id is no error
    assert await store.session_ended("session-a")
    assert not await store.session_ended("session-b")
    clock.advance(hours=8, seconds=1)
    assert not await store.session_ended("session-a")
    await store.end_session("session-b", clock.now + timedelta(hours=8))  # prunes session-a
    rows = await store._fetch("SELECT id_hash FROM admin_sessions_ended")
    assert len(rows) == 1
    assert "session-b" not in rows[0]["id_hash"]  # stored as a hash
