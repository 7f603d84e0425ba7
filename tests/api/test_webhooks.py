"""``POST /api/webhooks/{provider}`` through the app: refusals, replays, alarms, end to end."""

from __future__ import annotations

import asyncio
import json
import logging
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
from service.outbox.delivery import EVENTS_KEPT
from service.submission import Submission
from tests.api.served import served
from tests.webhooks import payloads
from tests.webhooks.signing import PROVIDERS, Signer, signer

TOKEN = "t" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OWNER = "owner@example.com"
VISITOR = "vera.visitor@example.org"
POSTMARK_API = "https://postmark.test/email"


@dataclass
class Hooked:
    """A served app with every provider's webhook configured, its signers and a client."""

    app: Sanic
    client: httpx.AsyncClient
    signers: dict[str, Signer]

    @property
    def store(self) -> Store:
        return self.app.ctx.store

    async def post(self, provider: str, payload: Any, **options: Any) -> httpx.Response:
        headers, body = self.signers[provider].request(payload, **options)
        return await self.client.post(f"/api/webhooks/{provider}", content=body, headers=headers)

    async def sent_lead(self, provider: str) -> dict[str, str]:
        """A submission whose two emails ``provider`` accepted; email ids by kind."""
        new = Submission(name="Vera", email=VISITOR, message="Hello")
        emails = [build(kind, new.id) for kind in ("notification", "confirmation")]
        await self.store.add_submission(new, emails)
        ids = {}
        for _ in emails:
            (claim,) = await self.store.claim_due("test", 1, 60)
            await self.store.mark_sent(
                claim, provider=provider, provider_message_id=f"{provider}-{new.id}-{claim.kind}"
            )
            ids[claim.kind] = claim.id
        return ids


def build(kind: str, submission_id: str) -> OutgoingEmail:
    return OutgoingEmail(
        kind=kind,
        sender=Address("Site", addr_spec=OWNER),
        to=(Address(addr_spec=OWNER if kind == "notification" else VISITOR),),
        subject=kind,
        text="body",
        html="<p>body</p>",
        message_id=make_message_id("example.com"),
    )


def bounce_payload(provider: str, message_id: str, *, to: str = VISITOR, **extra: Any) -> Any:
    """The provider's documented hard bounce for ``message_id``."""
    event_id = extra.pop("event_id", uuid.uuid4().hex)
    event = extra.pop("event", "bounced")
    if provider == "resend":
        return payloads.resend(event, email_id=message_id, to=to)
    if provider == "postmark":
        return payloads.postmark(event, message_id=message_id, to=to)
    if provider == "sendgrid":
        return [payloads.sendgrid(event, message_id=message_id, to=to, event_id=event_id)]
    if provider == "brevo":
        return payloads.brevo(event, message_id=message_id, to=to)
    if provider == "mailjet":
        return [payloads.mailjet(event, message_id=message_id, to=to)]
    if provider == "mailersend":
        return payloads.mailersend(event, message_id=message_id, to=to, event_id=event_id)
    return payloads.mailgun(event, message_id=message_id, to=to, event_id=event_id)


def secrets_of(signers: dict[str, Signer]) -> dict[str, str]:
    return {sign.setting: sign.secret for sign in signers.values()}


@pytest.fixture
def signers() -> dict[str, Signer]:
    return {provider: signer(provider) for provider in PROVIDERS}


@pytest.fixture
async def hooked(
    make_settings: Callable[..., Settings], signers: dict[str, Signer]
) -> AsyncIterator[Hooked]:
    settings = make_settings(
        admin_token=TOKEN,
        email_from=OWNER,
        contact_recipients=OWNER,
        metrics_enabled=True,
        **secrets_of(signers),
    )
    app = create_app(settings=settings)
    try:
        async with served(app) as client:
            await app.ctx.worker.stop(grace=0)  # the tests put emails in place themselves
            yield Hooked(app, client, signers)
    finally:
        Sanic._app_registry.pop(app.name, None)


async def events_of(hooked: Hooked, ids: dict[str, str]) -> dict[str, Any]:
    return await hooked.store.events_of(list(ids.values()))


async def test_without_a_secret_there_is_no_route(app: Sanic) -> None:
    async with served(app) as client:
        for provider in PROVIDERS:
            response = await client.post(f"/api/webhooks/{provider}", content=b"{}")
            assert response.status_code == 404


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_bounce_is_recorded_and_shown_in_the_admin_listing(
    hooked: Hooked, provider: str
) -> None:
    ids = await hooked.sent_lead(provider)
    email = await hooked.store.get_email(ids["confirmation"])
    assert email is not None
    message_id = email.provider_message_id or ""
    response = await hooked.post(provider, bounce_payload(provider, message_id))
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "events": {"bounced": 1}}
    page = (await hooked.client.get("/api/admin/outbox", headers=AUTH)).json()
    (shown,) = [e for e in page["emails"] if e["id"] == ids["confirmation"]]
    assert shown["delivery"] == "bounced"
    assert [(e["provider"], e["event"], e["bounce"]) for e in shown["events"]] == [
        (provider, "bounced", "hard")
    ]
    assert VISITOR not in json.dumps(page)
    suppressed = (await hooked.client.get("/api/admin/suppressions", headers=AUTH)).json()
    assert [entry["address"] for entry in suppressed["suppressions"]] == ["v***@example.org"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_wrong_signature_is_401_and_records_nothing(hooked: Hooked, provider: str) -> None:
    ids = await hooked.sent_lead(provider)
    email = await hooked.store.get_email(ids["confirmation"])
    assert email is not None
    impostor = signer(provider)
    headers, body = impostor.request(bounce_payload(provider, email.provider_message_id or ""))
    response = await hooked.client.post(f"/api/webhooks/{provider}", content=body, headers=headers)
    assert response.status_code == 401
    assert impostor.secret not in response.text
    assert hooked.signers[provider].secret not in response.text
    assert await events_of(hooked, ids) == {}
    assert not await hooked.store.is_suppressed(VISITOR)


@pytest.mark.parametrize("provider", ["resend", "sendgrid", "mailgun"])
async def test_a_stale_signed_timestamp_is_refused(hooked: Hooked, provider: str) -> None:
    ids = await hooked.sent_lead(provider)
    email = await hooked.store.get_email(ids["confirmation"])
    assert email is not None
    old = datetime.now(UTC) - timedelta(minutes=6)
    response = await hooked.post(
        provider, bounce_payload(provider, email.provider_message_id or ""), when=old
    )
    assert response.status_code == 401
    assert await events_of(hooked, ids) == {}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_replayed_event_is_acknowledged_and_recorded_once(
    hooked: Hooked, provider: str
) -> None:
    ids = await hooked.sent_lead(provider)
    email = await hooked.store.get_email(ids["notification"])
    assert email is not None
    payload = bounce_payload(
        provider, email.provider_message_id or "", to=OWNER, event="delivered", event_id="same"
    )
    first = await hooked.post(provider, payload, event_id="msg_same")
    again = await hooked.post(provider, payload, event_id="msg_same")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["events"] == {"delivered": 1}
    assert again.json()["events"] == {"duplicate": 1}
    assert len((await events_of(hooked, ids))[ids["notification"]]) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unknown_event_type_is_acknowledged_and_ignored(
    hooked: Hooked, provider: str
) -> None:
    ids = await hooked.sent_lead(provider)
    email = await hooked.store.get_email(ids["confirmation"])
    assert email is not None
    payload = bounce_payload(provider, email.provider_message_id or "", event="unknown")
    response = await hooked.post(provider, payload)
    assert response.status_code == 200
    assert response.json()["events"] == {"ignored": 1}
    assert await events_of(hooked, ids) == {}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unmatched_event_is_acknowledged_counted_and_not_stored(
    hooked: Hooked, provider: str
) -> None:
    response = await hooked.post(provider, bounce_payload(provider, "nobody-knows-this-id"))
    assert response.status_code == 200
    assert response.json()["events"] == {"unmatched": 1}
    metrics = (await hooked.client.get("/metrics")).text
    assert (
        f'contact_mailer_delivery_events_total{{event="unmatched",provider="{provider}"}} 1.0'
        in metrics
    )
    assert not await hooked.store.is_suppressed(VISITOR)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("body", [b"{not json", b"[" * 5000 + b"]" * 5000])
async def test_a_malformed_body_is_400_never_500(
    hooked: Hooked, provider: str, body: bytes
) -> None:
    sign = hooked.signers[provider]
    if provider == "mailgun":
        headers = {"content-type": "application/json"}  # the signature is inside the body
    else:
        headers, body = sign.request(body)
    response = await hooked.client.post(f"/api/webhooks/{provider}", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["success"] is False


async def test_a_body_over_the_limit_is_413(hooked: Hooked) -> None:
    limit = hooked.app.ctx.settings.webhook_max_bytes
    response = await hooked.post("resend", b"x" * (limit + 1))
    assert response.status_code == 413


async def test_the_larger_webhook_limit_does_not_raise_the_contact_forms(hooked: Hooked) -> None:
    limit = hooked.app.ctx.settings.request_max_size
    assert limit < hooked.app.config.REQUEST_MAX_SIZE  # raised for the webhooks
    response = await hooked.client.post(
        "/api/contact", json={"name": "A", "email": VISITOR, "message": "x" * (limit + 1)}
    )
    assert response.status_code == 413


async def test_an_owner_bounce_degrades_health_logs_an_error_and_counts(
    hooked: Hooked, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await hooked.sent_lead("postmark")
    email = await hooked.store.get_email(ids["notification"])
    assert email is not None
    assert (await hooked.client.get("/api/health")).json()["status"] == "ok"
    payload = payloads.postmark("bounced", message_id=email.provider_message_id or "", to=OWNER)
    with caplog.at_level(logging.ERROR, logger="service.webhooks.receive"):
        response = await hooked.post("postmark", payload)
    assert response.status_code == 200
    health = (await hooked.client.get("/api/health")).json()
    assert health["status"] == "degraded"
    assert any("owner's latest notification bounced (postmark" in r for r in health["reasons"])
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert OWNER in record.getMessage()
    assert "HardBounce" in record.getMessage()
    assert hooked.signers["postmark"].secret not in caplog.text
    metrics = (await hooked.client.get("/metrics")).text
    assert (
        'contact_mailer_owner_delivery_alarms_total{event="bounced",provider="postmark"} 1.0'
        in metrics
    )
    assert not await hooked.store.is_suppressed(OWNER)


async def test_suppressions_are_removed_through_the_admin_api(hooked: Hooked) -> None:
    ids = await hooked.sent_lead("resend")
    email = await hooked.store.get_email(ids["confirmation"])
    assert email is not None
    await hooked.post("resend", bounce_payload("resend", email.provider_message_id or ""))
    assert await hooked.store.is_suppressed(VISITOR)
    path = "/api/admin/suppressions"
    assert (await hooked.client.delete(path, params={"email": VISITOR})).status_code == 401
    gone = await hooked.client.delete(path, params={"email": VISITOR}, headers=AUTH)
    assert gone.status_code == 200
    assert not await hooked.store.is_suppressed(VISITOR)
    again = await hooked.client.delete(path, params={"email": VISITOR}, headers=AUTH)
    assert again.status_code == 404
    bad = await hooked.client.delete(path, params={"email": "not an address"}, headers=AUTH)
    assert bad.status_code == 400


async def test_a_queued_confirmation_to_an_address_that_bounced_meanwhile_is_not_sent(
    hooked: Hooked,
) -> None:
    """Stored before the bounce of an earlier confirmation arrived: the worker checks again."""
    earlier = await hooked.sent_lead("resend")
    waiting = Submission(name="Vera", email=VISITOR, message="Hello again")
    await hooked.store.add_submission(
        waiting, [build(kind, waiting.id) for kind in ("notification", "confirmation")]
    )
    bounced = await hooked.store.get_email(earlier["confirmation"])
    assert bounced is not None
    payload = bounce_payload("resend", bounced.provider_message_id or "")
    assert (await hooked.post("resend", payload)).status_code == 200

    worker = hooked.app.ctx.worker
    deliveries = [*await worker.run_once(), *await worker.run_once()]

    assert [(d.kind, d.state) for d in deliveries] == [
        ("notification", EmailState.SENT),
        ("confirmation", EmailState.REJECTED),
    ]
    page = (await hooked.client.get("/api/admin/outbox", headers=AUTH)).json()
    (shown,) = [e for e in page["emails"] if e["id"] == deliveries[1].email_id]
    assert shown["state"] == "rejected"
    assert "suppression list" in shown["last_error"]
    assert shown["sent_at"] is None
    metrics = (await hooked.client.get("/metrics")).text
    assert 'contact_mailer_emails_total{outcome="suppressed",provider="none"} 1.0' in metrics


# Any bytes, JSON values and header values: the route answers 2xx or 4xx.
def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=12), children, max_size=4
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    _containers,
    max_leaves=16,
)
HEADER_VALUES = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    provider=st.sampled_from(PROVIDERS),
    value=JSON_VALUES,
    raw=st.none() | st.binary(max_size=300),
    signed=st.booleans(),
    header=HEADER_VALUES.map(lambda text: text.encode("latin-1")),
)
async def test_any_webhook_body_is_answered_without_a_server_error(
    hooked: Hooked, provider: str, value: Any, raw: bytes | None, signed: bool, header: bytes
) -> None:
    """Signed: a JSON value (Mailgun: as its event-data) or any UTF-8 bytes; unsigned: anything."""
    body = raw if raw is not None else json.dumps(value).encode()
    headers: dict[str, Any]
    if signed and provider == "mailgun":
        headers, body = hooked.signers[provider].request(value)
    elif signed:
        headers, body = hooked.signers[provider].request(body.decode("utf-8", "replace").encode())
    else:
        headers = {
            "svix-id": header,
            "svix-timestamp": header,
            "svix-signature": header,
            "authorization": header,
            "X-Twilio-Email-Event-Webhook-Signature": header,
            "X-Twilio-Email-Event-Webhook-Timestamp": header,
            "Signature": header,
        }
    response = await hooked.client.post(f"/api/webhooks/{provider}", content=body, headers=headers)
    assert response.status_code in (200, 400, 401), response.text
    assert response.json()["success"] is (response.status_code == 200)


async def test_the_event_history_shown_is_bounded(hooked: Hooked) -> None:
    ids = await hooked.sent_lead("sendgrid")
    email = await hooked.store.get_email(ids["notification"])
    assert email is not None
    events = [
        payloads.sendgrid(
            "deferred", message_id=email.provider_message_id or "", to=OWNER, event_id=f"ev-{n}"
        )
        for n in range(EVENTS_KEPT + 3)
    ]
    response = await hooked.post("sendgrid", events)
    assert response.json()["events"] == {"deferred": EVENTS_KEPT + 3}
    assert len((await events_of(hooked, ids))[ids["notification"]]) == EVENTS_KEPT


async def test_end_to_end_a_bounced_confirmation_stops_the_next_one(
    make_settings: Callable[..., Settings], signers: dict[str, Signer]
) -> None:
    """Sent through a stub of Postmark's API; Postmark's bounce comes back; the next
    submission from the same visitor sends only the notification, which says why."""
    settings = make_settings(
        admin_token=TOKEN,
        email_from=OWNER,
        contact_recipients=OWNER,
        email_providers="postmark",
        postmark_server_token="pm-server-token",
        postmark_base_url="https://postmark.test",
        **secrets_of(signers),
    )
    sent: list[dict[str, Any]] = []

    def accept(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        body["_MessageID"] = str(uuid.uuid4())
        sent.append(body)
        return httpx.Response(
            200,
            json={
                "To": body["To"],
                "SubmittedAt": "2026-11-27T13:00:00Z",
                "MessageID": body["_MessageID"],
                "ErrorCode": 0,
                "Message": "OK",
            },
        )

    app = create_app(settings=settings)
    form = {"name": "Vera Visitor", "email": VISITOR, "message": "Hello, a quote please."}
    try:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(POSTMARK_API).mock(side_effect=accept)
            async with served(app) as client:
                hooked = Hooked(app, client, signers)
                first = await client.post("/api/contact", json=form)
                assert first.status_code == 200
                await until(lambda: len(sent) == 2)
                notification, confirmation = sent
                assert confirmation["To"] == VISITOR
                # The outbox id travels as Postmark Metadata, and comes back in the webhook.
                outbox_id = confirmation["Metadata"]["outbox_id"]
                bounce = payloads.postmark(
                    "bounced",
                    message_id=confirmation["_MessageID"],
                    to=VISITOR,
                    outbox_id=outbox_id,
                )
                assert (await hooked.post("postmark", bounce)).status_code == 200
                email = await app.ctx.store.get_email(outbox_id)
                assert email is not None
                assert email.delivery == "bounced"

                second = await client.post("/api/contact", json=form)
                assert second.status_code == 200
                await until(lambda: len(sent) == 3)
                listed = (await client.get("/api/admin/submissions", headers=AUTH)).json()[
                    "submissions"
                ]
                newest = next(s for s in listed if s["id"] == second.json()["id"])
                assert [e["kind"] for e in newest["emails"]] == ["notification"]
                assert sent[2]["To"] == OWNER
                assert "bounced or reported our email as spam before" in sent[2]["TextBody"]
                assert "bounced or reported" not in notification["TextBody"]
    finally:
        Sanic._app_registry.pop(app.name, None)


# --- brevo, mailjet, mailersend: end to end through a stub of each API -----------------


@dataclass(frozen=True)
class StubApi:
    """One provider's send API as its docs answer it, and where its request puts things."""

    url: str
    accept: Callable[[str], httpx.Response]  # the provider's id -> its documented answer
    outbox_id: Callable[[dict[str, Any]], str]
    to: Callable[[dict[str, Any]], str]
    text: Callable[[dict[str, Any]], str]


STUB_APIS = {
    "brevo": StubApi(
        "https://brevo.test/v3/smtp/email",
        lambda mid: httpx.Response(201, json={"messageId": mid}),
        lambda body: body["headers"]["X-Mailin-custom"],
        lambda body: body["to"][0]["email"],
        lambda body: body["textContent"],
    ),
    "mailjet": StubApi(
        "https://mailjet.test/v3.1/send",
        lambda mid: httpx.Response(
            200,
            json={
                "Messages": [
                    {
                        "Status": "success",
                        "To": [{"Email": "x", "MessageUUID": mid, "MessageID": 1}],
                    }
                ]
            },
        ),
        lambda body: body["Messages"][0]["CustomID"],
        lambda body: body["Messages"][0]["To"][0]["Email"],
        lambda body: body["Messages"][0]["TextPart"],
    ),
    "mailersend": StubApi(
        "https://mailersend.test/v1/email",
        lambda mid: httpx.Response(202, headers={"X-Message-Id": mid}),
        lambda body: body["tags"][0],
        lambda body: body["to"][0]["email"],
        lambda body: body["text"],
    ),
}


@pytest.mark.parametrize("provider", sorted(STUB_APIS))
async def test_end_to_end_a_bounce_from_brevo_mailjet_or_mailersend_stops_the_next_confirmation(
    make_settings: Callable[..., Settings], signers: dict[str, Signer], provider: str
) -> None:
    """The send carries the outbox id; the provider's bounce names only its own message id
    (the outbox id left at the docs' placeholder), which was kept at send and matches."""
    api = STUB_APIS[provider]
    credentials = {
        "brevo": {"brevo_api_key": "k"},
        "mailjet": {"mailjet_api_key": "k", "mailjet_secret_key": "s"},
        "mailersend": {"mailersend_api_key": "k"},
    }[provider]
    settings = make_settings(
        admin_token=TOKEN,
        email_from=OWNER,
        contact_recipients=OWNER,
        email_providers=provider,
        **{f"{provider}_base_url": f"https://{provider}.test"},
        **credentials,
        **secrets_of(signers),
    )
    sent: list[tuple[dict[str, Any], str]] = []

    def accept(request: httpx.Request) -> httpx.Response:
        message_id = (
            f"<{uuid.uuid4()}@{provider}.test>" if provider == "brevo" else uuid.uuid4().hex
        )
        sent.append((json.loads(request.content), message_id))
        return api.accept(message_id)

    app = create_app(settings=settings)
    form = {"name": "Vera Visitor", "email": VISITOR, "message": "Hello, a quote please."}
    try:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(api.url).mock(side_effect=accept)
            async with served(app) as client:
                hooked = Hooked(app, client, signers)
                assert (await client.post("/api/contact", json=form)).status_code == 200
                await until(lambda: len(sent) == 2)
                confirmation, provider_id = sent[1]
                assert api.to(confirmation) == VISITOR
                email = await recorded_as_sent(app.ctx.store, api.outbox_id(confirmation))
                assert (email.kind, email.provider_message_id) == ("confirmation", provider_id)
                bounce = bounce_payload(provider, provider_id)
                response = await hooked.post(provider, bounce)
                assert response.json() == {"success": True, "events": {"bounced": 1}}
                bounced = await app.ctx.store.get_email(email.id)
                assert bounced is not None
                assert bounced.delivery == "bounced"

                second = await client.post("/api/contact", json=form)
                assert second.status_code == 200
                await until(lambda: len(sent) == 3)
                assert api.to(sent[2][0]) == OWNER
                assert "bounced or reported our email as spam before" in api.text(sent[2][0])
                # The second submission stored its notification only.
                counts = (await app.ctx.store.stats()).counts
                assert sum(counts.values()) == 3
    finally:
        Sanic._app_registry.pop(app.name, None)


async def recorded_as_sent(store: Store, email_id: str) -> EmailRecord:
    """The email once the worker has recorded its send (the stub answers a moment before)."""
    async with asyncio.timeout(15):
        while True:
            email = await store.get_email(email_id)
            if email is not None and email.state == EmailState.SENT:
                return email
            await asyncio.sleep(0.02)


async def until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    """Poll ``condition`` (the app's worker sends in the background)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling what another task does
            await asyncio.sleep(0.02)
