"""End to end: ``python -m service`` as a subprocess, a form post, two .eml files."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import httpx
import pytest

from tests.process import running_service, wait_for

pytestmark = pytest.mark.slow


def test_serves_the_form_and_writes_both_emails(tmp_path: Path) -> None:
    with running_service(tmp_path, {"CONTACT_RECIPIENTS": "owner@example.com"}) as base_url:
        response = httpx.post(
            f"{base_url}/api/contact",
            data={"name": "李雷", "email": "li@example.org", "message": "你好\nsecond line"},
        )
        assert response.status_code == 200
        assert response.json()["success"] is True
        too_big = httpx.post(
            f"{base_url}/api/contact",
            content=b"x" * (65 * 1024),
            headers={"content-type": "application/json"},
        )
        assert too_big.status_code == 413
        assert too_big.json()["success"] is False
        # The answer came first; the outbox worker delivers in the background.
        wait_for(lambda: len(list((tmp_path / "var" / "mail").glob("*.eml"))) == 2)

    files = sorted((tmp_path / "var" / "mail").glob("*.eml"))
    assert (tmp_path / "var" / "outbox.db").exists()
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in files
    ]
    assert sorted(message["To"] for message in messages) == ["li@example.org", "owner@example.com"]
    for message in messages:
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
    log = (tmp_path / "service.log").read_text()
    assert "file provider writes emails to" in log
    assert "你好" not in log
