"""``POST /api/webhooks/{sparkpost,acs,ses}`` through the app: recorded, refused, handshakes,
and end to end (sent through a stub of the provider's API, bounced, the next confirmation held).

SNS's signing certificate and subscription URL are served by respx in front of
the app's shared httpx client; the test client talks to the app over ASGI.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from service.message import Address, OutgoingEmail, make_message_id
from service.outbox import EmailRecord, EmailState, Store
from service.submission import Submission
from tests.api.served import served
from tests.aws_doubles import aws_environment
from tests.provider_doubles import API_ACCEPTS, provider_variables
from tests.webhooks import payloads
from tests.webhooks.signing import MORE_PROVIDERS, SNS_CERT_URL, SNS_REGION, MoreSigner, more_signer

TOKEN = "t" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OWNER = "owner@example.com"
VISITOR = "vera.visitor@example.org"
SUBSCRIBE_URL = f"https://sns.{SNS_REGION}.amazonaws.com/?Action=ConfirmSubscription&Token=ab12"


@dataclass
class Hooked:
    """A served app with the three webhooks configured, their signers, a client and respx."""

    app: Sanic
    client: httpx.AsyncClient
    signers: dict[str, MoreSigner]
    aws: respx.MockRouter

    @property
    def store(self) -> Store:
        return self.app.ctx.store

    async def post(self, provider: str, payload: Any, **options: Any) -> httpx.Response:
        sign = self.signers[provider]
        headers, body = sign.request(payload, **options)
        return await self.send(provider, headers, body, sign.query())

    async def send(
        self, provider: str, headers: dict[str, str], body: bytes, query: dict[str, str]
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/webhooks/{provider}", content=body, headers=headers, params=query
        )

    async def sent_confirmation(self, provider: str) -> tuple[str, str]:
        """A submission whose emails ``provider`` accepted: the confirmation id, its provider id."""
        new = Submission(name="Vera", email=VISITOR, message="Hello")
        emails = [build(kind) for kind in ("notification", "confirmation")]
        await self.store.add_submission(new, emails)
        found = ("", "")
        for _ in emails:
            (claim,) = await self.store.claim_due("test", 1, 60)
            message_id = f"{provider}-{claim.id}"
            await self.store.mark_sent(claim, provider=provider, provider_message_id=message_id)
            if claim.kind == "confirmation":
                found = (claim.id, message_id)
        return found


def build(kind: str) -> OutgoingEmail:
    return OutgoingEmail(
        kind=kind,
        sender=Address("Site", addr_spec=OWNER),
        to=(Address(addr_spec=OWNER if kind == "notification" else VISITOR),),
        subject=kind,
        text="body",
        html="<p>body</p>",
        message_id=make_message_id("example.com"),
    )


def bounce(provider: str, message_id: str, *, event: str = "bounced", event_id: str = "") -> Any:
    """The provider's documented hard bounce (or ``event``) for ``message_id``."""
    event_id = event_id or uuid.uuid4().hex
    if provider == "sparkpost":
        return [
            payloads.sparkpost(event, transmission_id=message_id, to=VISITOR, event_id=event_id)
        ]
    if provider == "acs":
        status = payloads.ACS_STATUSES[event]
        return [payloads.acs(status, message_id=message_id, to=VISITOR, event_id=event_id)]
    return payloads.ses(event, message_id=message_id, to=VISITOR)


@pytest.fixture
async def hooked(make_settings: Callable[..., Settings]) -> AsyncIterator[Hooked]:
    signers = {provider: more_signer(provider) for provider in MORE_PROVIDERS}
    settings = make_settings(
        admin_token=TOKEN,
        email_from=OWNER,
        contact_recipients=OWNER,
        metrics_enabled=True,
        **{sign.setting: sign.secret for sign in signers.values()},
    )
    app = create_app(settings=settings)
    try:
        with respx.mock(assert_all_called=False) as aws:
            aws.get(SNS_CERT_URL).respond(200, content=signers["ses"].certificate)
            async with served(app) as client:
                await app.ctx.worker.stop(grace=0)  # the tests put emails in place themselves
                yield Hooked(app, client, signers, aws)
    finally:
        Sanic._app_registry.pop(app.name, None)


@pytest.mark.parametrize("provider", MORE_PROVIDERS)
async def test_a_bounce_is_recorded_suppressed_and_listed(hooked: Hooked, provider: str) -> None:
    email_id, message_id = await hooked.sent_confirmation(provider)
    response = await hooked.post(provider, bounce(provider, message_id))
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "events": {"bounced": 1}}
    page = (await hooked.client.get("/api/admin/outbox", headers=AUTH)).json()
    (shown,) = [e for e in page["emails"] if e["id"] == email_id]
    assert shown["delivery"] == "bounced"
    assert [(e["provider"], e["bounce"]) for e in shown["events"]] == [(provider, "hard")]
    assert await hooked.store.is_suppressed(VISITOR)


@pytest.mark.parametrize("provider", MORE_PROVIDERS)
async def test_wrong_credentials_are_401_and_record_nothing(hooked: Hooked, provider: str) -> None:
    email_id, message_id = await hooked.sent_confirmation(provider)
    impostor = more_signer(provider)
    headers, body = impostor.request(bounce(provider, message_id))
    response = await hooked.send(provider, headers, body, impostor.query())
    assert response.status_code == 401
    assert hooked.signers[provider].secret not in response.text
    assert await hooked.store.events_of([email_id]) == {}
    assert not await hooked.store.is_suppressed(VISITOR)


@pytest.mark.parametrize("provider", MORE_PROVIDERS)
async def test_a_replayed_event_is_recorded_once(hooked: Hooked, provider: str) -> None:
    email_id, message_id = await hooked.sent_confirmation(provider)
    payload = bounce(provider, message_id, event="delivered", event_id="same")
    first = await hooked.post(provider, payload, event_id="sns-same")
    again = await hooked.post(provider, payload, event_id="sns-same")
    assert first.json()["events"] == {"delivered": 1}
    assert again.json()["events"] == {"duplicate": 1}
    assert len((await hooked.store.events_of([email_id]))[email_id]) == 1


async def test_event_grid_validation_is_answered_only_with_the_token(hooked: Hooked) -> None:
    validation = payloads.event_grid_validation("512d38b6-c7b8-40c8-89fe-f46f9e9622b6")
    answered = await hooked.post("acs", validation)
    assert answered.status_code == 200
    assert answered.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    headers, body = hooked.signers["acs"].request(validation)
    assert (await hooked.send("acs", headers, body, {})).status_code == 401


async def test_sns_subscription_is_confirmed_through_the_shared_client(hooked: Hooked) -> None:
    confirm = hooked.aws.get(SUBSCRIBE_URL).respond(200, text="<ConfirmSubscriptionResponse/>")
    envelope = hooked.signers["ses"].sns_envelope(
        "SubscriptionConfirmation",
        Message="You have chosen to subscribe to the topic.",
        SubscribeURL=SUBSCRIBE_URL,
        Token="ab12",
    )
    response = await hooked.send("ses", {}, json.dumps(envelope).encode(), {})
    assert response.status_code == 200
    assert response.json() == {"success": True, "subscribed": True}
    assert confirm.call_count == 1


async def test_sns_stale_timestamp_is_refused(hooked: Hooked) -> None:
    email_id, message_id = await hooked.sent_confirmation("ses")
    old = datetime.now(UTC) - timedelta(minutes=6)
    response = await hooked.post("ses", bounce("ses", message_id), when=old)
    assert response.status_code == 401
    assert await hooked.store.events_of([email_id]) == {}


async def test_sns_certificate_unavailable_is_503_and_records_nothing(hooked: Hooked) -> None:
    email_id, message_id = await hooked.sent_confirmation("ses")
    hooked.aws.get(SNS_CERT_URL).respond(500)
    response = await hooked.post("ses", bounce("ses", message_id))
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert await hooked.store.events_of([email_id]) == {}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(provider=st.sampled_from(MORE_PROVIDERS), value=JSON_VALUES, signed=st.booleans())
async def test_any_signed_body_is_answered_without_a_server_error(
    hooked: Hooked, provider: str, value: Any, signed: bool
) -> None:
    """SES: any value as the SNS Message, or as the whole body; others: any JSON value."""
    sign = hooked.signers[provider]
    if signed:
        headers, body = sign.request(json.dumps(value) if provider == "ses" else value)
    else:
        headers, body = {}, json.dumps(value).encode()
    response = await hooked.send(provider, headers, body, sign.query())
    assert response.status_code in (200, 400, 401), response.text
    assert response.json().get("success", True) is (response.status_code == 200)


def accepted(provider: str, provider_id: str) -> httpx.Response:
    """The provider's documented acceptance of a send (API_ACCEPTS), naming ``provider_id``."""
    documented = API_ACCEPTS[provider]
    answer = json.loads(json.dumps(documented.json).replace(documented.message_id, provider_id))
    return httpx.Response(documented.status, json=answer, headers=documented.headers)


@pytest.mark.parametrize("provider", MORE_PROVIDERS)
async def test_end_to_end_a_bounce_stops_the_next_confirmation(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    """Sent through a stub of the provider's API; its bounce for the confirmation comes
    back signed; the visitor's next submission stores and sends the notification only."""
    for key, value in aws_environment().items():  # what SES's credential chain finds
        monkeypatch.setenv(key, value)
    sign = more_signer(provider)
    variables = {k: v for k, v in provider_variables(provider).items() if v is not None}
    settings = make_settings(
        email_from=OWNER,
        contact_recipients=OWNER,
        email_providers=provider,
        **{**variables, sign.setting: sign.secret},
    )
    provider_ids: list[str] = []

    def accept(request: httpx.Request) -> httpx.Response:
        provider_ids.append(f"{provider}-{uuid.uuid4().hex}")
        return accepted(provider, provider_ids[-1])

    app = create_app(settings=settings)
    form = {"name": "Vera Visitor", "email": VISITOR, "message": "Hello, a quote please."}
    try:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(API_ACCEPTS[provider].url).mock(side_effect=accept)
            mock.get(SNS_CERT_URL).respond(200, content=sign.certificate)
            async with served(app) as client:
                hooked = Hooked(app, client, {provider: sign}, mock)
                first = (await client.post("/api/contact", json=form)).json()["id"]
                (confirmation,) = [
                    e
                    for e in await sent_emails(app.ctx.store, first, 2)
                    if e.kind == "confirmation"
                ]
                assert confirmation.provider_message_id == provider_ids[1]
                response = await hooked.post(provider, bounce(provider, provider_ids[1]))
                assert response.json() == {"success": True, "events": {"bounced": 1}}
                assert await hooked.store.is_suppressed(VISITOR)

                second = (await client.post("/api/contact", json=form)).json()["id"]
                (only,) = await sent_emails(app.ctx.store, second, 1)
                assert only.kind == "notification"
                assert len(provider_ids) == 3
    finally:
        Sanic._app_registry.pop(app.name, None)


async def sent_emails(store: Store, submission_id: str, count: int) -> list[EmailRecord]:
    """The submission's emails once ``count`` of them are recorded as sent (polled)."""
    async with asyncio.timeout(15):
        while True:
            emails = await store.emails_of([submission_id])
            if sum(email.state == EmailState.SENT for email in emails) == count:
                return emails
            await asyncio.sleep(0.02)
