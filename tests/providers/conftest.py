"""Fixtures for the provider tests: a test email, fake time and scripted providers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from service.config import Settings
from service.message import Address, OutgoingEmail
from service.providers.base import Provider, SendResult
from service.providers.errors import MessageRejected, ProviderUnavailable, TransientError

# Appears only in the email body: a log line containing it leaked the body.
CHAIN_BODY_MARKER = "body-marker-7f3a"


@pytest.fixture
def chain_email() -> OutgoingEmail:
    """A confirmation email whose body holds :data:`CHAIN_BODY_MARKER`."""
    return OutgoingEmail(
        kind="confirmation",
        sender=Address("Site", addr_spec="contact@example.com"),
        to=(Address("Zoë Visitor", addr_spec="visitor@example.org"),),
        subject="We received your message",
        text=f"Hello, {CHAIN_BODY_MARKER}",
        html=f"<p>Hello, {CHAIN_BODY_MARKER}</p>",
        message_id="<0123456789abcdef@example.com>",
        date=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


class FakeTime:
    """A monotonic clock that only moves when told to, and a sleep that moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    """Pass ``clock=fake_time, sleep=fake_time.sleep`` to a chain; nothing really sleeps."""
    return FakeTime()


Outcome = str | BaseException


class ScriptedProvider(Provider):
    """A provider whose ``deliver`` plays a script of outcomes; the last one repeats.

    An outcome is ``"sent"``, ``"transient"``, ``"unavailable"``, ``"rejected"``
    or an exception instance to raise as is. Each call is appended to the
    shared ``journal`` so tests can check the order providers were tried in.
    """

    def __init__(
        self,
        name: str,
        script: Sequence[Outcome],
        *,
        journal: list[str],
        clock: FakeTime,
        duration: float,
    ) -> None:
        self.name = name  # type: ignore[misc] - one class stands in for many providers
        self.script = list(script)
        self.journal = journal
        self.clock = clock
        self.duration = duration
        self.calls = 0

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> ScriptedProvider:
        raise NotImplementedError("built by the scripted_provider fixture")

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        outcome = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        self.journal.append(self.name)
        self.clock.advance(self.duration)
        match outcome:
            case "sent":
                return SendResult(provider=self.name, message_id=f"{self.name}-{self.calls}")
            case "transient":
                raise TransientError("try again later", provider=self.name, code=421)
            case "unavailable":
                raise ProviderUnavailable("authentication failed", provider=self.name, code=535)
            case "rejected":
                raise MessageRejected("no such recipient", provider=self.name, code=550)
            case BaseException():
                raise outcome
        raise ValueError(f"unknown scripted outcome {outcome!r}")


@pytest.fixture
def provider_journal() -> list[str]:
    """The names of scripted providers, one entry per ``deliver`` call, in call order."""
    return []


@pytest.fixture
def scripted_provider(
    fake_time: FakeTime, provider_journal: list[str]
) -> Callable[..., ScriptedProvider]:
    """Build a :class:`ScriptedProvider`: ``scripted_provider("smtp", ["transient", "sent"])``.

    ``duration`` is how far each call moves ``fake_time``.
    """

    def build(name: str, script: Sequence[Outcome], *, duration: float = 0.0) -> ScriptedProvider:
        return ScriptedProvider(
            name, script, journal=provider_journal, clock=fake_time, duration=duration
        )

    return build
