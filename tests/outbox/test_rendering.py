"""Emails stored as recipes are rendered by the worker that claims them, once.

Real stores (SQLite and, when configured, PostgreSQL), the real renderer with an
operator's template folder (development: it reloads edited files), the real
chain. What the API stores is built as the API builds it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from outbox_doubles import SECRET_BODY, VISITOR, FakeClock

from service.config import Settings
from service.emails import EmailRenderer
from service.emails.compose import (
    compose_confirmation,
    compose_notification,
    new_message_id,
    notified,
)
from service.message import OutgoingEmail
from service.outbox import DeliveryWorker, EmailState, Store
from service.outbox.delivery import DeliveryEvent
from service.outbox.recipes import EmailRecipe, recipe_of
from service.outbox.rendering import ClaimRenderer
from service.providers import ProviderChain, ProviderUnavailable
from service.submission import Answer, FormInfo, Submission
from tests.provider_doubles import ScriptedProvider

TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """The operator's template folder (empty: the built-in templates apply)."""
    folder = tmp_path / "templates"
    folder.mkdir()
    return folder


@pytest.fixture
def mail_settings(make_settings, templates: Path) -> Settings:
    return make_settings(
        email_from="owner@example.com",
        contact_recipients="sales@example.com",
        email_templates_dir=templates,
    )


@pytest.fixture
def renderer(mail_settings: Settings) -> EmailRenderer:
    renderer = EmailRenderer.from_settings(mail_settings)
    assert renderer.auto_reload  # development: an edited template is used at the next render
    return renderer


def lead(clock: FakeClock) -> Submission:
    """A careers application with declared fields, in Dutch, accepted a second ago."""
    return Submission(
        name="Vera Visitor",
        email=VISITOR,
        message=SECRET_BODY,
        form=FormInfo(id="careers", title="Careers", recipients=("hr@example.com",), company=False),
        answers=(
            Answer("role", "Role", "text", "Designer"),
            Answer("years", "Years of experience", "number", 7),
        ),
        created_at=clock.now - timedelta(seconds=1),
        locale="nl",
    )


def recipes(submission: Submission, settings: Settings) -> list[EmailRecipe]:
    """What the API stores: one recipe per email, the Message-IDs fixed."""
    recipe = recipe_of(submission, recipients=notified(submission, settings), trace=TRACE)
    return [
        EmailRecipe(kind, new_message_id(settings), recipe, to_visitor=kind == "confirmation")
        for kind in ("notification", "confirmation")
    ]


async def stored_columns(store: Store) -> list[tuple[bool, bool]]:
    """For each email in order: (has a body, has a recipe)."""
    rows = await store._fetch("SELECT body, recipe FROM emails ORDER BY seq")
    return [(row["body"] is not None, row["recipe"] is not None) for row in rows]


async def stored_bodies(store: Store) -> list[OutgoingEmail]:
    rows = await store._fetch("SELECT body, dictionary_id FROM emails ORDER BY seq")
    return [store.packer.stored(row["body"], row["dictionary_id"]).email() for row in rows]


def without_boundary(message: bytes) -> bytes:
    """The bytes of a message with its random MIME boundary replaced by a fixed one."""
    (boundary,) = set(re.findall(rb'boundary="([^"]+)"', message))
    return message.replace(boundary, b"BOUNDARY")


BROKEN = ("notification.subject", "confirmation.subject")


def break_template(templates: Path) -> None:
    for name in BROKEN:
        (templates / name).write_text("{% if %}broken\n")


def mend_template(templates: Path) -> None:
    for name in BROKEN:
        (templates / name).unlink()


async def test_the_worker_renders_each_email_from_its_recipe_and_keeps_the_body(
    store: Store, clock: FakeClock, mail_settings: Settings, renderer: EmailRenderer
) -> None:
    submission = lead(clock)
    stored = recipes(submission, mail_settings)
    await store.add_submission(submission, stored)
    assert await stored_columns(store) == [(False, True), (False, True)]

    provider = ScriptedProvider(["sent"])
    render = ClaimRenderer(store, mail_settings, renderer)
    worker = DeliveryWorker(store, ProviderChain([provider]), render=render)
    delivered = await worker.run_once() + await worker.run_once()

    assert [(d.kind, d.state) for d in delivered] == [
        ("notification", EmailState.SENT),
        ("confirmation", EmailState.SENT),
    ]
    # What was sent is what composing at submission would have made, with the
    # Message-IDs and trace context stored then.
    composed = [
        compose_notification(submission, mail_settings, renderer),
        compose_confirmation(submission, mail_settings, renderer),
    ]
    expected = [
        replace(email, message_id=recipe.message_id, trace=TRACE)
        for email, recipe in zip(composed, stored, strict=True)
    ]
    assert [replace(email, outbox_id=None) for email in provider.received] == expected
    notification, confirmation = provider.received
    assert [str(address) for address in notification.to] == ["hr@example.com"]
    assert "Years of experience" in notification.text
    assert confirmation.headers["Content-Language"] == "nl"
    assert notification.date == submission.created_at
    # Rendered once: the bodies are stored and the recipes emptied.
    assert await stored_columns(store) == [(True, False), (True, False)]
    assert await stored_bodies(store) == expected


async def test_a_retry_sends_the_stored_email_without_rendering_it_again(
    store: Store,
    clock: FakeClock,
    mail_settings: Settings,
    renderer: EmailRenderer,
    templates: Path,
) -> None:
    submission = lead(clock)
    (notification,) = recipes(submission, mail_settings)[:1]
    await store.add_submission(submission, [notification])
    provider = ScriptedProvider([ProviderUnavailable("down", provider="scripted"), "sent"])
    render = ClaimRenderer(store, mail_settings, renderer)
    worker = DeliveryWorker(store, ProviderChain([provider]), render=render)

    (failed,) = await worker.run_once()
    assert failed.state is EmailState.RETRYING
    # Rendering again would now fail: a retry that succeeds sent the stored body.
    break_template(templates)
    assert failed.next_attempt_at is not None
    clock.now = failed.next_attempt_at
    (sent,) = await worker.run_once()

    assert (sent.state, sent.attempt) == (EmailState.SENT, 2)
    first, second = provider.received
    assert second == first
    assert second.message_id == notification.message_id
    assert without_boundary(second.to_bytes()) == without_boundary(first.to_bytes())


async def test_a_template_broken_at_claim_time_fails_the_email_and_keeps_the_lead(
    store: Store,
    clock: FakeClock,
    mail_settings: Settings,
    renderer: EmailRenderer,
    templates: Path,
) -> None:
    submission = lead(clock)
    (notification,) = recipes(submission, mail_settings)[:1]
    await store.add_submission(submission, [notification])
    break_template(templates)
    provider = ScriptedProvider(["sent"])
    render = ClaimRenderer(store, mail_settings, renderer)
    worker = DeliveryWorker(
        store, ProviderChain([provider]), render=render, max_age=timedelta(hours=1)
    )

    (failed,) = await worker.run_once()

    assert failed.state is EmailState.RETRYING
    record = await store.get_email(failed.email_id)
    assert record is not None
    assert record.last_error is not None
    assert record.last_error.startswith("could not render the notification: TemplateError: ")
    assert provider.calls == 0
    assert failed.next_attempt_at is not None
    clock.now = failed.next_attempt_at + timedelta(hours=1)
    (dead,) = await worker.run_once()
    assert dead.state is EmailState.DEAD
    assert provider.calls == 0
    # The lead and what its email is rendered from stay: fixed templates and a
    # re-queue send it.
    kept = await store.get_submission(submission.id)
    assert kept is not None
    assert (kept.name, kept.email, kept.message) == ("Vera Visitor", VISITOR, SECRET_BODY)
    assert await stored_columns(store) == [(False, True)]
    mend_template(templates)
    assert await store.requeue(dead.email_id)
    (sent,) = await worker.run_once()
    assert sent.state is EmailState.SENT
    assert provider.sent == [notification.message_id]


async def test_without_a_renderer_an_email_stored_as_a_recipe_fails_its_attempt(
    store: Store, clock: FakeClock, mail_settings: Settings
) -> None:
    submission = lead(clock)
    await store.add_submission(submission, recipes(submission, mail_settings))
    provider = ScriptedProvider(["sent"])

    (failed,) = await DeliveryWorker(store, ProviderChain([provider])).run_once()

    assert failed.state is EmailState.RETRYING
    assert failed.error == "unexpected NotRendered"
    assert provider.calls == 0


async def test_purge_empties_the_recipe_of_an_email_that_was_never_rendered(
    store: Store, clock: FakeClock, mail_settings: Settings
) -> None:
    submission = lead(clock)
    await store.add_submission(submission, recipes(submission, mail_settings)[:1])
    (claim,) = await store.claim_due("w1", 1, 60)
    assert await store.mark_dead(claim, error="gave up")
    clock.advance(days=31)

    result = await store.purge(retention=timedelta(days=30))

    assert (result.emails, result.submissions) == (1, 1)
    assert await stored_columns(store) == [(False, False)]


async def test_a_suppressed_visitor_gets_no_confirmation_and_the_owner_is_told(
    store: Store, clock: FakeClock, mail_settings: Settings, renderer: EmailRenderer
) -> None:
    provider = ScriptedProvider(["sent"])
    render = ClaimRenderer(store, mail_settings, renderer)
    worker = DeliveryWorker(store, ProviderChain([provider]), render=render)
    first = lead(clock)
    await store.add_submission(first, recipes(first, mail_settings))
    sent = await worker.run_once() + await worker.run_once()
    confirmation = next(d for d in sent if d.kind == "confirmation")
    bounce = DeliveryEvent(
        provider="scripted",
        event_id="b-1",
        event="bounced",
        occurred_at=clock.now,
        outbox_id=confirmation.email_id,
        bounce="hard",
    )
    assert (await store.record_event(bounce)).suppressed

    again = replace(lead(clock), id="second")
    await store.add_submission(again, recipes(again, mail_settings))
    (notified_only,) = await worker.run_once()

    assert notified_only.kind == "notification"
    assert [email.kind for email in await store.emails_of(["second"])] == ["notification"]
    warning = "bounced or reported our email as spam before"
    assert warning in provider.received[-1].text
    assert warning not in provider.received[0].text


async def test_a_confirmation_suppressed_while_it_waited_is_checked_by_the_write_of_its_body(
    store: Store, clock: FakeClock, mail_settings: Settings, renderer: EmailRenderer
) -> None:
    provider = ScriptedProvider(["sent"])
    render = ClaimRenderer(store, mail_settings, renderer)
    worker = DeliveryWorker(store, ProviderChain([provider]), render=render)
    submission = lead(clock)
    await store.add_submission(submission, recipes(submission, mail_settings))
    (notified_first,) = await worker.run_once()
    (confirmation,) = [
        e for e in await store.emails_of([submission.id]) if e.kind != "notification"
    ]
    # The visitor's address bounces (an earlier confirmation) while this one waits.
    bounce = DeliveryEvent(
        provider="scripted",
        event_id="b-1",
        event="bounced",
        occurred_at=clock.now,
        outbox_id=confirmation.id,
        bounce="hard",
    )
    assert (await store.record_event(bounce)).suppressed
    looked_up_alone: list[str] = []
    lookup = store.is_suppressed

    async def spy(address: str) -> bool:
        looked_up_alone.append(address)
        return await lookup(address)

    store.is_suppressed = spy  # type: ignore[method-assign]

    (skipped,) = await worker.run_once()

    assert notified_first.state is EmailState.SENT
    assert (skipped.kind, skipped.state, skipped.suppressed) == (
        "confirmation",
        EmailState.REJECTED,
        True,
    )
    assert len(provider.received) == 1
    assert looked_up_alone == []
    assert await stored_columns(store) == [(True, False), (True, False)]
