"""Test doubles and builders for the outbox tests (a module, so tests can import them).

The provider double is :class:`tests.provider_doubles.ScriptedProvider`, shared with the
provider tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from service.message import Address, OutgoingEmail, make_message_id

__all__ = [
    "SECRET_BODY",
    "VISITOR",
    "FakeClock",
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
