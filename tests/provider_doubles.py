"""Provider test doubles and builders, shared by the provider, outbox and API tests.

* :class:`ScriptedProvider`: the one stand-in for a provider, playing a script.
* :class:`FakeTime`: a monotonic clock (and sleep) for the chain.
* :data:`API_ACCEPTS`: how each HTTP API documents accepting a send.
* :func:`make_http_settings`: settings with every HTTP provider configured from
  the declarations: a distinct fake value for each secret (:data:`FAKE_SECRETS`),
  each other setting at its declared default (so the environment stays out),
  and :data:`SAMPLE_VALUES` for required settings that have no default.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from service.config import Settings, load_settings
from service.message import OutgoingEmail
from service.providers.base import Provider, SendResult
from service.providers.catalog import PROVIDERS
from service.providers.errors import MessageRejected, ProviderUnavailable, TransientError
from service.settings_groups import variables

__all__ = [
    "API_ACCEPTS",
    "FAKE_SECRETS",
    "SAMPLE_VALUES",
    "Accepts",
    "FakeTime",
    "ScriptedProvider",
    "Step",
    "make_http_settings",
    "provider_variables",
    "shows_a_secret",
]

Step = str | BaseException | asyncio.Event | None


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


class ScriptedProvider(Provider):
    """A provider whose ``deliver`` plays a script, one step per call; the last step repeats.

    A step is ``"sent"`` or ``None`` (accept); ``"transient"`` (421),
    ``"unavailable"`` (535) or ``"rejected"`` (550), raised as that kind; an
    exception instance, raised as is; or an :class:`asyncio.Event`, waited for
    before accepting. ``sent`` lists the Message-IDs accepted, ``received``
    every email handed over, ``calls`` counts calls, ``started`` is set at the
    first call. With a ``journal`` each call appends the name (the order
    providers were tried in); with a ``clock`` each call moves it by ``duration``.
    """

    def __init__(
        self,
        script: Sequence[Step] = ("sent",),
        *,
        name: str = "scripted",
        journal: list[str] | None = None,
        clock: FakeTime | None = None,
        duration: float = 0.0,
    ) -> None:
        self.name = name  # type: ignore[misc] - one class stands in for many providers
        self.script = list(script) or ["sent"]
        self.journal = journal
        self.clock = clock
        self.duration = duration
        self.calls = 0
        self.sent: list[str] = []
        self.received: list[OutgoingEmail] = []
        self.started = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> ScriptedProvider:
        return cls()

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        self.received.append(email)
        self.started.set()
        if self.journal is not None:
            self.journal.append(self.name)
        if self.clock is not None:
            self.clock.advance(self.duration)
        if isinstance(step, asyncio.Event):
            await step.wait()
        elif isinstance(step, BaseException):
            raise step
        elif step not in ("sent", None):
            raise _canned(step, self.name)
        self.sent.append(email.message_id)
        return SendResult(provider=self.name, message_id=f"{self.name}-{self.calls}")


def _canned(step: str, name: str) -> Exception:
    match step:
        case "transient":
            return TransientError("try again later", provider=name, code=421)
        case "unavailable":
            return ProviderUnavailable("authentication failed", provider=name, code=535)
        case "rejected":
            return MessageRejected("no such recipient", provider=name, code=550)
    raise ValueError(f"unknown scripted step {step!r}")


def provider_variables(name: str) -> dict[str, Any]:
    """Provider ``name``'s variables (lower case), valued as :func:`make_http_settings` does."""
    declaration = PROVIDERS[name]
    values: dict[str, Any] = {}
    for field, info in declaration.model_fields.items():
        key = declaration.variable(field).lower()
        if key in FAKE_SECRETS:
            values[key] = FAKE_SECRETS[key]
        elif key in SAMPLE_VALUES:
            values[key] = SAMPLE_VALUES[key]
        elif not info.is_required():
            values[key] = info.get_default(call_default_factory=True)
    return values


#: Values for required settings without a default, and for secrets with a format (add yours).
SAMPLE_VALUES: Mapping[str, Any] = {
    "email_address": "owner@example.com",
    "mailgun_domain": "mg.example.com",
    "aws_region": "eu-west-1",
    # The key first: shows_a_secret() looks for a secret's first 8 characters.
    "acs_connection_string": "accesskey="
    + base64.b64encode(b"fake-acs-access-key-for-tests-0001").decode()
    + ";endpoint=https://contoso.communication.azure.com/",
}


def _fake_secrets() -> dict[str, str]:
    # Distinct and recognisable, so a test can tell which one leaked.
    return {
        variable.key: SAMPLE_VALUES.get(variable.key)
        or f"fake-{variable.key.replace('_', '-')}-{index:04d}"
        for index, variable in enumerate(variables(Settings).values())
        if variable.secret and variable.path[0] == "provider_settings"
    }


#: A distinct fake value for every provider secret, by variable in lower case.
FAKE_SECRETS: Mapping[str, str] = _fake_secrets()


def shows_a_secret(text: str) -> bool:
    """True when ``text`` holds any fake provider secret, or its first 8 characters."""
    return any(secret[:8] in text for secret in FAKE_SECRETS.values())


def make_http_settings(**overrides: object) -> Settings:
    """Settings with every provider's variables set explicitly, plus ``overrides``."""
    values: dict[str, object] = {"http_timeout": 5.0, "retry_max_seconds": 20.0}
    for name in PROVIDERS:
        values.update(provider_variables(name))
    values.pop("email_file_dir", None)  # the file provider's folder comes from the test
    values.update(overrides)
    return load_settings(**values)


@dataclass(frozen=True)
class Accepts:
    """How an HTTP API documents accepting a send: the answer, and the id it gives."""

    url: str
    status: int
    message_id: str
    json: object = None
    headers: dict[str, str] = dataclass_field(default_factory=dict)


#: Each API's documented acceptance of a send, by provider (failover and send-test tests).
API_ACCEPTS: Mapping[str, Accepts] = {
    "brevo": Accepts(
        "https://api.brevo.com/v3/smtp/email",
        201,
        "<201798300811.5787683@smtp-relay.mailin.fr>",
        json={"messageId": "<201798300811.5787683@smtp-relay.mailin.fr>"},
    ),
    "mailjet": Accepts(
        "https://api.mailjet.com/v3.1/send",
        200,
        "123",
        json={
            "Messages": [
                {
                    "Status": "success",
                    "To": [{"Email": "sales@example.com", "MessageUUID": "123", "MessageID": 456}],
                }
            ]
        },
    ),
    "mailersend": Accepts(
        "https://api.mailersend.com/v1/email",
        202,
        "5e42957d51f1d94a1070a733",
        headers={"X-Message-Id": "5e42957d51f1d94a1070a733"},
    ),
    "mailgun": Accepts(
        "https://api.mailgun.net/v3/mg.example.com/messages",
        200,
        "<20261126093000.1.ABCDEF@mg.example.com>",
        json={"id": "<20261126093000.1.ABCDEF@mg.example.com>", "message": "Queued. Thank you."},
    ),
    "postmark": Accepts(
        "https://api.postmarkapp.com/email",
        200,
        "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
        json={
            "To": "sales@example.com",
            "SubmittedAt": "2026-11-26T09:30:00.0000000-05:00",
            "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
            "ErrorCode": 0,
            "Message": "OK",
        },
    ),
    "sendgrid": Accepts(
        "https://api.sendgrid.com/v3/mail/send",
        202,
        "mUkcMAx3Tq-c6dbB3Uqx1w",
        headers={"X-Message-Id": "mUkcMAx3Tq-c6dbB3Uqx1w"},
    ),
    # SendEmail's "Response Syntax" (API_SendEmail.html).
    "ses": Accepts(
        "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails",
        200,
        "0102018c1d2e3f40-5a6b7c8d-1e2f-4a5b-8c9d-0e1f2a3b4c5d-000000",
        json={"MessageId": "0102018c1d2e3f40-5a6b7c8d-1e2f-4a5b-8c9d-0e1f2a3b4c5d-000000"},
    ),
    # Email - Send: 202 with the operation's id and where to poll it.
    "acs": Accepts(
        "https://contoso.communication.azure.com/emails:send?api-version=2023-03-31",
        202,
        "a1b2c3d4-0000-4000-8000-000000000001",
        json={"id": "a1b2c3d4-0000-4000-8000-000000000001", "status": "Running"},
    ),
    "sparkpost": Accepts(
        "https://api.sparkpost.com/api/v1/transmissions",
        200,
        "11668787484950529",
        json={
            "results": {
                "total_rejected_recipients": 0,
                "total_accepted_recipients": 1,
                "id": "11668787484950529",
            }
        },
    ),
}
