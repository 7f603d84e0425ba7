"""Delivery CPU per email over SMTP: ``python -m bench.delivery_cpu``.

Starts the STARTTLS + AUTH SMTP server of the tests in a child process and a
delivery process on a fresh SQLite outbox: ``python -m service worker`` (the
default, ``--role worker``), or ``python -m service`` (``--role serve``, one
Sanic worker that also answers HTTP, idle here), both with ``APP_ENV=production``
(JSON logs) and the ``smtp`` provider. Once it answers ``/api/health``, this
script stores ``--submissions`` submissions directly in the outbox file, each
with its notification and confirmation as recipes, as the API stores them,
and waits until the SMTP server holds every email. The delivery process's CPU
time (``/proc``, every process of it, every thread) from just before the first
store to the last email, divided by the emails, is its CPU per delivered email:
claims, rendering each email (templates, packing, storing the body), building
the MIME bytes, TLS, the SMTP dialogue, outcomes, logs, metrics.
Storing happens in this script's process and is not counted; the worker's
once-a-second poll while idle is (a few milliseconds in all).

``--rounds`` (3) rounds in a row; the least disturbed (the smallest figure) is
checked, since the machine may be shared.

Target: at most 1.0 ms of the delivery process's CPU per email. Prints the
SMTP server's CPU per email and the delivery process's peak RSS too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

# Import this checkout's service and tests, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trustme

from bench._support import SmtpChild, cpu_seconds, cpu_split, peak_rss_mb
from service.config import load_settings
from service.emails.compose import COMPOSERS, new_message_id, notified
from service.outbox import open_store
from service.outbox.recipes import EmailRecipe, recipe_of
from service.submission import Submission
from tests.process import ServiceProcess
from tests.smtp_server import PASSWORD, USERNAME

TARGET_MS = 1.0
TIMEOUT = 300.0


def environment(smtp_port: int, ca_file: Path, database: Path) -> dict[str, str]:
    """The delivery process's settings (also used here to compose what it will send)."""
    return {
        "APP_ENV": "production",
        "EMAIL_PROVIDERS": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "EMAIL_ADDRESS": USERNAME,
        "EMAIL_PASSWORD": PASSWORD,
        "CONTACT_RECIPIENTS": "sales@example.com",
        "SSL_CERT_FILE": str(ca_file),
        "DATABASE_URL": f"sqlite:///{database}",
        "WORKERS": "1",
    }


async def store_submissions(env: dict[str, str], count: int, round_number: int = 0) -> int:
    """Store ``count`` submissions with both emails as recipes, as the API does; the emails.

    The delivery process renders each email when it claims it, so rendering counts here.
    """
    names = {name.lower(): value for name, value in env.items() if name != "SSL_CERT_FILE"}
    settings = load_settings(**names)
    stored = []
    for number in range(count):
        submission = Submission(
            name="Load Test",
            email=f"load-delivery-{round_number}-{number}@example.org",
            company="Bench Ltd",
            message=f"Hello, this is request {number} of the load test.",
        )
        recipe = recipe_of(submission, recipients=notified(submission, settings))
        emails = [EmailRecipe(kind, new_message_id(settings), recipe) for kind in COMPOSERS]
        stored.append((submission, emails))
    async with open_store(settings.database_url) as store:
        # All at once: group commit writes them in a few transactions, so the
        # delivery process seldom waits for the writers' lock.
        await asyncio.gather(*(store.add_submission(new, batch) for new, batch in stored))
    return sum(len(batch) for _, batch in stored)


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            todo += [int(child) for child in children.read_text().split()]
    return found


def deliver_round(
    env: dict[str, str], smtp: SmtpChild, pids: list[int], submissions: int, number: int
) -> tuple[int, float, float, float]:
    """Store ``submissions`` more and wait for their emails: how many, user, system, SMTP CPU."""
    before, smtp_before, received = cpu_split(pids), cpu_seconds([smtp.pid]), smtp.count()
    emails = asyncio.run(store_submissions(env, submissions, number))
    deadline = time.monotonic() + TIMEOUT
    while smtp.count() - received < emails:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {smtp.count() - received} of {emails} within {TIMEOUT} s")
        time.sleep(0.02)
    after = cpu_split(pids)
    return (
        emails,
        after[0] - before[0],
        after[1] - before[1],
        cpu_seconds([smtp.pid]) - smtp_before,
    )


def main() -> int:
    """Deliver ``--submissions`` submissions' emails ``--rounds`` times; print the CPU each cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000, help="per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--role", choices=("worker", "serve"), default="worker")
    args = parser.parse_args()

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1")
    command = ["-m", "service", "worker"] if args.role == "worker" else ["-m", "service"]
    with (
        tempfile.TemporaryDirectory(prefix="delivery-cpu-") as tmp,
        SmtpChild(certificate, delay=0.0) as smtp,
    ):
        folder = Path(tmp)
        ca_file = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        env = environment(smtp.port, ca_file, folder / "var" / "outbox.db")
        service = ServiceProcess(folder, env, arguments=command)
        try:
            service.start()
            pids = process_tree(service.pid)
            rounds = [
                deliver_round(env, smtp, pids, args.submissions, number)
                for number in range(args.rounds)
            ]
            rss = max(peak_rss_mb(pid) for pid in pids)
        finally:
            service.stop()

    print(
        f"python -m service{' worker' if args.role == 'worker' else ''}, APP_ENV=production,"
        f" STARTTLS + AUTH SMTP on 127.0.0.1, {args.rounds} rounds of {args.submissions}"
        " submissions (2 emails each)"
    )
    figures = []
    for emails, user, system, smtp_used in rounds:
        figures.append(1000 * (user + system) / emails)
        print(
            f"  delivery process {figures[-1]:.2f} ms CPU per email"
            f" ({1000 * user / emails:.2f} user, {1000 * system / emails:.2f} system);"
            f" SMTP server {1000 * smtp_used / emails:.2f} ms per email"
        )
    per_email = min(figures)
    print(
        f"  peak RSS {rss:.0f} MB (largest process); load average {os.getloadavg()[0]:.1f}"
        f" on {os.cpu_count()} cores"
    )
    ok = per_email <= TARGET_MS
    print("targets:")
    print(
        f"  [{'ok' if ok else 'MISSED'}] delivery CPU: {per_email:.2f} ms"
        f" <= {TARGET_MS} ms per email (least disturbed round)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
