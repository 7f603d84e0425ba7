"""What only the SQLite store promises: the file, its location, durability and writer lock."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from outbox_doubles import VISITOR, build_email

from service.outbox import StoreError, open_store
from service.outbox.sqlite import SqliteStore
from service.submission import Submission


async def test_relative_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///var/outbox.db")
    assert isinstance(store, SqliteStore)
    assert not (tmp_path / "var").exists(), "open_store must not touch the disk"

    async with store:
        assert (tmp_path / "var" / "outbox.db").is_file()


async def test_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "outbox.db"
    async with open_store(f"sqlite:///{target}"):
        assert target.is_file()


async def test_file_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    target = tmp_path / "outbox.db"
    store = open_store(f"sqlite:///{target}")
    assert isinstance(store, SqliteStore)
    async with store:
        synchronous = await store._call(
            lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]
        )
        assert synchronous == 2  # FULL
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_unusable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = open_store(f"sqlite:///{blocker}/outbox.db")
    with pytest.raises(StoreError, match="DATABASE_URL: cannot open"):
        await store.open()


async def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    async with store:
        pass
    with pytest.raises(StoreError, match="not open"):
        await store.stats()
    await store.close()


@pytest.mark.parametrize(
    "url", ["sqlite:///", "sqlite:///:memory:", "mysql://db/outbox", "outbox.db"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreError, match="DATABASE_URL"):
        open_store(url)


async def test_claiming_walks_the_due_index_instead_of_sorting_every_due_email(
    tmp_path: Path,
) -> None:
    # Left to itself, SQLite's planner (no statistics) took the state index and
    # sorted every due email inside the write transaction: with a backlog of
    # 8000 emails a claim held the lock POST /api/contact needs for 45 ms.
    store = open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    assert isinstance(store, SqliteStore)
    async with store:
        statements: list[str] = []
        await store._call(lambda conn: conn.set_trace_callback(statements.append))
        await store.claim_due("worker", 8, 60)
        claim = next(sql for sql in statements if sql.lstrip().startswith("UPDATE emails"))
        plan = await store._call(
            lambda conn: [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {claim}")]
        )
    assert any("USING INDEX emails_due" in step for step in plan), plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan


async def test_writers_queue_on_a_lock_file_that_wakes_them_at_once(tmp_path: Path) -> None:
    # Another process's writer holding the flock, as during its group commit.
    target = tmp_path / "outbox.db"
    async with open_store(f"sqlite:///{target}") as store:
        lock = os.open(f"{target}-lock", os.O_RDWR)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            writing = asyncio.create_task(
                store.add_submission(
                    Submission(name="Vera", email=VISITOR, message="hi"),
                    [build_email("notification")],
                )
            )
            done, _ = await asyncio.wait({writing}, timeout=0.3)
            assert not done, "the write did not wait for the lock holder"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)
        result = await writing
        assert [s.id for s in await store.list_submissions()] == [result.submission_id]


async def test_a_writer_gives_up_on_a_lock_holder_that_never_lets_go(tmp_path: Path) -> None:
    # A holder that is alive but stopped (SIGSTOP, a frozen container) keeps its
    # flock: writers fail after the busy timeout instead of hanging, and reads go on.
    target = tmp_path / "outbox.db"
    async with SqliteStore(target, busy_timeout=0.2) as store:
        lock = os.open(f"{target}-lock", os.O_RDWR)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            submission = Submission(name="Vera", email=VISITOR, message="hi")
            async with asyncio.timeout(5):
                with pytest.raises(StoreError, match=r"write lock for 0\.2 s"):
                    await store.add_submission(submission, [build_email("notification")])
                assert (await store.stats()).depth == 0
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)
        await store.add_submission(submission, [build_email("notification")])
        assert [s.id for s in await store.list_submissions()] == [submission.id]
