"""``Provider.check``: each provider proves it could send, without sending.

SMTP against the real aiosmtpd server (one login, NOOP, QUIT, no message);
the HTTP APIs against respx, asserting each provider's documented read-only
call and how its refusals read; ``file`` against a real folder.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from service.message import OutgoingEmail
from service.providers.base import Provider, SendResult
from service.providers.errors import ProviderUnavailable, SendError, TransientError
from service.providers.file import FileProvider
from service.providers.http import HttpProvider
from service.providers.smtp import SmtpProvider
from tests.provider_doubles import FAKE_SECRETS as HTTP_KEYS
from tests.smtp_server import PASSWORD, SmtpServer

MakeSmtp = Callable[..., SmtpProvider]
MakeHttp = Callable[..., HttpProvider]


# The base class


class Probing(Provider):
    """A provider whose probe raises what it is given, or has nothing to check."""

    name = "probing"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    @classmethod
    def from_settings(cls, settings: Any, **shared: object) -> Probing:
        raise NotImplementedError

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        raise NotImplementedError

    async def probe(self) -> str:
        if self.error is not None:
            raise self.error
        return await super().probe()


async def test_by_default_there_is_nothing_to_check() -> None:
    assert await Probing().check() == "nothing to check"


async def test_an_unknown_failure_is_translated_like_a_send() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await Probing(KeyError("boom")).check()
    assert str(caught.value) == "probing: unavailable: unexpected KeyError"
    assert isinstance(caught.value.__cause__, KeyError)


async def test_a_send_error_passes_unchanged() -> None:
    error = TransientError("busy", provider="probing", code=421)
    with pytest.raises(TransientError) as caught:
        await Probing(error).check()
    assert caught.value is error


# file


async def test_file_checks_that_its_folder_takes_a_file(tmp_path: Path) -> None:
    provider = FileProvider(tmp_path / "mail")
    await provider.open()

    assert await provider.check() == f"{tmp_path / 'mail'} is writable"
    assert list((tmp_path / "mail").iterdir()) == []


async def test_file_fails_when_its_folder_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    provider = FileProvider(tmp_path / "not-a-folder")

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.check()
    assert f"cannot write to {tmp_path / 'not-a-folder'}" in str(caught.value)


# smtp


async def test_smtp_logs_in_once_says_noop_and_quits_without_sending(
    make_smtp_provider: MakeSmtp, smtp_server: SmtpServer
) -> None:
    provider = make_smtp_provider()
    await provider.open()

    proven = await provider.check()

    assert proven == f"login accepted by {smtp_server.host}:{smtp_server.port} (STARTTLS)"
    assert (smtp_server.connections, smtp_server.logins) == (1, 1)
    assert smtp_server.authenticator.successes == 1
    assert smtp_server.handler.noops == 1
    assert await asyncio.to_thread(smtp_server.wait_for_disconnects, 1, timeout=5)
    assert smtp_server.handler.quits == 1
    assert smtp_server.messages == []
    # The probe's connection is its own: the pool holds nothing afterwards.
    assert provider.pool.idle == 0


async def test_smtp_wrong_password_is_one_refused_login(
    make_smtp_provider: MakeSmtp, smtp_server: SmtpServer
) -> None:
    provider = make_smtp_provider(password=SecretStr("wrong-password-123"))
    await provider.open()

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.check()

    assert caught.value.code == 535
    assert str(caught.value).startswith("smtp: unavailable [535]: login refused; AUTH answered 535")
    assert "wrong-password-123" not in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert smtp_server.logins == 1
    assert smtp_server.handler.noops == 0
    assert smtp_server.messages == []


async def test_smtp_unreachable_server_is_unavailable(make_smtp_provider: MakeSmtp) -> None:
    listener = await asyncio.start_server(lambda *_: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    provider = make_smtp_provider(port=port)
    await provider.open()

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.check()
    assert f"cannot connect to 127.0.0.1:{port}" in str(caught.value)


# The HTTP APIs


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


@dataclass(frozen=True)
class Documented:
    """One provider's documented check call, a good answer and a refused key."""

    url: str
    headers: dict[str, str]
    ok_json: Any
    proven: str
    refused_status: int
    refused: dict[str, Any]
    refused_text: str
    refused_code: str | int


DOCUMENTED = {
    "resend": Documented(
        url="https://api.resend.com/domains",
        headers={"Authorization": f"Bearer {HTTP_KEYS['resend_api_key']}"},
        ok_json={
            "object": "list",
            "has_more": False,
            "data": [
                {"id": "d91cd9bd", "name": "acme.example", "status": "verified"},
                {"id": "e169aa45", "name": "new.example", "status": "not_started"},
            ],
        },
        proven="full-access key accepted; 1 of 2 domain(s) verified",
        refused_status=403,
        refused={
            "json": {"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"}
        },
        refused_text="resend: unavailable [invalid_api_key]: HTTP 403: API key is invalid",
        refused_code="invalid_api_key",
    ),
    "postmark": Documented(
        url="https://api.postmarkapp.com/server",
        headers={
            "X-Postmark-Server-Token": HTTP_KEYS["postmark_server_token"],
            "Accept": "application/json",
        },
        ok_json={
            "ID": 1,
            "Name": "Staging Testing",
            "ApiTokens": ["tok-5e1f0c2a"],
            "Color": "red",
            "SmtpApiActivated": True,
        },
        proven="server token accepted by server 'Staging Testing'",
        refused_status=401,
        refused={
            "json": {
                "ErrorCode": 10,
                "Message": "The Server Token you provided in the X-Postmark-Server-Token "
                "request header was invalid.",
            }
        },
        refused_text="postmark: unavailable [10]: HTTP 401: The Server Token you provided",
        refused_code=10,
    ),
    "sendgrid": Documented(
        url="https://api.sendgrid.com/v3/scopes",
        headers={"Authorization": f"Bearer {HTTP_KEYS['sendgrid_api_key']}"},
        ok_json={"scopes": ["mail.batch.read", "mail.send", "user.profile.read"]},
        proven="key accepted with the mail.send scope",
        refused_status=401,
        refused={"json": {"errors": [{"field": None, "message": "authorization required"}]}},
        refused_text="sendgrid: unavailable [401]: HTTP 401: authorization required",
        refused_code=401,
    ),
    "mailgun": Documented(
        url="https://api.mailgun.net/v4/domains/mg.example.com",
        headers={"Authorization": basic(HTTP_KEYS["mailgun_api_key"])},
        ok_json={
            "domain": {"name": "mg.example.com", "state": "active", "type": "custom"},
            "receiving_dns_records": [],
            "sending_dns_records": [],
        },
        proven="key accepted; domain mg.example.com is active",
        refused_status=401,
        refused={"text": "Forbidden", "headers": {"Content-Type": "text/plain"}},
        refused_text=(
            "mailgun: unavailable [401]: HTTP 401: Forbidden; a Domain Sending Key can only "
            "send, so check cannot prove it: try send-test"
        ),
        refused_code=401,
    ),
}


@pytest.mark.parametrize("name", DOCUMENTED)
async def test_each_api_is_asked_its_documented_read_only_call(
    name: str, http_provider: MakeHttp, respx_mock: respx.MockRouter
) -> None:
    documented = DOCUMENTED[name]
    route = respx_mock.get(documented.url).respond(200, json=documented.ok_json)

    proven = await http_provider(name).check()

    assert proven == documented.proven
    assert route.call_count == 1
    sent = route.calls.last.request
    assert sent.method == "GET"
    assert str(sent.url) == documented.url
    for header, value in documented.headers.items():
        assert sent.headers[header] == value
    assert sent.content == b""
    # Nothing of the answer that could be a secret (Postmark lists the server's tokens).
    assert "tok-5e1f0c2a" not in proven


@pytest.mark.parametrize("name", DOCUMENTED)
async def test_each_api_refusing_the_key_fails_as_unavailable(
    name: str, http_provider: MakeHttp, respx_mock: respx.MockRouter
) -> None:
    documented = DOCUMENTED[name]
    respx_mock.get(documented.url).respond(documented.refused_status, **documented.refused)

    with pytest.raises(ProviderUnavailable) as caught:
        await http_provider(name).check()

    assert str(caught.value).startswith(documented.refused_text)
    assert caught.value.code == documented.refused_code
    for key in HTTP_KEYS.values():
        assert key not in str(caught.value)


async def test_resend_sending_only_key_passes(
    http_provider: MakeHttp, respx_mock: respx.MockRouter
) -> None:
    # The recommended kind of key: Resend recognises it, and refuses only the read.
    respx_mock.get(DOCUMENTED["resend"].url).respond(
        401,
        json={
            "statusCode": 401,
            "name": "restricted_api_key",
            "message": "This API key is restricted to only send emails",
        },
    )

    proven = await http_provider("resend").check()

    assert proven == "sending-only key accepted (GET /domains answered restricted_api_key)"


async def test_a_refusal_that_would_reject_a_message_means_the_key_here(
    http_provider: MakeHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(DOCUMENTED["resend"].url).respond(
        400, json={"statusCode": 400, "name": "validation_error", "message": "API key is invalid"}
    )

    with pytest.raises(ProviderUnavailable) as caught:
        await http_provider("resend").check()
    assert str(caught.value) == (
        "resend: unavailable [validation_error]: HTTP 400: API key is invalid"
    )


async def test_sendgrid_key_without_mail_send_fails(
    http_provider: MakeHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(DOCUMENTED["sendgrid"].url).respond(
        200, json={"scopes": ["stats.read", "user.profile.read"]}
    )

    with pytest.raises(ProviderUnavailable) as caught:
        await http_provider("sendgrid").check()
    assert caught.value.code == "mail.send"
    assert "lacks the mail.send scope" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (
            200,
            {"json": {"domain": {"name": "mg.example.com", "state": "unverified"}}},
            "mailgun: unavailable [unverified]: domain mg.example.com is unverified, not active",
        ),
        (
            404,
            {"json": {"message": "Domain not found"}},
            "mailgun: unavailable [404]: HTTP 404: Domain not found; check MAILGUN_DOMAIN and "
            "the region (api.mailgun.net or api.eu.mailgun.net)",
        ),
    ],
)
async def test_mailgun_domain_must_exist_and_be_active(
    status: int,
    answer: dict[str, Any],
    expected: str,
    http_provider: MakeHttp,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.get(DOCUMENTED["mailgun"].url).respond(status, **answer)

    with pytest.raises(ProviderUnavailable) as caught:
        await http_provider("mailgun").check()
    assert str(caught.value) == expected


async def test_an_odd_success_answer_fails(
    http_provider: MakeHttp, respx_mock: respx.MockRouter
) -> None:
    # A wrong base URL may land on a page that answers 200 with anything.
    respx_mock.get(DOCUMENTED["postmark"].url).respond(200, text="<html>welcome</html>")

    with pytest.raises(ProviderUnavailable) as caught:
        await http_provider("postmark").check()
    assert str(caught.value) == (
        "postmark: unavailable [200]: unexpected HTTP 200 answer to the check"
    )


async def test_no_answer_in_time_is_transient(
    http_provider: MakeHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(DOCUMENTED["sendgrid"].url).mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(SendError) as caught:
        await http_provider("sendgrid").check()
    assert isinstance(caught.value, TransientError)
    assert caught.value.code == "ReadTimeout"
