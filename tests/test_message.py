"""The email model: storage round trip and MIME form."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.header import decode_header, make_header
from email.headerregistry import Address
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.message import OutgoingEmail, fold_html, make_address, make_message_id


def sample(**changes) -> OutgoingEmail:
    fields = {
        "kind": "notification",
        "sender": Address("Zoë Ångström", addr_spec="zoe@example.com"),
        "to": (Address("李雷", addr_spec="li@example.com"),),
        "reply_to": Address(addr_spec="visitor@example.org"),
        "subject": "Grüße",
        "text": "Line one\nLine two",
        "html": "<p>" + "x" * 5000 + "</p>",
        "message_id": make_message_id("example.com"),
        "headers": {"Auto-Submitted": "auto-replied"},
    }
    return OutgoingEmail(**(fields | changes))


def test_dict_round_trip_is_lossless() -> None:
    original = sample(
        trace={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    )
    assert OutgoingEmail.from_dict(original.to_dict()) == original


def test_an_email_stored_before_trace_contexts_reads_back_without_one() -> None:
    stored = sample().to_dict()
    del stored["trace"]
    assert OutgoingEmail.from_dict(stored).trace == {}


def test_the_trace_context_never_reaches_the_message() -> None:
    raw = sample(trace={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    assert b"4bf92f3577b34da6a3ce929d0e0e4736" not in raw.to_bytes()


def test_mime_is_seven_bit_with_short_lines_and_survives_utf8() -> None:
    raw = sample().to_bytes()
    raw.decode("ascii")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"] == "Zoë Ångström <zoe@example.com>"
    assert parsed["To"] == "李雷 <li@example.com>"
    assert parsed["Subject"] == "Grüße"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed.get_body(("plain",)).get_content() == "Line one\r\nLine two\r\n"


def test_message_ids_are_unique() -> None:
    assert len({make_message_id("example.com") for _ in range(1000)}) == 1000


def test_addresses_refuse_line_breaks() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        sample(reply_to=Address(addr_spec="a@example.org\r\nBcc: victim@example.net")).to_bytes()


# Header text: any character but the three that could end a header line.
header_text = st.text(st.characters(exclude_characters="\r\n\0", exclude_categories=["Cs"]))
body_text = st.text(st.characters(exclude_categories=["Cs"]))
local_parts = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_-]{1,10}){0,2}", fullmatch=True
)
domains = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9-]{1,12}){0,2}\.(org|com|de)", fullmatch=True)
# Display names: printable text and spaces, up to 39 UTF-8 octets (one encoded word;
# see test_a_long_display_name_is_split_by_the_rfc). The email package's address
# parser drops control and separator characters that follow a blank, which have
# no business in a name; subjects and other headers take every character.
display_names = st.text(
    st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp", "Zs"], include_characters=" ")
).filter(lambda name: len(name.encode()) <= 39)


@st.composite
def addresses(draw: st.DrawFn) -> Address:
    return Address(
        display_name=draw(display_names), username=draw(local_parts), domain=draw(domains)
    )


def normalised(text: str) -> str:
    """A body as sent: CRLF, CR and LF all end a line, and it ends with one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def as_python_reads(address: Address) -> Address:
    """The address as the email package reads any display name: blank runs become one space."""
    name = re.sub(r"[ \t]+", " ", address.display_name)
    return Address(display_name=name, addr_spec=address.addr_spec)


@given(
    sender=addresses(),
    to=st.lists(addresses(), min_size=1, max_size=4),
    reply_to=st.none() | addresses(),
    subject=header_text,
    text=body_text,
    html=body_text,
    extra=header_text,
)
@settings(max_examples=200, deadline=None)
def test_any_text_survives_the_wire(
    sender: Address,
    to: list[Address],
    reply_to: Address | None,
    subject: str,
    text: str,
    html: str,
    extra: str,
) -> None:
    sent = sample(
        sender=sender,
        to=tuple(to),
        reply_to=reply_to,
        subject=subject,
        text=text,
        html=html,
        headers={"Auto-Submitted": "auto-replied", "X-Extra": extra},
    )
    raw = sent.to_bytes()

    raw.decode("ascii")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.defects == []
    assert list(parsed.keys()) == [
        "From",
        "To",
        *(["Reply-To"] if reply_to else []),
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "X-Extra",
        "MIME-Version",
        "Content-Type",
    ]
    assert parsed["From"].addresses == (as_python_reads(sender),)
    assert parsed["To"].addresses == tuple(as_python_reads(address) for address in to)
    if reply_to is not None:
        assert parsed["Reply-To"].addresses == (as_python_reads(reply_to),)
    assert parsed["Subject"] == subject
    assert parsed["X-Extra"] == extra
    assert parsed["Message-ID"] == sent.message_id
    assert parsed["Date"].datetime == sent.date.replace(microsecond=0)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, rich = parsed.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content().replace("\r\n", "\n") == normalised(text)
    assert rich.get_content().replace("\r\n", "\n") == normalised(html)


def test_a_long_display_name_is_split_by_the_rfc() -> None:
    # RFC 2047: encoded words of at most 75 characters, each of whole characters;
    # a reader ignores the folding between them (the email package's address
    # parser does not, so this reads the header as RFC 2047 says).
    name = "Ünïcödé Ëxämplé Lïmïtéd, Dëpärtmënt öf Cöntäct Förms ✉ 📬"
    raw = sample(sender=Address(name, addr_spec="zoe@example.com")).to_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    field = re.search(r"^From: (.*?)\r\n(?=\S)", head, re.MULTILINE | re.DOTALL)
    assert field is not None
    words = re.findall(r"=\?utf-8\?b\?[^?]*\?=", field.group(1))
    assert len(words) > 1
    assert all(len(word) <= 75 for word in words)
    assert str(make_header(decode_header(field.group(1)))) == f"{name} <zoe@example.com>"


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\r\nBcc: victim@example.net", "a\0b"])
@pytest.mark.parametrize("where", ["subject", "header", "message id"])
def test_no_header_value_may_hold_a_line_break_or_nul(bad: str, where: str) -> None:
    changes = {
        "subject": {"subject": bad},
        "header": {"headers": {"X-Extra": bad}},
        "message id": {"message_id": f"<{bad}@example.com>"},
    }[where]
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        sample(**changes).to_bytes()


def test_no_display_name_may_hold_nul() -> None:
    # Address itself refuses CR and LF (test_addresses_refuse_line_breaks).
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        sample(sender=Address("Zoë\0", addr_spec="zoe@example.com")).to_bytes()


@pytest.mark.parametrize(
    "name", ["From", "to", "Content-Type", "MIME-Version", "Bad Name", "Bad:Name", ""]
)
def test_extra_headers_cannot_repeat_ours_or_be_malformed(name: str) -> None:
    with pytest.raises(ValueError, match="extra header"):
        sample(headers={name: "x"}).to_bytes()


def test_an_internationalised_domain_is_written_in_idna_and_a_local_part_must_be_ascii() -> None:
    raw = sample(to=(Address("Li", addr_spec="li@exämple.org"),)).to_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == "li@xn--exmple-cua.org"
    with pytest.raises(ValueError, match="local part"):
        sample(to=(Address("Li", username="lï", domain="example.org"),)).to_bytes()


def test_the_boundary_is_fresh_for_every_message_and_never_in_a_body() -> None:
    email_ = sample(text="--=_ looks like a boundary\n=_", html="=_" * 100)
    first, second = email_.to_bytes(), email_.to_bytes()
    boundaries = [
        email.message_from_bytes(raw, policy=email.policy.default).get_boundary()
        for raw in (first, second)
    ]
    assert boundaries[0] != boundaries[1]
    for raw, boundary in zip((first, second), boundaries, strict=True):
        assert boundary.startswith("=_")
        assert raw.count(boundary.encode()) == 4  # Content-Type, two parts, the end


@pytest.mark.parametrize(
    "addr_spec",
    [
        "zoe@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien#1@example.org",
        "x@localhost",
        '"quoted local"@example.com',
        "zoë@exämple.com",
        "dots..twice@example.com",
    ],
)
@pytest.mark.parametrize("display_name", ["", "Zoë Ångström"])
def test_make_address_equals_the_standard_librarys(addr_spec: str, display_name: str) -> None:
    def parts(make: Callable[[], Address]) -> tuple[str, ...]:
        try:
            address = make()
        except ValueError as err:
            return ("refused", str(err))
        return (address.display_name, address.username, address.domain, address.addr_spec)

    assert parts(lambda: make_address(addr_spec, display_name)) == parts(
        lambda: Address(display_name=display_name, addr_spec=addr_spec)
    )


def test_make_address_refuses_line_breaks() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        make_address("a@example.com", "Evil\r\nBcc: x@example.org")


class Markup(HTMLParser):
    """What a browser's parser sees: tags with their attributes, text, comments."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[object, ...]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        self.events.append(("data", data))

    def handle_comment(self, data: str) -> None:
        # Outlook reads conditional comments as markup: white space is white space there too.
        self.events.append(("comment", " ".join(data.split())))


def test_folding_breaks_lines_between_attributes_only() -> None:
    cell = (
        '<td class="cell wide" style="padding: 4px 8px; color: #333" data-x=\'a > b\' nowrap>'
        "some text with  spaces, kept on its line</td>"
    )
    line = (
        "<style>td { font-family: Arial, sans-serif; }</style>"
        + '<!--[if mso | IE]><table role="presentation" border="0"><![endif]-->'
        + cell * 40
    )
    html = f"<html>\n{line}\n</html>\n"

    folded = fold_html(html, width=120)

    assert Markup(folded).events == Markup(html).events
    lines = folded.split("\n")
    assert len(lines) > 40
    assert max(len(line) for line in lines) <= 300
    # Text and styles are never broken; a tag keeps its first attribute.
    assert folded.count("some text with  spaces, kept on its line") == 40
    assert '<!--[if mso | IE]><table role="presentation"' in folded
    assert "td { font-family: Arial, sans-serif; }" in folded
    assert folded.count('<td class="cell wide"') == 40


def test_folding_leaves_a_line_without_attributes_alone() -> None:
    html = "<p>" + "word " * 400 + "</p>"
    assert fold_html(html, width=100) == html


@pytest.mark.parametrize(
    ("html", "encoding"),
    [
        ("<p>plain ASCII, short lines</p>\n" * 50, b"7bit"),
        ("<p>Grüße</p>", b"quoted-printable"),
        ("<p>" + "x" * 999 + "</p>", b"quoted-printable"),
        ("<p>a</p>\nFrom here on, an mbox would write >From", b"quoted-printable"),
        ("<p>nul \0 inside</p>", b"quoted-printable"),
    ],
)
def test_a_body_is_sent_as_it_is_only_when_it_can_be(html: str, encoding: bytes) -> None:
    raw = sample(text="Line one", html=html).to_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    plain, rich = parsed.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "7bit"
    assert rich["Content-Transfer-Encoding"] == encoding.decode()
    assert rich.get_content().replace("\r\n", "\n") == html.rstrip("\n") + "\n"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
