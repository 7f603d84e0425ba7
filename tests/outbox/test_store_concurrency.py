"""Many claimers, many processes: each email goes to exactly one of them; migrations once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from outbox_doubles import FakeClock, build_email

from service.outbox import EmailState, Store, open_store
from service.outbox.migrations import MIGRATIONS
from service.outbox.sql import SqlStore
from service.submission import Submission

ROOT = Path(__file__).resolve().parents[2]
CLAIMER = Path(__file__).with_name("claimer.py")
SEND_TIME = 0.002


async def seed(store: Store, submissions: int) -> int:
    for number in range(submissions):
        await store.add_submission(
            Submission(name=f"n{number}", email="v@example.org", message="m"),
            [build_email("notification"), build_email("confirmation")],
        )
    return submissions * 2


async def drain(store: Store, worker_id: str) -> list[str]:
    claimed: list[str] = []
    while claims := await store.claim_due(worker_id, 3, 300):
        # A send takes a while; without it one claimer can drain a small
        # queue before the others' first turn and the race is never run.
        await asyncio.sleep(SEND_TIME)
        for claim in claims:
            claimed.append(claim.id)
            assert await store.mark_sent(claim, provider="p", provider_message_id=worker_id)
    return claimed


async def test_concurrent_claimers_never_share_an_email(
    store: Store, database_url: str, clock: FakeClock
) -> None:
    total = await seed(store, 40)
    # Separate store objects: separate connections (and, for SQLite, threads)
    # racing for the same rows, as separate processes would.
    others = [open_store(database_url, clock=clock) for _ in range(3)]
    for other in others:
        await other.open()
    try:
        results = await asyncio.gather(
            *(drain(each, f"w{i}") for i, each in enumerate([store, *others]))
        )
    finally:
        for other in others:
            await other.close()

    claimed = [email_id for result in results for email_id in result]
    assert len(claimed) == total
    assert not [email_id for email_id, n in Counter(claimed).items() if n > 1]
    assert sum(1 for result in results if result) >= 2, "the claimers never overlapped"
    stats = await store.stats()
    assert stats.counts[EmailState.SENT] == total


@pytest.mark.slow
async def test_claiming_processes_never_share_an_email(database_url: str, tmp_path: Path) -> None:
    async with open_store(database_url) as store:
        total = await seed(store, 100)
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            CLAIMER,
            database_url,
            f"p{i}",
            ready[i],
            go,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(2)
    ]
    try:
        async with asyncio.timeout(60):
            # Both have opened the store (migrating at the same moment) before either claims.
            while not all(await asyncio.to_thread(lambda: [r.exists() for r in ready])):
                assert all(p.returncode is None for p in processes), "a claimer died early"
                await asyncio.sleep(0.01)
            await asyncio.to_thread(go.touch)
            outputs = [await p.communicate() for p in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()

    results = [json.loads(out) for out, _ in outputs]
    claimed = [email_id for result in results for email_id in result]
    assert len(claimed) == total
    assert len(set(claimed)) == total
    assert all(results), "one process claimed nothing: the processes never overlapped"


async def test_migrations_are_idempotent(database_url: str, clock: FakeClock) -> None:
    for _ in range(2):
        store = open_store(database_url, clock=clock)
        assert isinstance(store, SqlStore)
        async with store:
            assert await store.schema_version() == MIGRATIONS[-1].version
            await store.add_submission(
                Submission(name="n", email="v@example.org", message="m"),
                [build_email("notification")],
            )
    async with open_store(database_url, clock=clock) as store:
        assert len(await store.list_submissions()) == 2


async def test_concurrent_opens_migrate_once(database_url: str, clock: FakeClock) -> None:
    stores = [open_store(database_url, clock=clock) for _ in range(5)]
    await asyncio.gather(*(each.open() for each in stores))
    try:
        assert isinstance(stores[0], SqlStore)
        assert await stores[0].schema_version() == MIGRATIONS[-1].version
        rows = await stores[0]._fetch("SELECT version FROM schema_version ORDER BY version")
        assert [row["version"] for row in rows] == [m.version for m in MIGRATIONS]
    finally:
        for each in stores:
            await each.close()
