"""Secrets from files: ``<NAME>_FILE`` for every secret setting, and its errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.config import ConfigError, Settings, load_settings
from service.secret_sources import secret_variables
from service.settings_groups import value_of
from tests.process import run_command
from tests.provider_doubles import SAMPLE_VALUES

SECRETS = secret_variables(Settings)


def test_every_secret_str_setting_is_a_secret_and_nothing_else() -> None:
    assert set(SECRETS) >= {
        "email_password",
        "resend_api_key",
        "postmark_server_token",
        "sendgrid_api_key",
        "mailgun_api_key",
        "metrics_token",
        "admin_token",
        "applicationinsights_connection_string",
    }
    assert "email_address" not in SECRETS
    assert "mailgun_domain" not in SECRETS


@pytest.mark.parametrize("field", SECRETS)
def test_each_secret_can_come_from_a_file(
    field: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Docker writes the file with a trailing newline; only that one is stripped.
    # A secret with a format (an ACS connection string) gets its sample value.
    value = SAMPLE_VALUES.get(field, f"{field}-value-0123456789")
    path = tmp_path / field
    path.write_text(value + "\n")
    monkeypatch.setenv(f"{field.upper()}_FILE", str(path))
    secret = value_of(load_settings(), field)
    assert secret.get_secret_value() == value


def test_only_one_trailing_newline_is_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"re_key\r\n")
    monkeypatch.setenv("RESEND_API_KEY_FILE", str(path))
    assert load_settings().provider_settings.resend.api_key.get_secret_value() == "re_key"
    path.write_bytes(b"re_key\n\n")
    assert load_settings().provider_settings.resend.api_key.get_secret_value() == "re_key\n"


def test_a_file_secret_is_validated_like_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "password"
    path.write_text("abcd efgh ijkl mnop\n")
    monkeypatch.setenv("EMAIL_PASSWORD_FILE", str(path))
    monkeypatch.setenv("EMAIL_PROVIDERS", "smtp")
    monkeypatch.setenv("EMAIL_ADDRESS", "me@gmail.com")
    assert load_settings().provider_settings.smtp.password.get_secret_value() == "abcdefghijklmnop"
    path.write_text("short\n")
    monkeypatch.setenv("METRICS_TOKEN_FILE", str(path))
    with pytest.raises(ConfigError, match=r"^METRICS_TOKEN: must be at least 16 characters$"):
        load_settings()


def test_the_variable_and_its_file_together_are_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "key"
    path.write_text("from-file")
    monkeypatch.setenv("SENDGRID_API_KEY", "from-env")
    monkeypatch.setenv("SENDGRID_API_KEY_FILE", str(path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "SENDGRID_API_KEY_FILE: set either SENDGRID_API_KEY or SENDGRID_API_KEY_FILE, not both"
    )


def test_an_unreadable_file_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("MAILGUN_API_KEY_FILE", str(missing))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert (
        str(caught.value)
        == f"MAILGUN_API_KEY_FILE: cannot read {missing}: No such file or directory"
    )

    monkeypatch.setenv("MAILGUN_API_KEY_FILE", str(tmp_path))
    with pytest.raises(
        ConfigError, match=r"^MAILGUN_API_KEY_FILE: cannot read .*: Is a directory$"
    ):
        load_settings()

    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    monkeypatch.setenv("MAILGUN_API_KEY_FILE", str(binary))
    with pytest.raises(ConfigError, match=r"^MAILGUN_API_KEY_FILE: .* is not UTF-8 text$"):
        load_settings()


def test_an_override_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "key"
    path.write_text("from-file")
    monkeypatch.setenv("RESEND_API_KEY_FILE", str(path))
    assert (
        load_settings(resend_api_key="given").provider_settings.resend.api_key.get_secret_value()
        == "given"
    )


def test_a_non_secret_setting_has_no_file_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from"
    path.write_text("file@example.com")
    monkeypatch.setenv("EMAIL_FROM_FILE", str(path))
    assert load_settings().email_from is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_permission_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked"
    path.write_text("x")
    path.chmod(0)
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN_FILE", str(path))
    with pytest.raises(ConfigError, match=r"^POSTMARK_SERVER_TOKEN_FILE: .*Permission denied$"):
        load_settings()


def test_python_m_service_stops_with_one_line_for_a_missing_file(tmp_path: Path) -> None:
    result = run_command(tmp_path, {"EMAIL_PASSWORD_FILE": "/run/secrets/email_password"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "service: cannot start: EMAIL_PASSWORD_FILE: cannot read /run/secrets/email_password: "
        "No such file or directory"
    ]
