"""Property tests: whatever is posted, the answer is a 2xx or a 4xx, and no email gains a recipient.

The ``file`` provider writes every email it is given; after each example the
new ``.eml`` files are parsed and must carry exactly the expected headers and
go only to the owner or to the visitor's validated address.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import AsyncIterator, Callable
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from service.i18n import LOCALES
from service.jsonparse import MAX_DEPTH
from tests.api.conftest import drain_outbox
from tests.api.served import served

OWNER = ["ops@example.com", "sales@example.com"]
HEADERS = {
    "notification": {"From", "To", "Reply-To", "Subject", "Date", "Message-ID"},
    "confirmation": {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted"},
}
# Every email says its language; the value is the negotiated code, never visitor text.
LANGUAGE = {"Content-Language"}
MIME = {"MIME-Version", "Content-Type"}
JSON_HEADERS = {"content-type": "application/json"}
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The field rules each refuse one narrow kind of input: fewer examples find it.
FUZZ_RULE = settings(FUZZ, max_examples=100)


class Mailbox:
    """The ``.eml`` files written so far; :meth:`new` returns those not seen before."""

    def __init__(self, directory: Path, app: Sanic) -> None:
        self.directory = directory
        self.app = app
        self.seen: set[Path] = set()

    async def new(self) -> list[tuple[str, bytes]]:
        """Wait for the app's outbox worker to deliver what is due, then list the new files."""
        await drain_outbox(self.app)
        paths = sorted(set(self.directory.glob("*.eml")) - self.seen)
        self.seen.update(paths)
        return [(path.stem.split("-")[1], path.read_bytes()) for path in paths]


@pytest.fixture
def fuzz_app(make_settings: Callable[..., Settings]) -> Sanic:
    """An app without rate limits: the fuzzer is one client."""
    return create_app(
        settings=make_settings(
            email_from="owner@example.com",
            contact_recipients="sales@example.com,ops@example.com",
            contact_rate_limit="off",
            confirmation_rate_limit="off",
        )
    )


@pytest.fixture
async def fuzz_client(fuzz_app: Sanic) -> AsyncIterator[httpx.AsyncClient]:
    """A client of :func:`fuzz_app`, served once for all examples."""
    async with served(fuzz_app) as client:
        yield client


@pytest.fixture
def mailbox(mail_dir: Path, fuzz_app: Sanic) -> Mailbox:
    return Mailbox(mail_dir, fuzz_app)


def check_answer(response: httpx.Response) -> None:
    event(f"status {response.status_code}")
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400, 413, 415, 422), response.text
    body = response.json()
    assert body["success"] is (response.status_code == 200)


def check_mail(written: list[tuple[str, bytes]], response: httpx.Response) -> None:
    if response.status_code != 200:
        assert written == []
        return
    assert sorted(kind for kind, _ in written) == ["confirmation", "notification"]
    visitors = set()
    for kind, raw in written:
        head = raw.split(b"\r\n\r\n", 1)[0]
        # A mail server ends a header line at any CR or LF, not only at CRLF.
        names = {
            line.split(b":", 1)[0].decode() for line in head.splitlines() if line[:1] not in b" \t"
        }
        assert names == HEADERS[kind] | LANGUAGE | MIME
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert message["Content-Language"] in LOCALES
        to = sorted(address for _, address in getaddresses(message.get_all("To", [])))
        if kind == "notification":
            assert to == OWNER
            [(_, reply_to)] = getaddresses(message.get_all("Reply-To", []))
            visitor = reply_to
        else:
            [visitor] = to
        assert "@" in visitor
        assert visitor not in OWNER
        visitors.add(visitor)
    # The confirmation goes to the address the owner would reply to, and to no other.
    assert len(visitors) == 1


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

# Any code point, surrogates and controls included, and now and then a lot of them.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=300) | st.builds(
    lambda char, count: char * count, st.characters(codec=None), st.integers(90, 70_000)
)
HOSTILE = st.sampled_from(
    [
        "x=?UTF-8?Q?=0A?=Bcc: victim@example.net",
        "a@example.org\r\nBcc: victim@example.net",
        "victim@example.net, other@example.net",
        "<script>alert(1)</script>",
        "{{ 7*7 }}",
        "\u2028",
        "\x85",
    ]
)
FIELD_VALUES = ANY_TEXT | HOSTILE | JSON_VALUES
ADDRESSES = st.emails() | FIELD_VALUES


# What a form could validly carry: one line of visible text for name and company, an
# address whose local part is a plain dot-atom, text without C0 controls for the message.
ONE_LINE = st.text(
    st.characters(codec=None, exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=100,
).filter(str.strip)
ATOM = r"[A-Za-z0-9!$'*+/=^_`{|}~-]{1,20}"
PLAIN_LOCAL_PARTS = st.from_regex(f"{ATOM}(?:\\.{ATOM}){{0,2}}", fullmatch=True)
DOMAINS = st.emails().map(lambda address: address.rpartition("@")[2])
VALID_ADDRESSES = st.builds("{}@{}".format, PLAIN_LOCAL_PARTS, DOMAINS)
MESSAGE_TEXT = st.characters(
    codec=None, exclude_categories=("Cs",), exclude_characters="".join(map(chr, range(32)))
) | st.sampled_from("\t\r\n")
VALID_SUBMISSIONS = st.fixed_dictionaries(
    {
        "name": ONE_LINE | HOSTILE.filter(lambda text: "\n" not in text and len(text) > 1),
        "email": VALID_ADDRESSES,
        "message": st.text(MESSAGE_TEXT, max_size=5000).filter(str.strip) | HOSTILE,
    },
    optional={"company": ONE_LINE},
)

# What the field rules refuse, each wrapped in otherwise valid text.
FORMAT_CHARACTERS = st.characters(categories=("Cf",)).filter(lambda c: c not in "\u200c\u200d")
C0_IN_MESSAGES = st.sampled_from([chr(n) for n in range(32) if chr(n) not in "\t\r\n"])
ENCODED_WORDS = st.builds(
    "=?{}?{}?{}?=".format,
    st.sampled_from(["utf-8", "UTF-8", "x", "iso-8859-1"]),
    st.sampled_from(["q", "Q", "b", "B"]),
    st.text(st.characters(codec="ascii", exclude_characters="?\r\n "), max_size=30),
)
ODD_LOCAL_PARTS = st.one_of(
    ENCODED_WORDS.filter(lambda word: "@" not in word),
    st.builds("{}{}{}".format, PLAIN_LOCAL_PARTS, st.sampled_from("?&%#"), PLAIN_LOCAL_PARTS),
    st.from_regex(r"[a-z]{65,80}", fullmatch=True),
    st.builds('"{}"'.format, st.text(st.characters(codec="ascii"), max_size=20)),
    st.builds("{}{}".format, PLAIN_LOCAL_PARTS, st.characters(min_codepoint=0x80)),
)


@given(form=VALID_SUBMISSIONS)
@FUZZ
async def test_valid_submissions_with_hostile_content_send_two_clean_emails(
    fuzz_client: httpx.AsyncClient, mailbox: Mailbox, form: dict[str, str]
) -> None:
    response = await fuzz_client.post(
        "/api/contact", content=json.dumps(form).encode(), headers=JSON_HEADERS
    )
    check_answer(response)
    check_mail(await mailbox.new(), response)


@given(body=JSON_VALUES)
@FUZZ
async def test_any_json_value_is_answered_without_a_server_error(
    fuzz_client: httpx.AsyncClient, mailbox: Mailbox, body: Any
) -> None:
    # json.dumps, not httpx's json=: a client may well send NaN and Infinity, which are not
    # JSON and get a 400.
    response = await fuzz_client.post(
        "/api/contact", content=json.dumps(body).encode(), headers=JSON_HEADERS
    )
    check_answer(response)
    check_mail(await mailbox.new(), response)


@given(
    name=FIELD_VALUES,
    email_address=ADDRESSES,
    message=FIELD_VALUES,
    company=FIELD_VALUES,
    # "locale" too: whatever it holds, the answer and the emails are in a shipped language.
    extra=st.dictionaries(st.text(max_size=20) | st.just("locale"), JSON_VALUES, max_size=3),
)
@FUZZ
async def test_any_field_content_never_adds_a_recipient_or_a_header(
    fuzz_client: httpx.AsyncClient,
    mailbox: Mailbox,
    name: Any,
    email_address: Any,
    message: Any,
    company: Any,
    extra: dict[str, Any],
) -> None:
    form = {**extra, "name": name, "email": email_address, "message": message, "company": company}
    form.pop("_gotcha", None)
    response = await fuzz_client.post(
        "/api/contact", content=json.dumps(form).encode(), headers=JSON_HEADERS
    )
    check_answer(response)
    check_mail(await mailbox.new(), response)


@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=b",
            "multipart/form-data",
            "text/plain",
            "application/json; charset=latin-1",
        ]
    ),
)
@FUZZ
async def test_arbitrary_bytes_are_answered_without_a_server_error(
    fuzz_client: httpx.AsyncClient, mailbox: Mailbox, body: bytes, content_type: str
) -> None:
    response = await fuzz_client.post(
        "/api/contact", content=body, headers={"content-type": content_type}
    )
    check_answer(response)
    check_mail(await mailbox.new(), response)


@given(
    fields=st.fixed_dictionaries(
        {"name": ANY_TEXT, "email": st.emails() | ANY_TEXT, "message": ANY_TEXT},
        optional={"company": ANY_TEXT},
    )
)
@FUZZ
async def test_any_urlencoded_form_is_answered_without_a_server_error(
    fuzz_client: httpx.AsyncClient, mailbox: Mailbox, fields: dict[str, str]
) -> None:
    # httpx encodes str as UTF-8; lone surrogates cannot be, so they travel as raw bytes.
    data = {key: value.encode("utf-8", "surrogatepass") for key, value in fields.items()}
    response = await fuzz_client.post("/api/contact", data=data)  # type: ignore[arg-type]
    check_answer(response)
    check_mail(await mailbox.new(), response)


@given(
    form=VALID_SUBMISSIONS,
    field=st.sampled_from(["name", "company"]),
    at=st.integers(0, 100),
    hidden=FORMAT_CHARACTERS,
)
@FUZZ_RULE
async def test_a_format_character_in_a_single_line_field_is_refused(
    fuzz_client: httpx.AsyncClient,
    mailbox: Mailbox,
    form: dict[str, str],
    field: str,
    at: int,
    hidden: str,
) -> None:
    text = form.get(field, "Acme")
    form = {**form, field: text[:at] + hidden + text[at:]}
    response = await fuzz_client.post(
        "/api/contact", content=json.dumps(form).encode(), headers=JSON_HEADERS
    )
    check_answer(response)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}
    check_mail(await mailbox.new(), response)


@given(form=VALID_SUBMISSIONS, at=st.integers(0, 5000), control=C0_IN_MESSAGES)
@FUZZ_RULE
async def test_a_c0_control_in_the_message_is_refused(
    fuzz_client: httpx.AsyncClient, mailbox: Mailbox, form: dict[str, str], at: int, control: str
) -> None:
    form = {**form, "message": form["message"][:at] + control + form["message"][at:]}
    response = await fuzz_client.post(
        "/api/contact", content=json.dumps(form).encode(), headers=JSON_HEADERS
    )
    check_answer(response)
    assert response.status_code == 422
    check_mail(await mailbox.new(), response)


@given(form=VALID_SUBMISSIONS, local=ODD_LOCAL_PARTS, domain=DOMAINS)
@FUZZ_RULE
async def test_an_odd_local_part_is_refused(
    fuzz_client: httpx.AsyncClient, mailbox: Mailbox, form: dict[str, str], local: str, domain: str
) -> None:
    form = {**form, "email": f"{local}@{domain}"}
    response = await fuzz_client.post(
        "/api/contact", content=json.dumps(form).encode(), headers=JSON_HEADERS
    )
    check_answer(response)
    assert response.status_code == 422
    assert "email" in {error["field"] for error in response.json()["errors"]}
    check_mail(await mailbox.new(), response)


@given(
    form=VALID_SUBMISSIONS,
    field=st.sampled_from(["name", "company", "message"]),
    word=ENCODED_WORDS,
)
@FUZZ_RULE
async def test_an_encoded_word_in_any_field_adds_no_header_and_no_recipient(
    fuzz_client: httpx.AsyncClient, mailbox: Mailbox, form: dict[str, str], field: str, word: str
) -> None:
    form = {**form, field: f"{form.get(field, 'Acme')} {word}"}
    response = await fuzz_client.post(
        "/api/contact", content=json.dumps(form).encode(), headers=JSON_HEADERS
    )
    check_answer(response)
    check_mail(await mailbox.new(), response)


def nested(depth: int, pattern: list[bool]) -> str:
    """``depth`` arrays and objects inside one another, ``pattern`` (repeated) saying which."""
    kinds = [pattern[level % len(pattern)] for level in range(depth)]
    opening = "".join('{"k":' if is_object else "[" for is_object in kinds)
    closing = "".join("}" if is_object else "]" for is_object in reversed(kinds))
    return opening + "0" + closing


@given(
    form=VALID_SUBMISSIONS,
    depth=st.integers(1, 40) | st.integers(1, 3000),
    pattern=st.lists(st.booleans(), min_size=1, max_size=8),
    whole_body=st.booleans(),
)
@FUZZ_RULE
async def test_any_nesting_depth_is_answered_without_a_server_error(
    fuzz_client: httpx.AsyncClient,
    mailbox: Mailbox,
    form: dict[str, str],
    depth: int,
    pattern: list[bool],
    whole_body: bool,
) -> None:
    value = nested(depth, pattern)
    body = value if whole_body else json.dumps(form)[:-1] + f', "extra": {value}}}'
    response = await fuzz_client.post("/api/contact", content=body.encode(), headers=JSON_HEADERS)
    check_answer(response)
    # The form is one level, its extra field "depth" more.
    levels = depth if whole_body else depth + 1
    if levels > MAX_DEPTH:
        assert response.status_code == 400
        assert "nested" in response.json()["message"]
    check_mail(await mailbox.new(), response)
