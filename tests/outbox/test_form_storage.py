"""Submissions keep their form, declared fields and consent records, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from outbox_doubles import VISITOR, FakeClock, build_email

from service.outbox import Store, open_store
from service.outbox.migrations import MIGRATIONS, SCHEMA_VERSION_TABLE
from service.submission import Answer, Consent, FormInfo, Submission

pytestmark = pytest.mark.asyncio

LABEL = "I agree that my application is kept for six months."


def application(clock: FakeClock) -> Submission:
    return Submission(
        name="Ada",
        email=VISITOR,
        form=FormInfo(id="careers", title="Careers"),
        answers=(
            Answer("position", "Position", "select", "Designer"),
            Answer("years", "Years", "number", 7),
            Answer("consent", LABEL, "consent", True),
        ),
        consents=(Consent("consent", LABEL, clock.now),),
    )


async def test_the_form_its_fields_and_the_consent_are_stored(
    store: Store, clock: FakeClock
) -> None:
    submission = application(clock)
    await store.add_submission(submission, [build_email("notification")])
    await store.add_submission(Submission(name="Bo", email=VISITOR, message="hi"), [])

    record = await store.get_submission(submission.id)
    assert record is not None
    assert record.form == "careers"
    assert record.message is None
    assert record.fields == {"position": "Designer", "years": 7, "consent": True}
    assert record.consent == [
        {"field": "consent", "label": LABEL, "given_at": clock.now.isoformat()}
    ]
    careers = await store.list_submissions(form="careers")
    assert [r.id for r in careers] == [submission.id]
    assert [r.form for r in await store.list_submissions(form="contact")] == ["contact"]
    assert len(await store.list_submissions()) == 2
    assert await store.list_submissions(form="nothing") == []


async def test_purge_forgets_the_fields_and_the_consent_but_not_the_form(
    store: Store, clock: FakeClock
) -> None:
    submission = application(clock)
    await store.add_submission(submission, [])
    clock.advance(days=31)
    await store.purge(retention=timedelta(days=30))
    record = await store.get_submission(submission.id)
    assert record is not None
    assert (record.name, record.fields, record.consent) == (None, None, None)
    assert record.form == "careers"


async def test_an_outbox_from_before_forms_is_migrated_in_place(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as conn:
        conn.execute(SCHEMA_VERSION_TABLE.format(ts="REAL"))
        for statement in MIGRATIONS[0].render(ts="REAL", json="TEXT"):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, 'first', 0)")
        conn.execute(
            "INSERT INTO submissions (id, created_at, name, email, company, message, extra)"
            " VALUES ('old', 1, 'Vera', 'v@example.org', '', 'hello', '{}')"
        )
    async with open_store(f"sqlite:///{path}", clock=clock) as store:
        old = await store.get_submission("old")
        assert old is not None
        assert (old.form, old.message, old.fields, old.consent) == ("contact", "hello", {}, None)
        assert await store.schema_version() == len(MIGRATIONS)
