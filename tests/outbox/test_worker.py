"""The delivery worker against real stores, the real chain and the file provider."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from outbox_doubles import SECRET_BODY, VISITOR, FakeClock, Submit, build_email

from service.config import load_settings
from service.message import Address, OutgoingEmail
from service.outbox import Delivery, DeliveryWorker, EmailState, Store
from service.outbox.backoff import FIRST_RETRY_SECONDS
from service.outbox.delivery import DeliveryEvent
from service.outbox.sends import SHUTDOWN_ERROR, SUPPRESSED_ERROR
from service.providers import (
    MessageRejected,
    ProviderChain,
    ProviderUnavailable,
    SendResult,
    TransientError,
)
from tests.provider_doubles import FakeTime, ScriptedProvider


class Deliveries:
    """Collects the worker's outcomes; tests wait for a count instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[Delivery] = []
        self._changed = asyncio.Event()

    def __call__(self, delivery: Delivery) -> None:
        self.items.append(delivery)
        self._changed.set()

    async def wait_for(self, count: int, within: float = 5.0) -> list[Delivery]:
        async with asyncio.timeout(within):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items


class Explodes:
    """A sender with a bug: not a provider, raises what no provider would."""

    async def send(self, email: OutgoingEmail) -> SendResult:
        raise RuntimeError(f"bug while sending to {email.to[0].addr_spec}")


def states(records: list) -> dict[str, EmailState]:
    return {record.kind: record.state for record in records}


async def test_delivers_notification_then_confirmation_through_the_file_provider(
    store: Store, submit: Submit, file_chain: ProviderChain, tmp_path: Path
) -> None:
    await submit()
    worker = DeliveryWorker(store, file_chain, worker_id="w1")

    first = await worker.run_once()
    second = await worker.run_once()

    assert [d.kind for d in first] == ["notification"]
    assert [d.kind for d in second] == ["confirmation"]
    assert all(d.state is EmailState.SENT and d.recorded for d in first + second)
    assert await worker.run_once() == []
    records = await store.list_emails()
    assert states(records) == {"notification": EmailState.SENT, "confirmation": EmailState.SENT}
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    for record in records:
        assert record.provider == "file"
        written = tmp_path / "mail" / f"{record.provider_message_id}.eml"
        assert f"Message-ID: {record.message_id}".encode() in written.read_bytes()


async def test_outcomes_of_concurrent_sends_share_commits(
    store: Store, submit: Submit, file_chain: ProviderChain
) -> None:
    for _ in range(6):
        await submit(emails=[build_email("notification")])
    # Nothing is committed by the deadline: only the worker's own rule ends a wait.
    store.group.defer_seconds = 60.0
    worker = DeliveryWorker(store, file_chain, worker_id="w1", concurrency=8)
    before = store.group.batches

    async with asyncio.timeout(10):
        delivered = await worker.run_once()

    assert len(delivered) == 6
    assert all(d.state is EmailState.SENT and d.recorded for d in delivered)
    # The claim, then the six outcomes in one or two commits (the fourth outcome takes
    # the three waiting; the last attempt under way the rest) instead of six.
    assert 2 <= store.group.batches - before <= 3
    records = await store.list_emails(state=EmailState.SENT)
    assert len(records) == 6


async def test_the_running_worker_claims_in_the_commit_of_the_outcomes_that_free_slots(
    store: Store, submit: Submit
) -> None:
    for _ in range(12):
        await submit(emails=[build_email("notification")])
    deliveries = Deliveries()
    # Sends that end at once: both attempts of a claim record their outcomes together.
    worker = DeliveryWorker(
        store,
        ProviderChain([ScriptedProvider(["sent"])]),
        worker_id="w1",
        concurrency=2,
        on_delivery=deliveries,
    )
    before = store.group.batches

    await worker.start()
    try:
        delivered = await deliveries.wait_for(12)
    finally:
        await worker.stop()

    assert all(d.state is EmailState.SENT and d.recorded for d in delivered)
    # The first claim, then six commits, each of two outcomes and the claim of the
    # next two emails (the last claim finds none), where it took twelve.
    assert store.group.batches - before == 7


async def test_a_lone_outcome_is_committed_at_once(
    store: Store, submit: Submit, file_chain: ProviderChain
) -> None:
    await submit(emails=[build_email("notification")])
    store.group.defer_seconds = 60.0
    worker = DeliveryWorker(store, file_chain, worker_id="w1", concurrency=8)

    async with asyncio.timeout(5):
        (delivered,) = await worker.run_once()

    assert delivered.recorded
    assert states(await store.list_emails()) == {"notification": EmailState.SENT}


async def test_exhausted_chain_schedules_a_retry_within_30_seconds(
    store: Store,
    submit: Submit,
    clock: FakeClock,
) -> None:
    await submit(emails=[build_email("notification")])
    down = ScriptedProvider(
        [ProviderUnavailable("connection refused", provider="scripted"), "sent"]
    )
    worker = DeliveryWorker(store, ProviderChain([down]), worker_id="w1")

    (failed,) = await worker.run_once()

    assert failed.state is EmailState.RETRYING
    assert failed.next_attempt_at is not None
    wait = (failed.next_attempt_at - clock.now).total_seconds()
    assert FIRST_RETRY_SECONDS / 2 <= wait <= FIRST_RETRY_SECONDS
    record = await store.get_email(failed.email_id)
    assert record is not None
    assert record.state is EmailState.RETRYING
    assert record.next_attempt_at == failed.next_attempt_at
    assert "unavailable" in (record.last_error or "")

    assert await worker.run_once() == []
    clock.now = failed.next_attempt_at
    (delivered,) = await worker.run_once()
    assert (delivered.state, delivered.attempt, delivered.provider) == (
        EmailState.SENT,
        2,
        "scripted",
    )
    assert down.sent == [record.message_id]


async def test_providers_retry_after_is_respected(
    store: Store,
    submit: Submit,
    clock: FakeClock,
) -> None:
    await submit(emails=[build_email("notification")])
    limited = ScriptedProvider(
        [TransientError("429", provider="scripted", code=429, retry_after=600)]
    )
    worker = DeliveryWorker(store, ProviderChain([limited]))

    (failed,) = await worker.run_once()

    assert failed.next_attempt_at is not None
    assert (failed.next_attempt_at - clock.now).total_seconds() >= 600


async def test_each_email_reaches_the_provider_with_its_outbox_id(
    store: Store, submit: Submit
) -> None:
    # Providers send it as metadata, so delivery events can be matched to the email.
    await submit()
    provider = ScriptedProvider(["sent"])
    worker = DeliveryWorker(store, ProviderChain([provider]))

    delivered = await worker.run_once() + await worker.run_once()

    assert [email.outbox_id for email in provider.received] == [d.email_id for d in delivered]
    assert all(d.email_id for d in delivered)


async def test_rejected_message_is_not_retried_and_the_confirmation_still_goes(
    store: Store,
    submit: Submit,
) -> None:
    await submit()
    refusing = ScriptedProvider(
        [MessageRejected("no such mailbox", provider="scripted", code=550), "sent"]
    )
    worker = DeliveryWorker(store, ProviderChain([refusing]))

    (rejected,) = await worker.run_once()
    (confirmation,) = await worker.run_once()

    assert (rejected.kind, rejected.state) == ("notification", EmailState.REJECTED)
    assert (confirmation.kind, confirmation.state) == ("confirmation", EmailState.SENT)
    record = await store.get_email(rejected.email_id)
    assert record is not None
    assert record.state is EmailState.REJECTED
    assert "550" in (record.last_error or "")


async def test_gives_up_after_max_age(
    store: Store,
    submit: Submit,
    clock: FakeClock,
) -> None:
    deadline = clock.now + timedelta(hours=72)
    await submit(emails=[build_email("notification")])
    failing = [ProviderUnavailable("down", provider="scripted") for _ in range(3)]
    worker = DeliveryWorker(
        store,
        ProviderChain([ScriptedProvider(failing)]),
        max_age=timedelta(hours=72),
        rng=lambda: 1.0,
    )

    (first,) = await worker.run_once()
    assert first.state is EmailState.RETRYING
    clock.now = deadline - timedelta(seconds=30)
    (last_chance,) = await worker.run_once()
    assert last_chance.state is EmailState.RETRYING
    # The 60 s backoff would overshoot: the last attempt is at the deadline.
    assert last_chance.next_attempt_at == deadline
    clock.now = last_chance.next_attempt_at
    (dead,) = await worker.run_once()

    assert dead.state is EmailState.DEAD
    record = await store.get_email(dead.email_id)
    assert record is not None
    assert (record.state, record.attempts) == (EmailState.DEAD, 3)


async def test_from_settings_takes_lease_max_age_retention_and_concurrency(
    store: Store, file_chain: ProviderChain
) -> None:
    settings = load_settings(
        outbox_lease_seconds=30,
        outbox_max_age_hours=2,
        outbox_retention_days=7,
        outbox_concurrency=5,
    )
    worker = DeliveryWorker.from_settings(store, file_chain, settings, poll_interval=0.5)
    assert (
        worker.lease_seconds,
        worker.max_age,
        worker.retention,
        worker.concurrency,
        worker.poll_interval,
    ) == (30, timedelta(hours=2), timedelta(days=7), 5, 0.5)
    assert worker.send_timeout < worker.lease_seconds


async def test_an_unexpected_exception_means_retry_later(store: Store, submit: Submit) -> None:
    await submit(emails=[build_email("notification")])
    worker = DeliveryWorker(store, Explodes())

    (failed,) = await worker.run_once()

    assert failed.state is EmailState.RETRYING
    assert failed.error == "unexpected RuntimeError"


async def test_a_send_that_outlives_its_timeout_is_retried(
    store: Store,
    submit: Submit,
) -> None:
    await submit(emails=[build_email("notification")])
    never = asyncio.Event()
    worker = DeliveryWorker(store, ProviderChain([ScriptedProvider([never])]), send_timeout=0.05)

    (failed,) = await worker.run_once()

    assert failed.state is EmailState.RETRYING
    assert failed.error == "no answer within 0.05s"


async def test_notify_wakes_the_worker_without_waiting_for_a_poll(
    store: Store, submit: Submit, file_chain: ProviderChain
) -> None:
    seen = Deliveries()
    worker = DeliveryWorker(store, file_chain, poll_interval=3600, on_delivery=seen)
    await worker.start()
    try:
        await submit()
        worker.notify()
        # The confirmation is claimed when the notification's send finishes.
        delivered = await seen.wait_for(2)
    finally:
        await worker.stop(grace=5)
    assert [(d.kind, d.state) for d in delivered] == [
        ("notification", EmailState.SENT),
        ("confirmation", EmailState.SENT),
    ]
    assert not worker.running


async def test_polling_finds_work_stored_elsewhere(
    store: Store, submit: Submit, file_chain: ProviderChain
) -> None:
    seen = Deliveries()
    worker = DeliveryWorker(store, file_chain, poll_interval=0.05, on_delivery=seen)
    await worker.start()
    try:
        await submit()
        await seen.wait_for(2)
    finally:
        await worker.stop(grace=5)
    assert states(await store.list_emails()) == {
        "notification": EmailState.SENT,
        "confirmation": EmailState.SENT,
    }


async def test_graceful_stop_lets_the_send_in_flight_finish_and_claims_nothing_new(
    store: Store,
    submit: Submit,
) -> None:
    release = asyncio.Event()
    slow = ScriptedProvider([release])
    worker = DeliveryWorker(store, ProviderChain([slow]), poll_interval=0.05)
    await submit()
    await worker.start()
    worker.notify()
    await slow.started.wait()

    stopping = asyncio.create_task(worker.stop(grace=5))
    done, _ = await asyncio.wait({stopping}, timeout=0.2)
    assert not done, "stop returned while a send was in flight"
    later = await submit()
    release.set()
    await stopping

    records = await store.list_emails()
    assert len(slow.sent) == 1
    assert {(r.kind, r.state) for r in records if r.submission_id != later} == {
        ("notification", EmailState.SENT),
        ("confirmation", EmailState.PENDING),
    }
    assert {r.state for r in records if r.submission_id == later} == {EmailState.PENDING}


async def test_stop_requeues_a_send_that_outlives_the_grace_period(
    store: Store,
    submit: Submit,
    clock: FakeClock,
    file_chain: ProviderChain,
) -> None:
    stuck = ScriptedProvider([asyncio.Event()])
    worker = DeliveryWorker(store, ProviderChain([stuck]), poll_interval=0.05)
    await submit(emails=[build_email("notification")])
    await worker.start()
    worker.notify()
    await stuck.started.wait()

    await worker.stop(grace=0.1)

    (record,) = await store.list_emails()
    assert (record.state, record.last_error) == (EmailState.RETRYING, SHUTDOWN_ERROR)
    assert record.next_attempt_at == clock.now
    (delivered,) = await DeliveryWorker(store, file_chain).run_once()
    assert (delivered.state, delivered.attempt) == (EmailState.SENT, 2)


class Watch(logging.Handler):
    """Sets an event when a log message containing ``text`` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_the_loop_survives_store_failures(
    store: Store, submit: Submit, file_chain: ProviderChain
) -> None:
    seen = Deliveries()
    worker = DeliveryWorker(store, file_chain, poll_interval=0.02, on_delivery=seen)
    watch = Watch("claiming failed")
    logging.getLogger("service.outbox").addHandler(watch)
    await submit()
    await store.close()
    await worker.start()
    try:
        async with asyncio.timeout(5):
            await watch.seen.wait()
        assert worker.running
        await store.open()
        await seen.wait_for(2)
    finally:
        logging.getLogger("service.outbox").removeHandler(watch)
        await worker.stop(grace=5)


async def test_logs_name_the_email_but_never_its_body_or_addresses(
    store: Store,
    submit: Submit,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sid = await submit()
    provider = ScriptedProvider(
        [
            ProviderUnavailable(f"refused {VISITOR}", provider="scripted", code=421),
            MessageRejected(f"550 {VISITOR}: no such user", provider="scripted", code=550),
            "sent",
        ]
    )
    worker = DeliveryWorker(store, ProviderChain([provider]), max_age=timedelta(hours=1))
    caplog.set_level(logging.INFO, logger="service.outbox")

    (retrying,) = await worker.run_once()
    assert retrying.next_attempt_at is not None
    clock.now = retrying.next_attempt_at
    await worker.run_once()
    await worker.run_once()

    assert sid in caplog.text
    assert "scripted:unavailable[421]" in caplog.text
    assert "scripted:rejected[550]" in caplog.text
    assert "provider=scripted" in caplog.text
    for private in (VISITOR, SECRET_BODY, "owner@acme.example"):
        assert private not in caplog.text


async def test_a_delivered_email_is_one_info_line_with_the_chain_s_words(
    store: Store, submit: Submit, caplog: pytest.LogCaptureFixture
) -> None:
    sid = await submit()
    provider = ScriptedProvider([TransientError("421 busy", provider="scripted", code=421), "sent"])
    time = FakeTime()
    chain = ProviderChain([provider], clock=time, sleep=time.sleep)
    caplog.set_level(logging.INFO)

    (delivery,) = await DeliveryWorker(store, chain).run_once()

    assert delivery.state is EmailState.SENT
    [retried] = [r for r in caplog.records if r.name == "service.providers.chain"]
    assert retried.levelno == logging.WARNING
    [sent] = [r for r in caplog.records if r.levelno == logging.INFO]
    assert sent.name == "service.outbox"
    expected = {
        "email_id": delivery.email_id,
        "submission_id": sid,
        "attempt": 1,
        "provider": "scripted",
        "provider_attempt": 2,
        "outcome": "sent",
        "duration_ms": 0,
    }
    assert {name: getattr(sent, name, None) for name in expected} == expected
    assert "provider=scripted provider_attempt=2" in sent.getMessage()


async def test_the_running_worker_purges_old_personal_data(
    store: Store,
    submit: Submit,
    file_chain: ProviderChain,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="service.outbox")
    sid = await submit()
    delivering = DeliveryWorker(store, file_chain)
    await delivering.run_once()
    await delivering.run_once()
    clock.advance(days=31)
    watch = Watch("purged personal data of 2 emails and 1 submissions")
    logging.getLogger("service.outbox").addHandler(watch)
    worker = DeliveryWorker(store, file_chain, retention=timedelta(days=30))
    await worker.start()
    try:
        async with asyncio.timeout(5):
            await watch.seen.wait()
    finally:
        logging.getLogger("service.outbox").removeHandler(watch)
        await worker.stop(grace=5)
    record = await store.get_submission(sid)
    assert record is not None
    assert record.purged_at == clock.now


async def test_a_confirmation_suppressed_while_it_waited_is_rejected_not_sent(
    store: Store, submit: Submit, clock: FakeClock
) -> None:
    """The visitor's earlier confirmation bounces after this submission was stored:
    its notification goes, its confirmation ends ``rejected`` with the reason."""
    to_visitor = (Address("Vera", addr_spec=VISITOR),)
    provider = ScriptedProvider()
    seen = Deliveries()
    worker = DeliveryWorker(store, ProviderChain([provider]), on_delivery=seen)
    await submit(emails=[build_email("confirmation", to=to_visitor)])
    (earlier,) = await worker.run_once()
    waiting = await submit(
        emails=[build_email("notification"), build_email("confirmation", to=to_visitor)]
    )
    bounce = DeliveryEvent(
        provider="scripted",
        event_id="bounce-1",
        event="bounced",
        bounce="hard",
        occurred_at=clock.now,
        outbox_id=earlier.email_id,
    )
    assert (await store.record_event(bounce)).suppressed

    (notified,) = await worker.run_once()
    (confirmation,) = await worker.run_once()

    assert (notified.kind, notified.state) == ("notification", EmailState.SENT)
    assert (confirmation.kind, confirmation.state) == ("confirmation", EmailState.REJECTED)
    assert (confirmation.suppressed, confirmation.recorded) == (True, True)
    assert (notified.suppressed, earlier.suppressed) == (False, False)
    assert confirmation.error == SUPPRESSED_ERROR
    assert len(provider.sent) == 2  # the earlier confirmation and this notification
    assert confirmation.message_id not in provider.sent
    record = await store.get_email(confirmation.email_id)
    assert record is not None
    assert (record.state, record.last_error, record.sent_at) == (
        EmailState.REJECTED,
        SUPPRESSED_ERROR,
        None,
    )
    assert record.submission_id == waiting
    assert await worker.run_once() == []

    # Once the operator removes the address, a retry sends it.
    assert await store.remove_suppression(VISITOR)
    assert await store.requeue(confirmation.email_id)
    (retried,) = await worker.run_once()
    assert (retried.state, retried.suppressed) == (EmailState.SENT, False)
    assert provider.sent[-1] == confirmation.message_id
