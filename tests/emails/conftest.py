"""Fixtures for the email tests: renderers and an operator's override folder."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from service.emails import EmailRenderer


@pytest.fixture
def renderer() -> EmailRenderer:
    """The built-in templates, compiled once."""
    return EmailRenderer()


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    """An empty ``EMAIL_TEMPLATES_DIR``; tests put the files they override in it."""
    directory = tmp_path / "templates"
    (directory / "layout").mkdir(parents=True)
    return directory


def parse(raw: bytes) -> EmailMessage:
    """An email's bytes parsed back with the standard library."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of a ``multipart/alternative`` message, with ``\\n`` line ends."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")
