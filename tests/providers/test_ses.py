"""The ``ses`` provider against respx: SendEmail with our raw MIME, SigV4 verified, SES's errors."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest
import respx

from service.message import OutgoingEmail
from service.providers.base import SendResult
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.http import HttpProvider
from service.providers.ses import SesProvider
from tests.aws_doubles import aws_environment, sigv4_signature

URL = "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"
ACCOUNT = "https://email.eu-west-1.amazonaws.com/v2/email/account"
OUTBOX_ID = "6f1c2f9e-3b1d-4c55-9a8e-2f0d6c1b7a10"
# The shape of SendEmail's documented answer (API_SendEmail.html, "Response Syntax").
SES_MESSAGE_ID = "0102018c1d2e3f40-5a6b7c8d-1e2f-4a5b-8c9d-0e1f2a3b4c5d-000000"


@pytest.fixture
def ses(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("ses", ses_configuration_set="contact-forms")
    assert isinstance(provider, SesProvider)
    return provider


def raw_message(request: httpx.Request) -> email.message.EmailMessage:
    """The MIME message inside a SendEmail body, parsed."""
    data = base64.b64decode(json.loads(request.content)["Content"]["Raw"]["Data"])
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


async def test_send_email_posts_our_own_mime_bytes_with_tags(
    ses: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(URL).respond(200, json={"MessageId": SES_MESSAGE_ID})
    email_ = replace(sample_email, outbox_id=OUTBOX_ID)

    result = await ses.send(email_)

    assert result == SendResult(provider="ses", message_id=SES_MESSAGE_ID)
    sent = route.calls.last.request
    body = json.loads(sent.content)
    assert set(body) == {"Content", "ConfigurationSetName", "EmailTags"}
    assert body["ConfigurationSetName"] == "contact-forms"
    assert body["EmailTags"] == [{"Name": "outbox_id", "Value": OUTBOX_ID}]
    message = raw_message(sent)
    assert message["Message-ID"] == sample_email.message_id
    assert message["From"] == "Acme Contact <contact@acme.example>"
    assert str(message["Reply-To"]) == "Zoë Ångström <zoe@example.net>"
    assert message["Subject"] == sample_email.subject
    assert message["Auto-Submitted"] == "auto-generated"
    assert [a.addr_spec for a in message["To"].addresses] == [
        "li.lei@example.org",
        "john@example.org",
    ]
    # The parts as SMTP sends them: CRLF line ends on the wire.
    text, html = (
        part.get_content().replace("\r\n", "\n").rstrip("\n") for part in message.iter_parts()
    )
    assert (text, html) == (sample_email.text, sample_email.html)
    assert sent.headers["Content-Type"] == "application/json"


async def test_the_signature_is_sigv4_over_the_bytes_sent(
    ses: HttpProvider,
    sample_email: OutgoingEmail,
    aws_credentials: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(200, json={"MessageId": SES_MESSAGE_ID})

    await ses.send(sample_email)

    sent = route.calls.last.request
    authorization = sent.headers["Authorization"]
    key_id = aws_credentials["AWS_ACCESS_KEY_ID"]
    day = sent.headers["X-Amz-Date"][:8]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential={key_id}/{day}/eu-west-1/ses/aws4_request, "
    )
    signed, signature = sigv4_signature(
        sent, secret_key=aws_credentials["AWS_SECRET_ACCESS_KEY"], region="eu-west-1", service="ses"
    )
    assert {"host", "x-amz-date", "content-type"} <= set(signed.split(";"))
    assert authorization.endswith(f"Signature={signature}")
    assert aws_credentials["AWS_SECRET_ACCESS_KEY"] not in str(sent.headers)


async def test_a_session_token_is_sent_and_signed(
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    monkeypatch: pytest.MonkeyPatch,
    respx_mock: respx.MockRouter,
) -> None:
    env = aws_environment(session_token=True)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    route = respx_mock.post(URL).respond(200, json={"MessageId": SES_MESSAGE_ID})

    await http_provider("ses").send(sample_email)

    sent = route.calls.last.request
    assert sent.headers["X-Amz-Security-Token"] == env["AWS_SESSION_TOKEN"]
    signed, signature = sigv4_signature(
        sent, secret_key=env["AWS_SECRET_ACCESS_KEY"], region="eu-west-1", service="ses"
    )
    assert "x-amz-security-token" in signed.split(";")
    assert sent.headers["Authorization"].endswith(f"Signature={signature}")


async def test_a_tampered_body_no_longer_matches_the_signature(
    ses: HttpProvider, sample_email: OutgoingEmail, aws_credentials: dict[str, str]
) -> None:
    sent = await ses.authorize(ses.build_request(sample_email))
    request = httpx.Request(sent.method, sent.url, headers=dict(sent.headers), content=sent.body)
    tampered = httpx.Request(
        sent.method, sent.url, headers=dict(sent.headers), content=sent.body + b" "
    )
    secret = aws_credentials["AWS_SECRET_ACCESS_KEY"]

    _, good = sigv4_signature(request, secret_key=secret, region="eu-west-1", service="ses")
    _, bad = sigv4_signature(tampered, secret_key=secret, region="eu-west-1", service="ses")

    assert sent.headers["Authorization"].endswith(f"Signature={good}")
    assert good != bad


async def test_ses_base_url_replaces_the_regional_endpoint(
    http_provider: Callable[..., HttpProvider], sample_email: OutgoingEmail
) -> None:
    provider = http_provider("ses", ses_base_url="http://127.0.0.1:4566/")
    assert (
        provider.build_request(sample_email).url == "http://127.0.0.1:4566/v2/email/outbound-emails"
    )


async def test_no_credentials_anywhere_makes_ses_unavailable(
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    monkeypatch: pytest.MonkeyPatch,
    respx_mock: respx.MockRouter,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    with pytest.raises(ProviderUnavailable, match="no AWS credentials") as caught:
        await http_provider("ses").send(sample_email)

    assert caught.value.code == "NoCredentials"
    assert not respx_mock.calls


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (400, "MessageRejected", MessageRejected),
        (400, "BadRequestException", MessageRejected),
        (400, "MailFromDomainNotVerifiedException", ProviderUnavailable),
        (400, "AccountSuspendedException", ProviderUnavailable),
        (400, "SendingPausedException", ProviderUnavailable),
        (404, "NotFoundException", ProviderUnavailable),
        (429, "TooManyRequestsException", TransientError),
        (400, "ThrottlingException", TransientError),
        (400, "ExpiredTokenException", ProviderUnavailable),
        (403, "UnrecognizedClientException", ProviderUnavailable),
        (403, "InvalidSignatureException", ProviderUnavailable),
        (500, "InternalFailure", TransientError),
        (400, "SomethingNew", MessageRejected),
    ],
)
async def test_ses_errors_are_classified_by_their_name(
    status: int,
    error_type: str,
    kind: type[SendError],
    ses: HttpProvider,
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(
        status,
        json={"message": "Email address is not verified."},
        headers={
            "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.ses/"
        },
    )

    with pytest.raises(SendError) as caught:
        await ses.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.code == error_type
    assert f"HTTP {status}: Email address is not verified." in str(caught.value)


async def test_an_error_named_only_in_the_body_is_read_there(
    ses: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        400,
        json={"__type": "com.amazonaws.sesv2#SendingPausedException", "message": "paused"},
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await ses.send(sample_email)
    assert caught.value.code == "SendingPausedException"


async def test_an_echoed_aws_secret_key_is_redacted(
    ses: HttpProvider,
    sample_email: OutgoingEmail,
    aws_credentials: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    secret = aws_credentials["AWS_SECRET_ACCESS_KEY"]
    respx_mock.post(URL).respond(403, json={"message": f"The key {secret} is wrong"})

    with pytest.raises(ProviderUnavailable) as caught:
        await ses.send(sample_email)

    assert secret not in str(caught.value)
    assert "[redacted]" in str(caught.value)


# GetAccount's documented answer (API_GetAccount.html, "Response Syntax"), production access.
GET_ACCOUNT = {
    "DedicatedIpAutoWarmupEnabled": True,
    "EnforcementStatus": "HEALTHY",
    "ProductionAccessEnabled": True,
    "SendingEnabled": True,
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 12.0},
    "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
}


async def test_check_reads_get_account_signed(
    ses: HttpProvider, aws_credentials: dict[str, str], respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(ACCOUNT).respond(200, json=GET_ACCOUNT)

    proven = await ses.check()

    assert proven == "credentials accepted; sending enabled in eu-west-1 (production access)"
    sent = route.calls.last.request
    _, signature = sigv4_signature(
        sent, secret_key=aws_credentials["AWS_SECRET_ACCESS_KEY"], region="eu-west-1", service="ses"
    )
    assert sent.headers["Authorization"].endswith(f"Signature={signature}")
    assert sent.content == b""


async def test_check_warns_in_the_sandbox(ses: HttpProvider, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(ACCOUNT).respond(200, json={**GET_ACCOUNT, "ProductionAccessEnabled": False})

    proven = await ses.check()

    assert "WARNING" in proven
    assert "sandbox" in proven


async def test_check_fails_when_sending_is_disabled(
    ses: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(ACCOUNT).respond(
        200, json={**GET_ACCOUNT, "SendingEnabled": False, "EnforcementStatus": "SHUTDOWN"}
    )

    with pytest.raises(ProviderUnavailable, match=r"sending is disabled.*SHUTDOWN") as caught:
        await ses.check()

    assert caught.value.code == "SendingDisabled"


async def test_check_with_refused_keys_is_unavailable(
    ses: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(ACCOUNT).respond(
        403,
        json={"message": "The security token included in the request is invalid."},
        headers={"x-amzn-ErrorType": "UnrecognizedClientException"},
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await ses.check()
    assert caught.value.code == "UnrecognizedClientException"
