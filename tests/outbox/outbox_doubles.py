"""Test doubles and builders for the outbox tests (a module, so tests can import them)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from service.config import Settings
from service.message import Address, OutgoingEmail, make_message_id
from service.providers import Provider, SendResult

__all__ = [
    "SECRET_BODY",
    "VISITOR",
    "FakeClock",
    "ScriptedProvider",
    "Submit",
    "build_email",
]

VISITOR = "visitor.private@example.org"
SECRET_BODY = "please call me about the pricing of the enterprise plan"


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def build_email(kind: str, **changes: Any) -> OutgoingEmail:
    """A rendered email of ``kind`` with a fresh Message-ID."""
    fields: dict[str, Any] = {
        "kind": kind,
        "sender": Address("Acme", addr_spec="contact@acme.example"),
        "to": (Address("Owner", addr_spec="owner@acme.example"),),
        "subject": f"{kind} subject",
        "text": SECRET_BODY,
        "html": f"<p>{SECRET_BODY}</p>",
        "message_id": make_message_id("acme.example"),
        "reply_to": Address("Visitor", addr_spec=VISITOR),
        "headers": {"Auto-Submitted": "auto-generated"},
        "date": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    }
    fields.update(changes)
    return OutgoingEmail(**fields)


Submit = Callable[..., Awaitable[str]]


class ScriptedProvider(Provider):
    """A provider double: each send takes the next step of its script.

    A step is ``None`` (accept), an exception to raise, or an :class:`asyncio.Event`
    to wait for before accepting. Past the end of the script it accepts.
    """

    name = "scripted"

    def __init__(self, script: Iterable[BaseException | asyncio.Event | None] = ()) -> None:
        self.script = list(script)
        self.sent: list[str] = []
        self.started = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> Self:
        return cls()

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        self.started.set()
        step = self.script.pop(0) if self.script else None
        if isinstance(step, asyncio.Event):
            await step.wait()
        elif step is not None:
            raise step
        self.sent.append(email.message_id)
        return SendResult(provider=self.name, message_id=f"scripted-{len(self.sent)}")
