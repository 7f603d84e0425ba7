"""Fixtures for the CLI: a working directory of its own, and the SMTP test server's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from tests.smtp_server import PASSWORD, USERNAME, SmtpServer


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The command runs here, so ``var/mail`` and ``var/outbox.db`` are the test's own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def smtp_env(
    smtp_server: SmtpServer, smtp_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SmtpServer:
    """The environment of an operator whose SMTP server is the aiosmtpd test server."""
    ca_file = tmp_path / "test-ca.pem"
    smtp_ca.cert_pem.write_to_path(str(ca_file))
    for name, value in {
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
        "EMAIL_ADDRESS": USERNAME,
        "EMAIL_PASSWORD": PASSWORD,
        # The provider trusts the default store; OpenSSL reads this file into it.
        "SSL_CERT_FILE": str(ca_file),
        "SMTP_TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(name, value)
    return smtp_server
