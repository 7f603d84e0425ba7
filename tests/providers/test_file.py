"""The ``file`` provider writes complete .eml files, and fails in the error tree."""

from __future__ import annotations

import email
import email.policy
from email.headerregistry import Address
from pathlib import Path

import pytest

from service.message import OutgoingEmail, make_message_id
from service.providers import ProviderUnavailable
from service.providers.file import FileProvider


@pytest.fixture
def outgoing() -> OutgoingEmail:
    return OutgoingEmail(
        kind="notification",
        sender=Address(addr_spec="owner@example.com"),
        to=(Address(addr_spec="sales@example.com"),),
        subject="Hello",
        text="text",
        html="<p>html</p>",
        message_id=make_message_id("example.com"),
    )


async def test_writes_one_parseable_eml_and_no_temporary_file(
    tmp_path: Path, outgoing: OutgoingEmail
) -> None:
    provider = FileProvider(tmp_path / "mail")
    await provider.open()
    result = await provider.send(outgoing)
    files = list((tmp_path / "mail").iterdir())
    assert [path.name for path in files] == [f"{result.message_id}.eml"]
    assert result.provider == "file"
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == outgoing.message_id


async def test_unwritable_directory_is_provider_unavailable(outgoing: OutgoingEmail) -> None:
    provider = FileProvider(Path("/proc/self"))
    await provider.open()
    with pytest.raises(ProviderUnavailable, match="cannot write to /proc/self") as caught:
        await provider.send(outgoing)
    assert isinstance(caught.value.__cause__, OSError)
