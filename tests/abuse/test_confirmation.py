"""The confirmation is not a relay: one per address per CONFIRMATION_RATE_LIMIT, never to us."""

from __future__ import annotations

import contextlib
import logging
import string
from collections.abc import Callable
from pathlib import Path

import idna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sanic_testing.testing import SanicASGITestClient

from service.abuse.confirmation import own_addresses
from service.config import load_settings
from service.validation import mailbox_key
from tests.abuse.forms import VALID_FORM, mail_kinds, post_json, read_mail

MakeClient = Callable[..., SanicASGITestClient]

OWNER = [("notification", "sales@example.com, ops@example.com")]


async def test_a_second_submission_notifies_the_owner_but_confirms_nothing(
    make_client: MakeClient, mail_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with caplog.at_level(logging.INFO, logger="service.abuse"):
        for email in ("zoe@example.org", "ZOE@Example.ORG", " zoe@example.org "):
            assert (await post_json(client, {**VALID_FORM, "email": email})).status == 200
    assert mail_kinds(mail_dir) == [("confirmation", "zoe@example.org")] + OWNER * 3
    skipped = [r.getMessage() for r in caplog.records if r.name == "service.abuse"]
    assert skipped == ["abuse: confirmation_skipped (rate-limited)"] * 2


async def test_a_plus_tag_or_a_unicode_domain_is_the_same_mailbox_and_the_same_allowance(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()
    for email in (
        "victim@b\u00fccher.example",
        "Victim+1@xn--bcher-kva.example",
        "victim+2@B\u00dcCHER.example",
    ):
        assert (await post_json(client, {**VALID_FORM, "email": email})).status == 200
    # One confirmation, to the address as typed; every notification keeps its own address.
    assert mail_kinds(mail_dir) == [("confirmation", "victim@xn--bcher-kva.example")] + OWNER * 3


async def test_other_addresses_have_their_own_allowance(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()
    for email in ("a@example.org", "b@example.org"):
        await post_json(client, {**VALID_FORM, "email": email})
    confirmations = [to for kind, to in mail_kinds(mail_dir) if kind == "confirmation"]
    assert confirmations == ["a@example.org", "b@example.org"]


async def test_the_allowance_is_configurable(make_client: MakeClient, mail_dir: Path) -> None:
    client = make_client(confirmation_rate_limit="2/day")
    for _ in range(3):
        await post_json(client, VALID_FORM)
    assert [kind for kind, _ in mail_kinds(mail_dir)].count("confirmation") == 2


async def test_off_confirms_every_submission(make_client: MakeClient, mail_dir: Path) -> None:
    client = make_client(confirmation_rate_limit="off")
    for _ in range(3):
        await post_json(client, VALID_FORM)
    assert [kind for kind, _ in mail_kinds(mail_dir)].count("confirmation") == 3


@pytest.mark.parametrize(
    "address",
    [
        "sales@example.com",
        "OPS@example.com",
        "owner@example.com",
        "gmail@example.net",
        "sales+x@example.com",
        "Owner+contact-form@EXAMPLE.com",
    ],
)
async def test_no_confirmation_to_an_address_of_our_own(
    make_client: MakeClient, mail_dir: Path, address: str
) -> None:
    client = make_client(email_address="gmail@example.net")
    assert (await post_json(client, {**VALID_FORM, "email": address})).status == 200
    assert mail_kinds(mail_dir) == OWNER


async def test_the_notification_keeps_the_tagged_address_the_visitor_typed(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()
    assert (await post_json(client, {**VALID_FORM, "email": "Zoe+Shop@example.org"})).status == 200
    [notification] = [m for m in read_mail(mail_dir) if m["Reply-To"]]
    assert notification["Reply-To"] == "Zoe+Shop@example.org"


def test_own_addresses_default_to_the_sender_when_no_recipients_are_set() -> None:
    settings = load_settings(email_from="Contact@Example.com")
    assert own_addresses(settings) == {"contact@example.com"}


@given(st.text(alphabet=string.ascii_letters + string.digits + "-._", max_size=40))
def test_an_ascii_domain_is_keyed_as_the_idna_pass_would_key_it(domain: str) -> None:
    # mailbox_key skips IDNA for an ASCII domain: it would only have changed the case.
    expected = domain
    with contextlib.suppress(idna.IDNAError):
        expected = idna.encode(domain, uts46=True).decode("ascii")
    assert mailbox_key(f"Vera+tag@{domain}") == f"vera@{expected}".lower()
