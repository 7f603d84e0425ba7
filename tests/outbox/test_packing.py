"""Stored bodies are compressed against a sample of their kind, and always come back exact.

Runs against SQLite and (when configured) PostgreSQL. The sizes are read with
``length(body)``, which both count in bytes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from outbox_doubles import SECRET_BODY, VISITOR, FakeClock, build_email

from service.outbox import DeliveryWorker, EmailState, Store, open_store
from service.outbox.models import dump_json
from service.providers import ProviderChain
from service.submission import Submission

LEASE = 60.0
# A template's worth of markup around the one place a submission goes.
TEMPLATE = "".join(f'<tr><td style="padding:{n}px">row {n}</td></tr>' for n in range(600))


def rendered(text: str) -> str:
    return f"<table>{TEMPLATE}<tr><td>{text}</td></tr>{TEMPLATE[::-1]}</table>"


def new_submission() -> Submission:
    return Submission(name="Vera", email=VISITOR, message=SECRET_BODY)


async def body_sizes(store: Store) -> list[int]:
    rows = await store._fetch("SELECT length(body) AS size FROM emails ORDER BY seq")
    return [row["size"] for row in rows]


async def test_a_body_costs_little_next_to_its_sample_and_any_store_reads_it_back(
    database_url: str, clock: FakeClock
) -> None:
    sample = build_email("notification", html=rendered("Zoë's sample message"))
    email = build_email("notification", html=rendered(SECRET_BODY))
    other = build_email("confirmation", html=rendered("no sample for this kind"))
    assert len(email.html) > 40_000

    async with open_store(database_url, clock=clock, samples={"notification": sample}) as writer:
        await writer.add_submission(new_submission(), [email, other])
        with_sample, alone = await body_sizes(writer)

    assert with_sample < 700
    # Without a sample the body is still compressed, against nothing.
    assert with_sample < alone < len(other.html) / 4
    # A process that was given no samples (a delivery worker) finds the dictionary stored.
    async with open_store(database_url, clock=clock) as reader:
        claims = await reader.claim_due("w1", 10, LEASE)
        assert [claim.to_email() for claim in claims] == [replace(email, outbox_id=claims[0].id)]
        assert await reader.mark_sent(claims[0], provider="file", provider_message_id=None)
        (second,) = await reader.claim_due("w1", 10, LEASE)
        assert second.to_email() == replace(other, outbox_id=second.id)


async def test_an_email_stored_before_bodies_were_compressed_is_still_sent(store: Store) -> None:
    email = build_email("notification")
    await store.add_submission(new_submission(), [email])

    async def as_schema_one(tx) -> None:
        await tx.execute(
            "UPDATE emails SET payload = $1, body = NULL, dictionary_id = NULL",
            dump_json(email.to_dict()),
        )

    await store._run(as_schema_one, write=True)

    (claim,) = await store.claim_due("w1", 10, LEASE)
    assert claim.to_email() == replace(email, outbox_id=claim.id)


async def test_a_damaged_body_fails_its_own_attempt_only(
    store: Store, file_chain: ProviderChain
) -> None:
    damaged = build_email("notification", subject="damaged")
    intact = build_email("notification", subject="intact")
    await store.add_submission(new_submission(), [damaged])
    await store.add_submission(new_submission(), [intact])

    async def damage(tx) -> None:
        await tx.execute(
            "UPDATE emails SET body = $1 WHERE message_id = $2",
            b"\x28\xb5\x2f\xfd",
            damaged.message_id,
        )

    await store._run(damage, write=True)

    deliveries = await DeliveryWorker(store, file_chain, worker_id="w1").run_once()

    outcomes = {delivery.message_id: delivery for delivery in deliveries}
    assert outcomes[intact.message_id].state is EmailState.SENT
    failed = outcomes[damaged.message_id]
    assert failed.state is EmailState.RETRYING
    assert failed.error is not None
    assert failed.error.startswith("unexpected ")


async def test_purge_erases_the_compressed_body(store: Store, clock: FakeClock) -> None:
    await store.add_submission(new_submission(), [build_email("notification")])
    (claim,) = await store.claim_due("w1", 10, LEASE)
    assert await store.mark_sent(claim, provider="file", provider_message_id=None)
    assert await body_sizes(store) != [None]
    clock.advance(days=31)

    result = await store.purge(retention=timedelta(days=30))

    assert result.emails == 1
    assert await body_sizes(store) == [None]
