"""``python -m service check``: one line per provider, exit 0 only when all pass, 2 for config."""

from __future__ import annotations

from pathlib import Path

import pytest
import respx

from service.cli import main
from tests.cli.columns import named
from tests.process import run_command
from tests.smtp_server import SmtpServer

RESEND_KEY = "re_cli_check_5b4a3c2d"
RESEND_DOMAINS = "https://api.resend.com/domains"


def test_the_development_setup_checks_its_mail_folder(workdir: Path, capsys) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out == named("file", "ok   var/mail is writable\n")


def test_smtp_login_accepted(
    workdir: Path, smtp_env: SmtpServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", "smtp")

    assert main(["check"]) == 0

    out = capsys.readouterr().out
    assert out == named("smtp", f"ok   login accepted by 127.0.0.1:{smtp_env.port} (STARTTLS)\n")
    assert smtp_env.logins == 1
    assert smtp_env.messages == []


def test_each_provider_has_its_line_and_one_failure_fails_the_check(
    workdir: Path,
    smtp_env: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    respx_mock: respx.MockRouter,
    capsys,
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", "smtp,resend,file")
    monkeypatch.setenv("EMAIL_PASSWORD", "a-rotated-password-that-is-wrong")
    monkeypatch.setenv("RESEND_API_KEY", RESEND_KEY)
    respx_mock.get(RESEND_DOMAINS).respond(
        403, json={"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"}
    )

    assert main(["check"]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["smtp", "FAIL"],
        ["resend", "FAIL"],
        ["file", "ok"],
    ]
    assert lines[0].startswith(
        named("smtp", "FAIL unavailable [535]: login refused; AUTH answered 535")
    )
    assert lines[1] == (
        named("resend", "FAIL unavailable [invalid_api_key]: HTTP 403: API key is invalid")
    )
    # One login attempt for a wrong password: no second mechanism, no retry.
    assert smtp_env.logins == 1
    output = "\n".join(lines)
    assert "a-rotated-password-that-is-wrong" not in output
    assert RESEND_KEY not in output


def test_a_provider_outside_the_chain_can_be_checked(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, respx_mock: respx.MockRouter, capsys
) -> None:
    monkeypatch.setenv("RESEND_API_KEY", RESEND_KEY)
    route = respx_mock.get(RESEND_DOMAINS).respond(200, json={"object": "list", "data": []})

    assert main(["check", "--provider", "resend"]) == 0

    assert capsys.readouterr().out == (
        named("resend", "ok   full-access key accepted; 0 of 0 domain(s) verified\n")
    )
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {RESEND_KEY}"


@pytest.mark.parametrize(
    ("environment", "arguments", "message"),
    [
        (
            {"EMAIL_PROVIDERS": "resend"},
            [],
            "RESEND_API_KEY: required by the 'resend' provider",
        ),
        ({}, ["--provider", "sendgrid"], "SENDGRID_API_KEY: required by the 'sendgrid' provider"),
        ({"EMAIL_TEMPLATES_DIR": "no-such-folder"}, [], "EMAIL_TEMPLATES_DIR: no-such-folder is"),
        (
            {"EMAIL_PROVIDERS": "smtp", "EMAIL_ADDRESS": "me@example.com", "SMTP_SECURITY": "none"},
            [],
            "SMTP_SECURITY: 'none' sends in plaintext",
        ),
    ],
)
def test_a_configuration_error_is_one_line_and_exit_2(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    environment: dict[str, str],
    arguments: list[str],
    message: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert main(["check", *arguments]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"service: cannot start: {message}")
    assert captured.err.count("\n") == 1


@pytest.mark.slow
def test_exit_codes_of_the_real_command(tmp_path: Path) -> None:
    passed = run_command(tmp_path, {}, "check")
    assert (passed.returncode, passed.stdout) == (0, named("file", "ok   var/mail is writable\n"))
    (tmp_path / "var" / "mail").rmdir()
    (tmp_path / "var" / "mail").write_text("")
    failed = run_command(tmp_path, {}, "check")
    assert failed.returncode == 1
    assert failed.stdout.startswith(named("file", "FAIL unavailable"))
    misconfigured = run_command(tmp_path, {"EMAIL_PROVIDERS": "carrier-pigeon"}, "check")
    assert misconfigured.returncode == 2
    assert misconfigured.stderr.startswith(
        "service: cannot start: EMAIL_PROVIDERS: unknown provider"
    )
