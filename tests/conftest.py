"""Fixtures shared by the whole suite: a clean environment, settings and an app."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from sanic import Sanic

from service.app import create_app
from service.config import Settings, load_settings
from tests.smtp_server import SmtpServer, ca_client_context

Sanic.test_mode = True

# Variables that tests must not inherit from the developer's shell.
_SETTING_VARIABLES = {name.upper() for name in Settings.model_fields} | {
    name.upper() + "_FILE" for name in Settings.model_fields
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every setting from the environment so each test states what it needs."""
    for name in _SETTING_VARIABLES & set(os.environ):
        monkeypatch.delenv(name)


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    """Where the ``file`` provider writes in this test."""
    return tmp_path / "mail"


@pytest.fixture
def make_settings(mail_dir: Path, tmp_path: Path) -> Callable[..., Settings]:
    """Build settings from keyword overrides, writing mail and data under ``tmp_path``."""

    def make(**overrides: Any) -> Settings:
        defaults: dict[str, Any] = {
            "email_file_dir": mail_dir,
            "database_url": f"sqlite:///{tmp_path / 'outbox.db'}",
        }
        return load_settings(**(defaults | overrides))

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Development settings: the ``file`` provider, preview on."""
    return make_settings(
        email_from="owner@example.com",
        email_from_name="Example Ltd",
        contact_recipients="sales@example.com,ops@example.com",
        brand_name="Example Ltd",
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Sanic]:
    """The application under test, built with :func:`create_app`."""
    application = create_app(settings=settings)
    yield application
    Sanic._app_registry.pop(application.name, None)


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """A throwaway certificate authority that only the tests trust."""
    return trustme.CA()


@pytest.fixture(scope="session")
def smtp_certificate(smtp_ca: trustme.CA) -> trustme.LeafCert:
    """The test server's certificate, valid for 127.0.0.1 and localhost."""
    return smtp_ca.issue_cert("127.0.0.1", "localhost")


@pytest.fixture
def client_ssl_context(smtp_ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts the test CA."""
    return ca_client_context(smtp_ca)


@pytest.fixture
def smtp_server(smtp_certificate: trustme.LeafCert) -> Iterator[SmtpServer]:
    """An aiosmtpd server requiring STARTTLS, then AUTH as ``USERNAME``/``PASSWORD``."""
    with SmtpServer(smtp_certificate) as server:
        yield server
