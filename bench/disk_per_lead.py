"""Disk per lead: ``python -m bench.disk_per_lead``.

Starts ``python -m service`` (``APP_ENV=production``, the ``file`` provider) in a
fresh temporary folder, so a fresh ``sqlite:///var/outbox.db``; posts
``--submissions`` contact forms (1,000 by default, 20 at a time, each with its
own visitor address, as ``bench.outbox_load`` posts them), waits until every
email is sent, stops the service, checkpoints the WAL into the database file
(``PRAGMA wal_checkpoint(TRUNCATE)``) and divides the file's size by the
number of submissions. Sent emails keep their bodies until
``OUTBOX_RETENTION_DAYS``, so this is what every lead costs on disk for that
long (and what a flood of spam that gets past the defences costs).

Target: at most 4 KB (4,096 bytes) per submission. Also prints where the bytes
are, per table and index (SQLite's ``dbstat``).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

# Import this checkout's service and tests, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from tests.process import ServiceProcess

TARGET_BYTES = 4096
CONCURRENCY = 20


def form(number: int) -> dict[str, str]:
    """Submission ``number``: the fields ``bench.outbox_load`` posts."""
    return {
        "name": "Load Test",
        "email": f"load-disk-{number}@example.org",
        "company": "Bench Ltd",
        "message": f"Hello, this is request {number} of the load test.",
    }


async def submit_all(base_url: str, count: int) -> None:
    """Post ``count`` submissions, ``CONCURRENCY`` at a time; every one must be accepted."""
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def one(number: int) -> None:
            async with gate:
                response = await client.post("/api/contact", json=form(number))
            response.raise_for_status()

        await asyncio.gather(*(one(number) for number in range(count)))


def sent(base_url: str) -> int:
    """Emails the outbox has sent so far (none may be left to send)."""
    outbox = httpx.get(f"{base_url}/api/health", timeout=30).json()["outbox"]
    return outbox["states"]["sent"] if outbox["depth"] == 0 else -1


def space_by_object(database: Path) -> list[tuple[str, int]]:
    """Bytes used per table and index, largest first (empty if ``dbstat`` is missing)."""
    with sqlite3.connect(database) as conn:
        try:
            rows = conn.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return [(name, int(size)) for name, size in rows]


def main() -> int:
    """Store and send the submissions, measure the database file, check the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="disk-per-lead-") as tmp:
        folder = Path(tmp)
        service = ServiceProcess(
            folder,
            {
                "APP_ENV": "production",
                "EMAIL_PROVIDERS": "file",
                "EMAIL_FROM": "contact@bench.example",
                "CONTACT_RECIPIENTS": "sales@example.com",
                "CONTACT_RATE_LIMIT": "off",
            },
        )
        try:
            service.start()
            asyncio.run(submit_all(service.base_url, args.submissions))
            deadline = time.monotonic() + 300
            while sent(service.base_url) != 2 * args.submissions:
                if time.monotonic() > deadline:
                    raise RuntimeError("the emails were not all sent within 300 s")
                time.sleep(0.2)
        finally:
            service.stop()
        database = folder / "var" / "outbox.db"
        with sqlite3.connect(database) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = database.stat().st_size
        objects = space_by_object(database)

    per_lead = size / args.submissions
    print(
        f"{args.submissions} submissions, {2 * args.submissions} emails sent (file provider),"
        f" SQLite outbox after a checkpoint: {size / 1e6:.2f} MB"
    )
    for name, used in objects[:8]:
        print(f"  {name:<32} {used / args.submissions:8.0f} bytes per submission")
    ok = per_lead <= TARGET_BYTES
    print("targets:")
    print(
        f"  [{'ok' if ok else 'MISSED'}] disk per lead: {per_lead:,.0f} bytes"
        f" <= {TARGET_BYTES:,} bytes"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
