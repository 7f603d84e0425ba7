"""Helpers shared by the abuse tests: posting the form and reading what the file provider wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sanic_testing.testing import SanicASGITestClient, TestingResponse

from tests.api.conftest import VALID_FORM, read_mail

__all__ = ["VALID_FORM", "eml_files", "mail_kinds", "post_json", "read_mail"]


async def post_json(
    client: SanicASGITestClient, body: Any, headers: dict[str, str] | None = None
) -> TestingResponse:
    """POST ``body`` as JSON to the contact endpoint."""
    _, response = await client.post(
        "/api/contact",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    return response


def mail_kinds(directory: Path) -> list[tuple[str, str]]:
    """``(kind, To)`` of every email written, sorted; the kind is read from the file name."""
    found = []
    for message, path in zip(read_mail(directory), sorted(directory.glob("*.eml")), strict=True):
        kind = path.stem.split("-")[1]
        found.append((kind, str(message["To"])))
    return sorted(found)


def eml_files(directory: Path) -> list[bytes]:
    """The raw bytes of every ``.eml`` file written, oldest first."""
    return [path.read_bytes() for path in sorted(directory.glob("*.eml"))]
