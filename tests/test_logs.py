"""Address masking for log lines."""

from __future__ import annotations

import pytest

from service.logs import mask_address, mask_addresses


def test_mask_address_keeps_the_first_letter_and_the_domain() -> None:
    assert mask_address("alice@example.org") == "a***@example.org"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 5.1.1 <bob@example.net>: user unknown", "550 5.1.1 <b***@example.net>: user unknown"),
        ("refused a.b+tag@mail.example.org, c@x.io", "refused a***@mail.example.org, c***@x.io"),
        ("no address here: 421 try later", "no address here: 421 try later"),
    ],
)
def test_mask_addresses_masks_every_address(text: str, expected: str) -> None:
    assert mask_addresses(text) == expected
