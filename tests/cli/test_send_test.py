"""``python -m service send-test``: the sample notification to one address, really sent."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import pytest
import respx

from service.cli import main
from service.config import load_settings
from service.emails import EmailRenderer, compose_notification, sample_submission
from tests.aws_doubles import aws_environment
from tests.cli.columns import named
from tests.provider_doubles import API_ACCEPTS, provider_variables
from tests.smtp_server import SmtpServer

TO = "operator@example.net"


def read_mail(folder: Path) -> list[EmailMessage]:
    messages = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def test_the_file_provider_writes_the_sample_notification_to_address(workdir: Path, capsys) -> None:
    assert main(["send-test", "--to", TO]) == 0

    [message] = read_mail(workdir / "var" / "mail")
    stem = next((workdir / "var" / "mail").glob("*.eml")).stem
    assert capsys.readouterr().out == named("file", f"ok   message id {stem}\n")
    assert message["To"] == TO
    sample = compose_notification(sample_submission(), load_settings(), EmailRenderer())
    assert message["Subject"] == sample.subject
    assert message["Reply-To"] == sample_submission().email
    assert message.get_body(("plain",)) is not None


def test_through_the_smtp_server(workdir: Path, smtp_env: SmtpServer, capsys) -> None:
    # SMTP is not in the chain (development's is file): credentials alone allow it.
    assert main(["send-test", "--to", TO, "--provider", "smtp"]) == 0

    [received] = smtp_env.messages
    assert received.rcpt_tos == (TO,)
    message_id = received.parsed()["Message-ID"]
    assert capsys.readouterr().out == named("smtp", f"ok   message id {message_id}\n")
    assert not (workdir / "var" / "mail").exists()


def test_the_chain_fails_over_to_the_next_provider(
    workdir: Path, smtp_env: SmtpServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", "smtp,file")
    monkeypatch.setenv("EMAIL_PASSWORD", "not-the-password")

    assert main(["send-test", "--to", TO]) == 0

    assert capsys.readouterr().out.startswith(named("file", "ok   message id "))
    assert smtp_env.messages == []
    assert [message["To"] for message in read_mail(workdir / "var" / "mail")] == [TO]


def test_every_provider_failing_is_exit_1_with_each_answer(
    workdir: Path, smtp_env: SmtpServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("EMAIL_PASSWORD", "not-the-password")

    assert main(["send-test", "--to", TO, "--provider", "smtp"]) == 1

    out = capsys.readouterr().out
    assert out.startswith(named("smtp", "FAIL unavailable [535]: login refused; AUTH answered 535"))
    assert "not-the-password" not in out
    assert smtp_env.logins == 1


@pytest.mark.parametrize(
    "address",
    [
        f"{TO}\r\nBcc: everyone@example.org",
        f"{TO}\n",
        f"Operator <{TO}>",
        f"{TO}, other@example.net",
        f"{TO};other@example.net",
        "not-an-address",
        "someone@localhost",
        "",
    ],
)
def test_anything_but_one_address_is_a_usage_error(workdir: Path, capsys, address: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["send-test", "--to", address])

    assert caught.value.code == 2
    assert "argument --to:" in capsys.readouterr().err
    assert not (workdir / "var").exists()


def test_an_unknown_provider_is_a_usage_error(workdir: Path, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["send-test", "--to", TO, "--provider", "carrier-pigeon"])
    assert caught.value.code == 2
    assert "invalid choice: 'carrier-pigeon'" in capsys.readouterr().err


def test_a_provider_without_credentials_is_a_configuration_error(workdir: Path, capsys) -> None:
    assert main(["send-test", "--to", TO, "--provider", "postmark"]) == 2
    assert capsys.readouterr().err == (
        "service: cannot start: POSTMARK_SERVER_TOKEN: required by the 'postmark' provider\n"
    )


def sent_bytes(request: httpx.Request) -> bytes:
    """The request's body decoded: a form's values unquoted, SES's base64 MIME message decoded."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/x-www-form-urlencoded"):
        return unquote_plus(request.content.decode()).encode()
    if not kind.startswith("application/json"):
        return request.content
    raw = json.loads(request.content).get("Content", {}).get("Raw", {}).get("Data")
    return request.content + (base64.b64decode(raw) if raw else b"")


@pytest.mark.parametrize("name", sorted(API_ACCEPTS))
def test_through_an_http_api(
    name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # Not in the chain (development's is file): its credentials alone allow it.
    for key, value in provider_variables(name).items():
        if value is not None:  # unset is the default: "None" would be a value
            monkeypatch.setenv(key.upper(), str(value))
    for key, value in aws_environment().items():  # what SES's credential chain finds
        monkeypatch.setenv(key, value)
    accepts = API_ACCEPTS[name]

    with respx.mock() as mock:
        route = mock.post(accepts.url).respond(
            accepts.status, json=accepts.json, headers=accepts.headers
        )
        assert main(["send-test", "--to", TO, "--provider", name]) == 0

    assert capsys.readouterr().out == named(name, f"ok   message id {accepts.message_id}\n")
    assert route.call_count == 1
    assert TO.encode() in sent_bytes(route.calls.last.request)
    assert not (workdir / "var" / "mail").exists()
