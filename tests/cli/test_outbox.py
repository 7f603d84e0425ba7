"""``python -m service outbox ...``: output for people, exit codes for scripts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from service.cli import main
from service.config import load_settings
from service.emails import EmailRenderer, compose_notification, sample_submission
from service.outbox import EmailState, open_store
from service.submission import Submission


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def seed_dead_email(database_url: str) -> str:
    """Store one submission whose only email gave up; return the email's id."""

    async def seed() -> str:
        email = compose_notification(sample_submission(), load_settings(), EmailRenderer())
        async with open_store(database_url) as store:
            await store.add_submission(
                Submission(name="A", email="a@example.org", message="m"), [email]
            )
            (claim,) = await store.claim_due("cli-test", 1, 60)
            await store.mark_dead(claim, error="resend: unavailable [401]")
            return claim.id

    return asyncio.run(seed())


def email_state(database_url: str, email_id: str) -> EmailState:
    async def read() -> EmailState:
        async with open_store(database_url) as store:
            record = await store.get_email(email_id)
            assert record is not None
            return record.state

    return asyncio.run(read())


def test_stats_on_an_empty_outbox_exits_0(database_url: str, capsys) -> None:
    assert main(["outbox", "stats"]) == 0
    out = capsys.readouterr().out
    assert "pending   0" in out
    assert "oldest unsent: -" in out


def test_stats_exits_1_when_an_email_is_dead(database_url: str, capsys) -> None:
    seed_dead_email(database_url)
    assert main(["outbox", "stats"]) == 1
    assert "dead      1" in capsys.readouterr().out


def test_list_filters_by_state(database_url: str, capsys) -> None:
    email_id = seed_dead_email(database_url)
    assert main(["outbox", "list", "--state", "dead"]) == 0
    out = capsys.readouterr().out
    assert email_id in out
    assert "resend: unavailable [401]" in out
    assert main(["outbox", "list", "--state", "sent"]) == 0
    assert email_id not in capsys.readouterr().out


def test_retry_one_email_puts_it_back_in_the_queue(database_url: str, capsys) -> None:
    email_id = seed_dead_email(database_url)
    assert main(["outbox", "retry", email_id]) == 0
    assert email_state(database_url, email_id) is EmailState.PENDING
    assert main(["outbox", "retry", email_id]) == 1
    assert "no dead or rejected email" in capsys.readouterr().out


def test_retry_dead_requeues_all_of_them(database_url: str, capsys) -> None:
    email_id = seed_dead_email(database_url)
    assert main(["outbox", "retry", "--dead"]) == 0
    assert "re-queued 1 email(s)" in capsys.readouterr().out
    assert email_state(database_url, email_id) is EmailState.PENDING
    assert main(["outbox", "retry", "--dead"]) == 1


def test_purge_reports_what_it_did(database_url: str, capsys) -> None:
    assert main(["outbox", "purge"]) == 0
    assert "purged personal data of 0 email(s)" in capsys.readouterr().out


def test_a_configuration_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert main(["outbox", "stats"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "service: cannot start: DATABASE_URL: must start with sqlite:/// or postgresql://"
    )
