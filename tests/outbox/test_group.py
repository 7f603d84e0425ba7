"""Group commit: concurrent writes share a transaction, each keeps its own fate.

Every test runs against SQLite and (when configured) PostgreSQL, and checks
durability through a second store opened on the same database: what a caller
was told is stored is there for another connection too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from outbox_doubles import VISITOR, FakeClock, build_email

from service.outbox import (
    AddResult,
    EmailState,
    IdempotencyConflict,
    Store,
    open_store,
)
from service.outbox.transaction import Transaction
from service.submission import Submission


def new_submission(name: str) -> Submission:
    return Submission(name=name, email=VISITOR, message=f"message of {name}")


def add(store: Store, name: str, **options: Any) -> asyncio.Task[AddResult]:
    return asyncio.create_task(
        store.add_submission(
            new_submission(name),
            [build_email("notification"), build_email("confirmation")],
            **options,
        )
    )


async def stored_names(database_url: str, clock: FakeClock) -> list[str]:
    async with open_store(database_url, clock=clock) as other:
        return sorted(str(each.name) for each in await other.list_submissions(limit=1000))


async def test_concurrent_submissions_share_commits_and_are_all_durable(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    before = (store.group.batches, store.group.writes)
    names = [f"visitor {number:02}" for number in range(40)]

    results = await asyncio.gather(*(add(store, name) for name in names))

    batches = store.group.batches - before[0]
    assert store.group.writes - before[1] == len(names)
    assert 1 <= batches < len(names)
    assert [result.replayed for result in results] == [False] * len(names)
    assert await stored_names(database_url, clock) == names
    async with open_store(database_url, clock=clock) as other:
        assert len(await other.list_emails(limit=1000)) == 2 * len(names)


async def test_a_failing_write_is_rolled_back_alone_and_the_others_are_stored(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    first = await add(store, "first", idempotency_key="k-1", request_hash="h1", response={"n": 1})
    before = store.group.batches
    # Fails after its submission row is written: the second email cannot be stored.
    broken = asyncio.create_task(
        store.add_submission(
            new_submission("broken"),
            [build_email("notification"), build_email("confirmation", headers={"X": object()})],
        )
    )
    tasks = [
        add(store, "kept 1"),
        broken,
        add(store, "conflict", idempotency_key="k-1", request_hash="h2"),
        add(store, "replay", idempotency_key="k-1", request_hash="h1"),
        add(store, "kept 2", idempotency_key="k-2", request_hash="h3"),
    ]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    # Queued in one turn of the event loop, the five writes shared one transaction.
    assert store.group.batches - before == 1
    kept_1, failed, conflict, replay, kept_2 = outcomes
    assert isinstance(kept_1, AddResult)
    assert not kept_1.replayed
    assert isinstance(failed, TypeError)
    assert isinstance(conflict, IdempotencyConflict)
    assert conflict.submission_id == first.submission_id
    assert isinstance(replay, AddResult)
    assert (replay.replayed, replay.submission_id, replay.response) == (
        True,
        first.submission_id,
        {"n": 1},
    )
    assert isinstance(kept_2, AddResult)
    assert not kept_2.replayed
    assert await stored_names(database_url, clock) == ["first", "kept 1", "kept 2"]
    async with open_store(database_url, clock=clock) as other:
        emails = await other.list_emails(limit=100)
    assert sorted({email.submission_id for email in emails}) == sorted(
        [first.submission_id, kept_1.submission_id, kept_2.submission_id]
    )
    assert len(emails) == 6


async def test_when_the_commit_fails_every_write_of_the_batch_fails(
    store: Store, database_url: str, clock: FakeClock
) -> None:

    async def make_breaker(tx: Transaction) -> None:
        await tx.execute("CREATE TABLE commit_parent (id INTEGER PRIMARY KEY)")
        await tx.execute(
            "CREATE TABLE commit_breaker (parent INTEGER"
            " REFERENCES commit_parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )

    async def break_the_commit(tx: Transaction) -> None:
        # A deferred foreign key is checked at COMMIT, after every savepoint was released.
        await tx.execute("INSERT INTO commit_breaker (parent) VALUES (1)")

    await store._run(make_breaker, write=True)
    before = store.group.batches
    outcomes = await asyncio.gather(
        add(store, "lost 1"),
        store.group.run(break_the_commit),
        add(store, "lost 2"),
        return_exceptions=True,
    )

    assert store.group.batches - before == 1
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert len({type(outcome) for outcome in outcomes}) == 1
    assert await stored_names(database_url, clock) == []
    # The connection is usable afterwards.
    await add(store, "later")
    assert await stored_names(database_url, clock) == ["later"]


async def test_concurrent_claims_and_outcomes_share_commits(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    await asyncio.gather(*(add(store, f"visitor {number}") for number in range(10)))
    claims = await store.claim_due("w1", 100, 60)
    assert len(claims) == 10  # the notifications; each confirmation waits for its own
    before = (store.group.batches, store.group.writes)

    recorded = await asyncio.gather(
        *(store.mark_sent(claim, provider="p", provider_message_id=claim.id) for claim in claims),
        store.claim_due("w2", 100, 60),
    )

    assert store.group.writes - before[1] == len(claims) + 1
    assert store.group.batches - before[0] < len(claims) + 1
    assert recorded[:-1] == [True] * len(claims)
    async with open_store(database_url, clock=clock) as other:
        sent = await other.list_emails(state=EmailState.SENT, limit=100)
    assert sorted(email.provider_message_id or "" for email in sent) == sorted(
        claim.id for claim in claims
    )


async def test_a_caller_cancelled_while_queued_leaves_nothing_behind(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    first = add(store, "first")
    await asyncio.sleep(0)  # "first" is queued and its batch is being written
    second = add(store, "cancelled")
    await asyncio.sleep(0)  # "cancelled" waits in the queue for the next batch
    second.cancel()

    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await store.group.drain()
    assert await stored_names(database_url, clock) == ["first"]


async def sent_in_another_connection(database_url: str, clock: FakeClock) -> set[str]:
    async with open_store(database_url, clock=clock) as other:
        return {email.id for email in await other.list_emails(state=EmailState.SENT, limit=100)}


async def test_a_deferred_write_waits_for_the_next_write_and_shares_its_commit(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    await asyncio.gather(*(add(store, f"visitor {number}") for number in range(2)))
    first, second = await store.claim_due("w1", 10, 60)
    store.group.defer_seconds = 60.0
    before = store.group.batches

    deferred = asyncio.create_task(
        store.mark_sent(first, provider="p", provider_message_id="1", defer=True)
    )
    for _ in range(20):
        await asyncio.sleep(0)
    assert not deferred.done()
    assert store.group.batches == before
    assert await sent_in_another_connection(database_url, clock) == set()

    assert await store.mark_sent(second, provider="p", provider_message_id="2")
    assert await deferred
    assert store.group.batches - before == 1
    assert await sent_in_another_connection(database_url, clock) == {first.id, second.id}


async def test_a_deferred_write_alone_is_committed_within_defer_seconds(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    await add(store, "visitor")
    (claim,) = await store.claim_due("w1", 10, 60)
    store.group.defer_seconds = 0.02

    async with asyncio.timeout(5):
        assert await store.mark_sent(claim, provider="p", provider_message_id="1", defer=True)
    assert await sent_in_another_connection(database_url, clock) == {claim.id}


async def test_draining_commits_the_deferred_writes(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    await add(store, "visitor")
    (claim,) = await store.claim_due("w1", 10, 60)
    store.group.defer_seconds = 60.0
    deferred = asyncio.create_task(
        store.mark_sent(claim, provider="p", provider_message_id="1", defer=True)
    )
    await asyncio.sleep(0)

    async with asyncio.timeout(5):
        await store.group.drain()
        assert await deferred
    assert await sent_in_another_connection(database_url, clock) == {claim.id}
