"""The defences together, through the endpoint: floods and a spam-relay attempt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sanic_testing.testing import SanicASGITestClient

from tests.abuse.forms import VALID_FORM, eml_files, mail_kinds, post_json, read_mail

MakeClient = Callable[..., SanicASGITestClient]

OWNER = "sales@example.com, ops@example.com"
VICTIM = "victim@example.net"
RELAY = {
    "name": "Cheap pills at https://pills.example/buy",
    "email": VICTIM,
    "company": "Visit pills.example",
    "message": "Cheap pills! https://pills.example/buy www.pills.example",
}


async def test_one_ip_flooding_is_refused_after_the_default_limit(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()  # CONTACT_RATE_LIMIT's default: 5/minute;20/hour
    statuses = []
    for n in range(12):
        form = {**VALID_FORM, "email": f"visitor{n}@example.org"}
        statuses.append((await post_json(client, form)).status)
    assert statuses == [200] * 5 + [429] * 7
    assert [kind for kind, _ in mail_kinds(mail_dir)].count("notification") == 5


async def test_one_recipient_flooded_from_many_ips_gets_one_confirmation(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client(proxies_count=1)
    for n in range(15):
        response = await post_json(
            client,
            {**VALID_FORM, "email": VICTIM, "message": f"attempt {n}"},
            {"x-forwarded-for": f"198.51.100.{n}"},
        )
        assert response.status == 200
    kinds = mail_kinds(mail_dir)
    assert kinds.count(("confirmation", VICTIM)) == 1
    assert kinds.count(("notification", OWNER)) == 15
    assert len(kinds) == 16


async def test_a_spam_relay_attempt_puts_none_of_the_attackers_text_in_the_victims_inbox(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()
    assert (await post_json(client, RELAY)).status == 200
    to_victim = [m for m in read_mail(mail_dir) if VICTIM in str(m["To"])]
    assert len(to_victim) == 1
    message = to_victim[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html, str(message["Subject"])):
        assert "pills" not in part.lower()
        assert "cheap" not in part.lower()
    assert text.startswith("Thank you for your message!")  # the generic greeting
    # The owner still hears about it, in full, to judge for themselves.
    [notification] = [m for m in read_mail(mail_dir) if VICTIM not in str(m["To"])]
    assert "pills.example" in notification.get_body(("plain",)).get_content()


async def test_hostile_header_text_adds_no_recipient_to_the_written_files(
    make_client: MakeClient, mail_dir: Path
) -> None:
    client = make_client()
    form = {
        **VALID_FORM,
        "name": "x=?UTF-8?Q?=0A?=Bcc: victim@example.net",
        "company": "=?UTF-8?Q?=0D=0ACc:_victim@example.net?=",
    }
    assert (await post_json(client, form)).status == 200
    files = eml_files(mail_dir)
    assert len(files) == 2
    for raw in files:
        head = raw.split(b"\r\n\r\n", 1)[0]
        names = [line.split(b":", 1)[0] for line in head.splitlines() if line[:1] not in b" \t"]
        assert b"Bcc" not in names
        assert b"Cc" not in names
        assert b"victim" not in head
