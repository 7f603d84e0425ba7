"""How much the SMTP connection pool saves: ``python -m bench.smtp_pool``.

A STARTTLS + AUTH aiosmtpd server (``tests/smtp_server.py``) runs in a child
process on 127.0.0.1. The same emails are then sent, one after another, three ways:

* fresh: connect, STARTTLS, log in, send, QUIT for every email (the original
  service's way, ``aiosmtplib.send``);
* kept-open: one aiosmtplib connection, logged in once, used for every email;
* pooled: :class:`service.providers.smtp.SmtpProvider`, through its pool.

Each way builds every email's bytes the same way. It prints messages per second
and the ratios; the targets are pooled >= 2x fresh and >= 90% of kept-open.
A last line shows the pool under a burst (every email at once, pool of 2).
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path

# Import this checkout's service and tests, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib
import trustme
from pydantic import SecretStr

from service.message import Address, OutgoingEmail, make_message_id
from service.providers.smtp import SmtpProvider
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer, ca_client_context

LOCAL_HOSTNAME = "bench.localhost"
TIMEOUT = 30.0


def serve(certificate: trustme.LeafCert, conn: Connection) -> None:
    """Child process: run the server, report its port, stop when the parent says so."""
    # aiosmtpd logs a deprecation notice on every successful login.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    with SmtpServer(certificate) as server:
        conn.send(server.port)
        conn.recv()
        conn.send(len(server.messages))


def make_email(number: int) -> OutgoingEmail:
    """A contact-form notification of typical size."""
    return OutgoingEmail(
        kind="notification",
        sender=Address("Example Ltd", addr_spec=USERNAME),
        to=(Address("Sales", addr_spec="sales@example.com"),),
        reply_to=Address("Visitor", addr_spec=f"visitor{number}@example.org"),
        subject=f"New message #{number} from the contact form",
        text="Hello,\n\n" + "Someone wrote through the contact form.\n" * 20,
        html="<html><body>" + "<p>Someone wrote through the contact form.</p>" * 40 + "</body>",
        message_id=make_message_id("example.com"),
        headers={"Auto-Submitted": "auto-generated"},
    )


def envelope(email: OutgoingEmail) -> tuple[str, list[str], bytes]:
    """What goes on the wire for one email."""
    return email.sender.addr_spec, [a.addr_spec for a in email.to], email.to_bytes()


async def fresh(port: int, ca: trustme.CA, emails: list[OutgoingEmail]) -> None:
    """A new connection and login per email."""
    context = ca_client_context(ca)
    for email in emails:
        sender, recipients, message = envelope(email)
        await aiosmtplib.send(
            message,
            sender=sender,
            recipients=recipients,
            hostname="127.0.0.1",
            port=port,
            username=USERNAME,
            password=PASSWORD,
            start_tls=True,
            tls_context=context,
            local_hostname=LOCAL_HOSTNAME,
            timeout=TIMEOUT,
        )


async def kept_open(port: int, ca: trustme.CA, emails: list[OutgoingEmail]) -> None:
    """One connection, one login, every email."""
    smtp = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        start_tls=True,
        tls_context=ca_client_context(ca),
        local_hostname=LOCAL_HOSTNAME,
        timeout=TIMEOUT,
    )
    await smtp.connect()
    await smtp.login(USERNAME, PASSWORD)
    for email in emails:
        await smtp.sendmail(*envelope(email))
    await smtp.quit()


def provider(port: int, ca: trustme.CA, pool_size: int) -> SmtpProvider:
    """The provider under test, as ``from_settings`` would build it, trusting the bench CA."""
    return SmtpProvider(
        "127.0.0.1",
        port,
        username=USERNAME,
        password=SecretStr(PASSWORD),
        timeout=TIMEOUT,
        pool_size=pool_size,
        ssl_context=ca_client_context(ca),
    )


async def pooled(port: int, ca: trustme.CA, emails: list[OutgoingEmail]) -> None:
    """Through the provider, one email after another."""
    smtp = provider(port, ca, pool_size=2)
    await smtp.open()
    for email in emails:
        await smtp.send(email)
    await smtp.close()


async def pooled_burst(port: int, ca: trustme.CA, emails: list[OutgoingEmail]) -> None:
    """Through the provider, every email at once."""
    smtp = provider(port, ca, pool_size=2)
    await smtp.open()
    await asyncio.gather(*(smtp.send(email) for email in emails))
    await smtp.close()


LABELS = {
    "fresh": "fresh connection + login per email",
    "kept_open": "one kept-open connection",
    "pooled": "SmtpProvider, pooled",
    "pooled_burst": "SmtpProvider, burst, pool of 2",
}

Way = Callable[[int, trustme.CA, list[OutgoingEmail]], Awaitable[None]]


def measure(
    ways: tuple[Way, ...], port: int, ca: trustme.CA, count: int, rounds: int
) -> dict[str, list[float]]:
    """Messages per second of each way, ``rounds`` times, taking turns.

    Taking turns spreads a busy neighbour on the machine over every way alike.
    """
    rates: dict[str, list[float]] = {way.__name__: [] for way in ways}
    for _ in range(rounds):
        for way in ways:
            emails = [make_email(number) for number in range(count)]
            started = time.perf_counter()
            asyncio.run(way(port, ca, emails))
            rates[way.__name__].append(count / (time.perf_counter() - started))
    return rates


def main() -> int:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="emails per run (default 500)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per way (default 5)")
    args = parser.parse_args()

    ca = trustme.CA()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(ca.issue_cert("127.0.0.1"), child)
    )
    server.start()
    try:
        port = parent.recv()
        rates = measure((fresh, kept_open, pooled, pooled_burst), port, ca, args.count, args.rounds)
        parent.send("stop")
        received = parent.recv()
    finally:
        server.join(timeout=10)

    # The best run is the one least disturbed by other processes (as timeit reasons).
    best = {name: max(values) for name, values in rates.items()}
    expected = args.count * args.rounds * len(rates)
    speedup = best["pooled"] / best["fresh"]
    share = best["pooled"] / best["kept_open"]
    print(f"{args.count} emails per run, {args.rounds} runs each, STARTTLS + AUTH server")
    print("                                         best   median  (msg/s)")
    for name, label in LABELS.items():
        print(f"  {label:<36} {best[name]:7.1f}  {statistics.median(rates[name]):7.1f}")
    print(f"  pooled / fresh      {speedup:6.1f}x  (target >= 2x)")
    print(f"  pooled / kept-open  {share:6.0%}   (target >= 90%)")
    print(f"  server received {received} of {expected} emails")
    return 0 if speedup >= 2 and share >= 0.9 and received == expected else 1


if __name__ == "__main__":
    sys.exit(main())
