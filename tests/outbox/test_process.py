"""The outbox end to end: ``python -m service`` as real processes and a real SMTP server.

The service sends through the ``smtp`` provider to an aiosmtpd server in this
process (STARTTLS + AUTH on a trustme certificate the service trusts through
``SSL_CERT_FILE``). Every submission has its own visitor address, so each
received email can be traced to its submission: the notification by its
``Reply-To``, the confirmation by its recipient.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from service.outbox import open_store
from tests.process import Launch, free_port, service_process, wait_for
from tests.smtp_server import PASSWORD, USERNAME, ReceivedMessage, SmtpServer

pytestmark = pytest.mark.slow

OWNER = "sales@example.com"
SUBMISSIONS = 200


def smtp_env(port: int, ca_file: Path, **extra: str) -> dict[str, str]:
    """The service's environment: the smtp provider only, on 127.0.0.1:``port``."""
    return {
        "EMAIL_PROVIDERS": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TIMEOUT": "10",
        "SMTP_POOL_SIZE": "2",
        "EMAIL_ADDRESS": USERNAME,
        "EMAIL_PASSWORD": PASSWORD,
        "CONTACT_RECIPIENTS": OWNER,
        "SSL_CERT_FILE": str(ca_file),
        # A failed send goes back to the outbox at once instead of being retried in place.
        "RETRY_ATTEMPTS": "1",
        "RETRY_MAX_SECONDS": "1",
        "PROVIDER_COOLDOWN_SECONDS": "0",
        # Every submission comes from this one test client.
        "CONTACT_RATE_LIMIT": "off",
        **extra,
    }


def visitor(number: int) -> str:
    """Submission ``number``'s own address."""
    return f"visitor{number}@example.org"


def form(number: int) -> dict[str, str]:
    """Submission ``number``'s fields."""
    return {"name": f"Visitor {number}", "email": visitor(number), "message": f"Hello #{number}"}


def submit(base_url: str, number: int) -> str:
    """Post submission ``number``; returns the acknowledged submission id."""
    response = httpx.post(f"{base_url}/api/contact", json=form(number), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def submit_concurrently(base_urls: list[str], count: int, concurrency: int) -> list[str]:
    """Post ``count`` submissions, at most ``concurrency`` at once, spread over ``base_urls``."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(number: int) -> str:
            async with gate:
                base_url = base_urls[number % len(base_urls)]
                response = await client.post(f"{base_url}/api/contact", json=form(number))
            assert response.status_code == 200, response.text
            return response.json()["id"]

        return list(await asyncio.gather(*(one(number) for number in range(count))))


def outbox(base_url: str) -> dict[str, Any]:
    """The outbox section of ``/api/health``."""
    return httpx.get(f"{base_url}/api/health", timeout=5).json()["outbox"]


def states(base_url: str) -> dict[str, int]:
    """How many emails are in each state, leaving out empty states."""
    return {state: n for state, n in outbox(base_url)["states"].items() if n}


def delivered(base_url: str, count: int) -> bool:
    """True once ``count`` emails are sent and none is left to send."""
    state = outbox(base_url)
    return state["states"].get("sent", 0) == count and state["depth"] == 0


@dataclass(frozen=True)
class Mail:
    """One email as the SMTP server received it, traced back to its submission."""

    position: int
    message_id: str
    kind: str
    visitor: str
    subject: str
    text: str
    received: ReceivedMessage


def mails(server: SmtpServer) -> list[Mail]:
    """Everything the server accepted, in arrival order, checked against what was sent."""
    found = []
    for position, received in enumerate(list(server.messages)):
        message = received.parsed()
        assert received.mail_from == USERNAME
        assert message["From"].addresses[0].addr_spec == USERNAME
        if received.rcpt_tos == (OWNER,):
            kind, who = "notification", message["Reply-To"].addresses[0].addr_spec
        else:
            kind, (who,) = "confirmation", received.rcpt_tos
            assert message["Auto-Submitted"] == "auto-replied"
        assert message["To"].addresses[0].addr_spec == received.rcpt_tos[0]
        text = message.get_body(("plain",))
        assert text is not None
        found.append(
            Mail(
                position=position,
                message_id=message["Message-ID"],
                kind=kind,
                visitor=who,
                subject=message["Subject"],
                text=text.get_content(),
                received=received,
            )
        )
    return found


def assert_complete(found: list[Mail], count: int) -> None:
    """Each of ``count`` submissions got both emails, each with its own Message-ID."""
    kinds = {(mail.visitor, mail.kind) for mail in found}
    assert kinds == {
        (visitor(number), kind)
        for number in range(count)
        for kind in ("notification", "confirmation")
    }
    assert len({mail.message_id for mail in found}) == 2 * count


def assert_notification_first(found: list[Mail]) -> None:
    """Per submission, the owner's notification arrived before the visitor's confirmation."""
    first: dict[tuple[str, str], int] = {}
    for mail in found:
        first.setdefault((mail.visitor, mail.kind), mail.position)
    for (who, kind), position in first.items():
        if kind == "confirmation":
            assert first[(who, "notification")] < position, who


async def claimers(database_url: str) -> Counter[str]:
    """How many of the stored emails each worker (``host:pid:random``) claimed last."""
    async with open_store(database_url) as store:
        records = await store.list_emails(limit=10_000)
    return Counter(record.claimed_by or "" for record in records)


def test_accepts_while_every_provider_is_down_and_delivers_once_it_is_up(
    tmp_path: Path, ca_file: Path, smtp_certificate: trustme.LeafCert, launch: Launch
) -> None:
    port = free_port()  # Nothing listens here yet: the only provider is down.
    service = launch(tmp_path, smtp_env(port, ca_file))

    for number in range(5):
        submit(service.base_url, number)
    # Each notification failed once; each confirmation waits for its notification.
    wait_for(lambda: states(service.base_url) == {"retrying": 5, "pending": 5})

    with SmtpServer(smtp_certificate, port=port) as server:
        up = time.monotonic()
        # The first retry comes within 30 s of the failure, so within 30 s of now.
        wait_for(lambda: delivered(service.base_url, 10), timeout=35)
        assert time.monotonic() - up < 31
        found = mails(server)

    assert len(found) == 10
    assert_complete(found, 5)
    assert_notification_first(found)


def test_kill_9_during_delivery_loses_no_acknowledged_submission(
    tmp_path: Path, ca_file: Path, smtp_server: SmtpServer, launch: Launch
) -> None:
    env = smtp_env(smtp_server.port, ca_file, OUTBOX_LEASE_SECONDS="5")
    service = launch(tmp_path, env)
    smtp_server.hold()
    for number in range(10):
        submit(service.base_url, number)
    # Both pooled connections are in DATA: the server has two messages, the service no answer.
    wait_for(lambda: smtp_server.held == 2)
    in_flight = {mail.message_id for mail in mails(smtp_server)}
    assert len(in_flight) == 2

    service.kill()
    smtp_server.release()
    restarted = launch(tmp_path, env)
    # The killed worker's claims come due again when their 5 s lease ends.
    wait_for(lambda: delivered(restarted.base_url, 20), timeout=30)

    found = mails(smtp_server)
    assert_complete(found, 10)
    assert_notification_first(found)
    # At least once: the two unanswered sends went out again, recognisably the same emails.
    copies = Counter(mail.message_id for mail in found)
    assert {message_id for message_id, n in copies.items() if n > 1} == in_flight
    assert len(found) == 22
    for message_id in in_flight:
        first, second = (mail for mail in found if mail.message_id == message_id)
        assert (first.kind, first.visitor, first.subject, first.text) == (
            second.kind,
            second.visitor,
            second.subject,
            second.text,
        )


def test_two_workers_send_every_email_exactly_once_in_order(
    tmp_path: Path,
    ca_file: Path,
    smtp_certificate: trustme.LeafCert,
    launch: Launch,
    database_url: str,
) -> None:
    # A server 20 ms away: one worker alone then takes seconds, so the other (which
    # looks at least every second) takes part. On loopback one worker could send all
    # 400 emails before the other's next look, and the test would prove nothing.
    with SmtpServer(smtp_certificate, data_delay=0.02) as smtp_server:
        env = smtp_env(smtp_server.port, ca_file, DATABASE_URL=database_url)
        if database_url.startswith("sqlite"):
            # One machine: one service, two worker processes sharing the SQLite file.
            services = [launch(tmp_path, env | {"WORKERS": "2"})]
        else:
            # Replicas: two services, each on its own, sharing the PostgreSQL database.
            services = []
            for name in ("a", "b"):
                (tmp_path / name).mkdir()
                services.append(launch(tmp_path / name, env))
        base_urls = [service.base_url for service in services]

        ids = asyncio.run(submit_concurrently(base_urls, SUBMISSIONS, concurrency=20))
        assert len(set(ids)) == SUBMISSIONS
        wait_for(lambda: delivered(base_urls[0], 2 * SUBMISSIONS), timeout=60)

        found = mails(smtp_server)
        assert len(found) == 2 * SUBMISSIONS
        assert_complete(found, SUBMISSIONS)
        assert_notification_first(found)
        # Exactly once means something only if both workers took part.
        workers = asyncio.run(claimers(database_url))
        assert len(workers) == 2, workers
        assert sum(workers.values()) == 2 * SUBMISSIONS


def test_web_without_delivery_and_a_worker_process_send_every_email_exactly_once(
    tmp_path: Path, ca_file: Path, smtp_server: SmtpServer, launch: Launch, database_url: str
) -> None:
    env = smtp_env(smtp_server.port, ca_file, DATABASE_URL=database_url)
    (tmp_path / "web").mkdir()
    (tmp_path / "worker").mkdir()
    web = launch(tmp_path / "web", env | {"DELIVERY_WORKER": "off"})

    ids = asyncio.run(submit_concurrently([web.base_url], SUBMISSIONS, concurrency=20))
    assert len(set(ids)) == SUBMISSIONS
    # Every email is stored and waits: the web process does not deliver.
    assert outbox(web.base_url)["depth"] == 2 * SUBMISSIONS
    assert smtp_server.messages == []

    with service_process(tmp_path / "worker", env, arguments=["-m", "service", "worker"]) as worker:
        wait_for(lambda: delivered(web.base_url, 2 * SUBMISSIONS), timeout=60)
        # The worker's probe reads the same outbox.
        assert outbox(worker.base_url)["states"]["sent"] == 2 * SUBMISSIONS
        worker_pid = worker.pid

    found = mails(smtp_server)
    assert len(found) == 2 * SUBMISSIONS
    assert_complete(found, SUBMISSIONS)
    assert_notification_first(found)
    # Every email was claimed by the worker process, none by the web process.
    workers = asyncio.run(claimers(database_url))
    assert len(workers) == 1, workers
    (claimer,) = workers
    assert claimer.split(":")[1] == str(worker_pid)
