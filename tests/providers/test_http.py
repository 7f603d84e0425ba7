"""The HTTP provider base: Retry-After parsing, the status table, transport errors, the client.

The status table is checked through every HTTP provider declared, so a provider
that broke the shared mapping fails here by name.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import respx
import trustme
from pydantic import SecretStr

from service.config import ConfigError, Settings
from service.message import OutgoingEmail
from service.providers import wire
from service.providers.base import ProviderSettings
from service.providers.chain import ProviderChain
from service.providers.errors import (
    ChainExhausted,
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.http import (
    HttpProvider,
    HttpRequest,
    format_address,
    make_http_client,
    needs_quoting,
    parse_retry_after,
)
from service.providers.registry import PROVIDER_NAMES, build_providers, provider_class
from tests.provider_doubles import shows_a_secret

# Every provider built on HttpProvider, as declared: a new one meets these tests by itself.
HTTP_PROVIDERS = tuple(
    name for name in PROVIDER_NAMES if issubclass(provider_class(name), HttpProvider)
)
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


class TestParseRetryAfter:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("0", 0.0),
            ("7", 7.0),
            (" 12 ", 12.0),
            ("1.5", 1.5),
            ("20", 20.0),
            ("21", 20.0),
            ("86400", 20.0),
        ],
    )
    def test_delay_seconds_are_capped(self, value: str, expected: float) -> None:
        assert parse_retry_after(value, cap=20.0, now=NOW) == expected

    def test_http_date_counts_from_now(self) -> None:
        value = format_datetime(NOW + timedelta(seconds=9), usegmt=True)
        assert parse_retry_after(value, cap=20.0, now=NOW) == 9.0

    def test_http_date_far_ahead_is_capped(self) -> None:
        value = format_datetime(NOW + timedelta(hours=3), usegmt=True)
        assert parse_retry_after(value, cap=20.0, now=NOW) == 20.0

    def test_http_date_in_the_past_means_now(self) -> None:
        value = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
        assert parse_retry_after(value, cap=20.0, now=NOW) == 0.0

    def test_http_date_without_zone_is_utc(self) -> None:
        assert parse_retry_after("Thu, 26 Nov 2026 12:00:05 -0000", cap=20.0, now=NOW) == 5.0

    @pytest.mark.parametrize(
        "value", [None, "", "   ", "-1", "-0.5", "soon", "nan", "inf", "12 seconds", "Mon, 99 Foo"]
    )
    def test_missing_negative_or_garbage_is_ignored(self, value: str | None) -> None:
        assert parse_retry_after(value, cap=20.0, now=NOW) is None


class TestAddressForms:
    def test_non_ascii_name_becomes_an_encoded_word(self, sample_email: OutgoingEmail) -> None:
        assert format_address(sample_email.to[0]) == "=?utf-8?b?5p2O6Zu3?= <li.lei@example.org>"

    def test_name_with_a_comma_is_quoted(self, sample_email: OutgoingEmail) -> None:
        assert format_address(sample_email.to[1]) == '"Smith, John" <john@example.org>'
        assert needs_quoting("Smith, John")
        assert not needs_quoting("Zoë Ångström")
        assert not needs_quoting("")


def test_request_repr_hides_key_and_email(
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    http_keys: dict[str, str],
) -> None:
    for name in HTTP_PROVIDERS:
        request = http_provider(name).build_request(sample_email)
        shown = repr(request)
        assert shown.startswith("HttpRequest(method='POST', url='https://")
        assert not any(key in shown for key in http_keys.values())
        assert "Zoë" not in shown


async def test_client_bounds_every_phase_by_http_timeout(
    http_settings_factory: Callable[..., Settings],
) -> None:
    async with make_http_client(http_settings_factory(http_timeout=3.5)) as client:
        assert client.timeout == httpx.Timeout(3.5)
        assert client.timeout.connect == client.timeout.read == 3.5
        assert client.follow_redirects is False
        assert client.headers["User-Agent"].startswith("contact-mailer/")


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
def test_providers_refuse_to_run_without_the_shared_client(
    name: str, http_settings: Settings
) -> None:
    with pytest.raises(TypeError, match="shared http_client"):
        build_providers(http_settings, [name])


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("resend", "RESEND_API_KEY"),
        ("postmark", "POSTMARK_SERVER_TOKEN"),
        ("sendgrid", "SENDGRID_API_KEY"),
        ("mailgun", "MAILGUN_API_KEY"),
    ],
)
async def test_missing_key_names_the_variable(
    name: str,
    variable: str,
    http_client: httpx.AsyncClient,
    http_settings_factory: Callable[..., Settings],
) -> None:
    settings = http_settings_factory(**{variable.lower(): None})
    with pytest.raises(ConfigError, match=f"^{variable}: required by the '{name}' provider"):
        build_providers(settings, [name], http_client=http_client)


# One row per HTTP answer: status, headers, body, expected kind, expected retry_after.
FAR_FUTURE = format_datetime(datetime.now(UTC) + timedelta(days=2), usegmt=True)
STATUS_TABLE = [
    pytest.param(429, {}, b"", TransientError, None, id="429-no-retry-after"),
    pytest.param(429, {"Retry-After": "3"}, b"", TransientError, 3.0, id="429-seconds"),
    pytest.param(429, {"Retry-After": FAR_FUTURE}, b"", TransientError, 3600.0, id="429-http-date"),
    pytest.param(429, {"Retry-After": "-4"}, b"", TransientError, None, id="429-negative"),
    pytest.param(503, {"Retry-After": "2"}, b"", TransientError, 2.0, id="503-retry-after"),
    pytest.param(500, {}, b"", TransientError, None, id="500"),
    pytest.param(502, {}, b"<html>bad gateway</html>", TransientError, None, id="502-html"),
    pytest.param(504, {}, b"", TransientError, None, id="504"),
    pytest.param(408, {}, b"", TransientError, None, id="408"),
    pytest.param(401, {}, b"", ProviderUnavailable, None, id="401"),
    pytest.param(403, {}, b"", ProviderUnavailable, None, id="403"),
    pytest.param(404, {}, b"", ProviderUnavailable, None, id="404-wrong-base-url"),
    pytest.param(501, {}, b"", ProviderUnavailable, None, id="501"),
    pytest.param(302, {"Location": "https://elsewhere.example/"}, b"", ProviderUnavailable, None,
                 id="302-not-followed"),
    pytest.param(400, {}, b"", MessageRejected, None, id="400"),
    pytest.param(413, {}, b"", MessageRejected, None, id="413"),
    pytest.param(422, {}, b"", MessageRejected, None, id="422"),
]  # fmt: skip


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
@pytest.mark.parametrize(("status", "headers", "body", "kind", "retry_after"), STATUS_TABLE)
async def test_status_table(
    name: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    kind: type[SendError],
    retry_after: float | None,
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    provider = http_provider(name)
    request = provider.build_request(sample_email)
    route = respx_mock.post(request.url).respond(status, headers=headers, content=body)

    with pytest.raises(SendError) as caught:
        await provider.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.provider == name
    assert caught.value.code == status
    assert f"HTTP {status}" in str(caught.value)
    assert "<html>" not in str(caught.value)
    if kind is TransientError:
        assert caught.value.retry_after == retry_after
    assert route.call_count == 1


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        (httpx.ReadTimeout("timed out"), TransientError),
        (httpx.ConnectTimeout("timed out"), TransientError),
        (httpx.WriteTimeout("timed out"), TransientError),
        (httpx.PoolTimeout("timed out"), TransientError),
        (httpx.ConnectError("[Errno 111] Connection refused"), ProviderUnavailable),
        (httpx.ReadError("connection reset by peer"), TransientError),
        (httpx.RemoteProtocolError("server disconnected"), TransientError),
        (httpx.UnsupportedProtocol("no scheme"), ProviderUnavailable),
        (RuntimeError("something odd"), ProviderUnavailable),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
async def test_transport_errors(
    name: str,
    exception: Exception,
    kind: type[SendError],
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    provider = http_provider(name)
    respx_mock.post(provider.build_request(sample_email).url).mock(side_effect=exception)

    with pytest.raises(SendError) as caught:
        await provider.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.__cause__ is exception


def echoing(secrets: Sequence[str], *, padding: int = 0) -> dict[str, Any]:
    """An error body in every provider's shape, echoing each secret after ``padding`` characters."""
    echo = "x" * padding + " ".join(f"key {secret} is not valid" for secret in secrets)
    return {
        "name": "validation_error",
        "message": echo,
        "ErrorCode": 300,
        "Message": echo,
        "ErrorMessage": echo,
        "errors": [{"message": echo, "field": None}],
        "error": {"code": "BadRequest", "message": echo},
    }


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
@pytest.mark.parametrize("padding", [0, 180], ids=["short", "secret-across-the-cut"])
async def test_every_echoed_secret_is_redacted(
    name: str,
    padding: int,
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    provider = http_provider(name)
    secrets = await held_secrets(provider)
    assert secrets, f"{name} holds no secret"
    body = echoing(secrets, padding=padding)
    respx_mock.post(provider.build_request(sample_email).url).respond(422, json=body)

    with pytest.raises(MessageRejected) as caught:
        await provider.send(sample_email)

    shown = str(caught.value)
    assert "[redacted]" in shown
    # Not even a part of a secret survives the cut to 200 characters.
    assert not shows_any(shown, secrets)


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
async def test_the_chains_logs_never_carry_a_secret(
    name: str,
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = http_provider(name)
    url = provider.build_request(sample_email).url
    secrets = await held_secrets(provider)
    respx_mock.post(url).respond(503, json=echoing(secrets))
    chain = ProviderChain([provider], attempts=2, sleep=no_sleep)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ChainExhausted) as caught:
        await chain.send(sample_email)

    assert "[redacted]" in caplog.text
    assert "[redacted]" in str(caught.value)
    assert not shows_any(caplog.text, secrets)
    assert not shows_any(str(caught.value), secrets)


async def no_sleep(seconds: float) -> None:
    """The chain's backoff, skipped."""


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
async def test_a_transport_error_naming_a_secret_is_redacted(
    name: str,
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    provider = http_provider(name)
    secrets = await held_secrets(provider)
    error = httpx.ConnectError(f"proxy refused {' '.join(secrets)}")
    respx_mock.post(provider.build_request(sample_email).url).mock(side_effect=error)

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.send(sample_email)

    assert "cannot connect: proxy refused [redacted]" in str(caught.value)
    assert not shows_any(str(caught.value), secrets)


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
async def test_a_check_echoing_the_secrets_is_redacted(
    name: str, http_provider: Callable[..., HttpProvider], respx_mock: respx.MockRouter
) -> None:
    provider = http_provider(name)
    secrets = await held_secrets(provider)
    respx_mock.get(provider.check_request().url).respond(401, json=echoing(secrets))

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.check()

    assert "[redacted]" in str(caught.value)
    assert not shows_any(str(caught.value), secrets)


async def held_secrets(provider: HttpProvider) -> list[str]:
    """Every secret ``provider`` holds once it has authorized a request.

    The declared ones (fake values) and those it finds elsewhere: the AWS keys
    of botocore's chain, the access key inside an ACS connection string.
    """
    await provider.authorize(provider.check_request())
    return list(provider.secrets())


def shows_any(text: str, secrets: Sequence[str]) -> bool:
    """True when ``text`` holds any fake secret or any of ``secrets``, or its first 8 characters."""
    return shows_a_secret(text) or any(secret[:8] in text for secret in secrets)


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
async def test_unexpected_success_body_fails_over(
    name: str,
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    provider = http_provider(name)
    respx_mock.post(provider.build_request(sample_email).url).respond(
        200, text="Mailgun Magnificent API", headers={"Content-Type": "text/plain"}
    )

    with pytest.raises(ProviderUnavailable, match="unexpected HTTP 200 answer"):
        await provider.send(sample_email)


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
@pytest.mark.parametrize(("status", "kind"), [(200, ProviderUnavailable), (422, MessageRejected)])
async def test_an_answer_nested_thousands_deep_reads_as_no_json(
    name: str,
    status: int,
    kind: type[SendError],
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    provider = http_provider(name)
    deep = b'{"id": "x", "message": "m", "errors": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    respx_mock.post(provider.build_request(sample_email).url).respond(
        status, content=deep, headers={"Content-Type": "application/json"}
    )

    with pytest.raises(SendError) as caught:
        await provider.send(sample_email)

    assert type(caught.value) is kind
    assert "RecursionError" not in str(caught.value)
    assert not isinstance(caught.value.__cause__, RecursionError)


@pytest.mark.parametrize("name", HTTP_PROVIDERS)
@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Subject": "again"}, "cannot be set"),
        ({"Message-ID": "<other@example.com>"}, "cannot be set"),
        ({"Bad Name": "x"}, "cannot be set"),
        ({"X-Note": "Zoë"}, "one line of ASCII"),
        ({"X-Note": "a\r\nBcc: victim@example.com"}, "one line of ASCII"),
    ],
)
async def test_headers_the_api_cannot_carry_fail_loudly(
    name: str,
    headers: dict[str, str],
    problem: str,
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    provider = http_provider(name)
    email = OutgoingEmail.from_dict({**sample_email.to_dict(), "headers": headers})

    with pytest.raises(ProviderUnavailable, match=problem) as caught:
        await provider.send(email)

    assert caught.value.code == "unsupported"
    assert not respx_mock.calls


def test_http_request_is_plain_frozen_data() -> None:
    request = HttpRequest(method="POST", url="https://api.example/x", json={"a": 1})
    with pytest.raises(AttributeError):
        request.url = "https://elsewhere.example/"  # type: ignore[misc]
    assert request.form is None


def test_http_request_serialises_its_body_once_as_httpx_would() -> None:
    payload = {"name": "Zoë", "to": ["a@example.com"], "n": 1}
    request = HttpRequest(method="POST", url="https://api.example/x", json=payload)
    assert request.body == httpx.Request("POST", "https://x", json=payload).content
    assert request.headers == {"Content-Type": "application/json"}

    form = {"to": ["a@example.com", "b@example.com"], "subject": "Ça va"}
    request = HttpRequest(method="POST", url="https://api.example/x", form=form)
    assert request.body == httpx.Request("POST", "https://x", data=form).content
    assert request.headers == {"Content-Type": "application/x-www-form-urlencoded"}

    signed = request.with_headers({"Authorization": "sig"})
    assert signed.body is request.body
    assert dict(signed.headers) == {**request.headers, "Authorization": "sig"}


class SigningSettings(ProviderSettings):
    """A stand-in declaration (not in the catalog) for an API that signs each request."""

    name: ClassVar[str] = "signing"
    implementation: ClassVar[str] = "tests.providers.test_http:SigningProvider"
    secret_key: SecretStr = SecretStr("signing-secret-0123")
    base_url: str = "https://sign.example"


class SigningProvider(HttpProvider):
    """Signs method, URL and the exact body bytes with HMAC-SHA256, as SES and ACS do."""

    declaration = SigningSettings
    options: SigningSettings

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        return HttpRequest(
            method="POST", url=self.url("send"), json={"subject": email.subject, "html": email.html}
        )

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        return {
            "X-Signature": sign(
                self.options.secret("secret_key"), request.method, request.url, request.body
            )
        }

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url("account"))

    def check_passed(self, response: httpx.Response) -> str | None:
        return "signed read accepted"


def sign(key: str, method: str, url: str, body: bytes) -> str:
    message = method.encode() + b"\n" + url.encode() + b"\n" + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


async def test_a_signing_provider_signs_exactly_the_bytes_sent(
    http_client: httpx.AsyncClient, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    provider = SigningProvider(options=SigningSettings(), client=http_client)
    seen: list[httpx.Request] = []

    def verify(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        expected = sign("signing-secret-0123", request.method, str(request.url), request.content)
        ok = hmac.compare_digest(request.headers["X-Signature"], expected)
        return httpx.Response(200 if ok else 403, json={"id": "signed-1"})

    respx_mock.post("https://sign.example/send").mock(side_effect=verify)
    respx_mock.get("https://sign.example/account").mock(side_effect=verify)

    assert (await provider.send(sample_email)).message_id == "signed-1"
    assert await provider.check() == "signed read accepted"
    assert [request.method for request in seen] == ["POST", "GET"]
    assert seen[0].content == provider.build_request(sample_email).body
    assert "Zoë" in seen[0].content.decode()


async def test_a_signature_over_other_bytes_is_refused(
    http_client: httpx.AsyncClient, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    # The same check as above must be able to fail: a signature over re-serialised JSON.
    provider = SigningProvider(options=SigningSettings(), client=http_client)

    async def signed_elsewhere(request: HttpRequest) -> dict[str, str]:
        body = request.body + b" "
        return {"X-Signature": sign("signing-secret-0123", request.method, request.url, body)}

    provider.auth_headers = signed_elsewhere  # type: ignore[method-assign]

    def verify(request: httpx.Request) -> httpx.Response:
        expected = sign("signing-secret-0123", request.method, str(request.url), request.content)
        ok = hmac.compare_digest(request.headers["X-Signature"], expected)
        return httpx.Response(200 if ok else 403, json={"id": "signed-1"})

    respx_mock.post("https://sign.example/send").mock(side_effect=verify)
    with pytest.raises(ProviderUnavailable, match="HTTP 403"):
        await provider.send(sample_email)


# Real sockets, no respx: what httpx itself raises must land in the right kind.


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A loopback TCP server that accepts connections and never answers."""
    release = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        server.close()
        await server.wait_closed()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL whose port was just free: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_server_slower_than_http_timeout_is_transient(
    silent_server: str,
    sample_email: OutgoingEmail,
    http_settings_factory: Callable[..., Settings],
) -> None:
    settings = http_settings_factory(http_timeout=0.2, resend_base_url=silent_server)
    async with make_http_client(settings) as client:
        (provider,) = build_providers(settings, ["resend"], http_client=client)
        with pytest.raises(TransientError) as caught:
            await provider.send(sample_email)
    assert caught.value.code == "ReadTimeout"
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


async def test_connection_refused_is_unavailable(
    closed_port_url: str, http_provider: Callable[..., HttpProvider], sample_email: OutgoingEmail
) -> None:
    provider = http_provider("postmark", postmark_base_url=closed_port_url)
    with pytest.raises(ProviderUnavailable, match="cannot connect") as caught:
        await provider.send(sample_email)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_clients_share_one_tls_context_per_ca_setting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Loading a CA bundle costs tens of milliseconds: forked workers reuse the main process's.
    loads: list[str | None] = []
    create = httpx.create_ssl_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loads.append(os.environ.get("SSL_CERT_FILE"))
        return create(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", counted)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    wire._tls_context.cache_clear()
    for _ in range(2):
        async with make_http_client(settings):
            pass
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    async with make_http_client(settings):
        pass
    assert loads == [None, str(tmp_path / "ca.pem")]
