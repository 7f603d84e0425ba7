"""The email as it travels from rendering, through the outbox, to a provider.

:class:`OutgoingEmail` is plain data: providers read it, the outbox stores it
with :meth:`OutgoingEmail.to_dict`, and :meth:`OutgoingEmail.to_bytes` writes
the RFC 5322 message that SMTP and the ``file`` provider send.

The message is written directly rather than through :mod:`email.message`:
its header policy parses every value it is given and its quoted-printable
encoder is pure Python, about 2 ms per contact-form email (0.2 ms here), which
capped delivery at a few hundred emails per second per core. The output is
deliberately narrow: 7-bit, CRLF, header lines of at most 78 octets (998 at
worst), ``multipart/alternative`` with the text part first, RFC 2047 encoded
words for any header text that is not plain ASCII.

A body that is ASCII with lines of at most 998 octets (what the templates make,
see :func:`fold_html`) goes as it is (``7bit``); any other is UTF-8
quoted-printable. Quoted-printable costs about 0.15 ms for a 22 kB HTML part,
writes every line in 76 octets (about 300 lines, each a match for the SMTP
client's line-ending and dot-stuffing passes) and adds 5-10 % of bytes to
encrypt and send; for the usual email all of that is spent on nothing.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import format_datetime
from typing import Any

from service.ids import random_bytes, uuid7_hex

__all__ = ["Address", "OutgoingEmail", "fold_html", "make_address", "make_message_id"]

# Printable ASCII words separated by single spaces: written as they are. Any
# other header text (non-ASCII, runs of spaces, edges, or something that a
# reader would decode as an encoded word) is written as RFC 2047 encoded words.
_PLAIN = re.compile(r"[!-~]+(?: [!-~]+)*")
_NAME_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_FORBIDDEN = re.compile(r"[\r\n\0]")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_FOLD_AT = 78
_MAX_LINE = 998
# Longer display names are written as encoded words, which fold.
_MAX_PLAIN_NAME = 40
# 39 octets make 52 base64 characters, an encoded word of 64: "Reply-To: " and
# one word fit in 78 octets.
_WORD_OCTETS = 39
# Written by to_bytes itself; an extra header of the same name would be a second copy.
_OWN_FIELDS = frozenset(
    {
        "from",
        "to",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
# RFC 5322 dot-atoms on both sides: what validated addresses look like, and
# what :class:`Address` would split at the "@" without quoting anything.
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_SIMPLE_ADDR_SPEC = re.compile(f"({_DOT_ATOM})@({_DOT_ATOM})")
_PART_HEADERS = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: %s\r\n\r\n'
# A start tag whose attributes are all well formed, and one attribute with the
# white space before it: the only place :func:`fold_html` breaks a line.
_START_TAG = re.compile(
    r"<[A-Za-z][^\s/>]*((?:\s+[^\s\"'>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)\s*/?>"
)
_ATTRIBUTE = re.compile(r"(\s+)[^\s\"'>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?")
# Lines the templates are folded to; room is left for what a submission adds.
FOLD_HTML_AT = 500


def make_message_id(domain: str) -> str:
    """A globally unique ``Message-ID`` value, angle brackets included."""
    # 32 hex digits, time first: the emails' Message-ID index grows at its end.
    return f"<{uuid7_hex()}@{domain}>"


def make_address(addr_spec: str, display_name: str = "") -> Address:
    """``Address(display_name=..., addr_spec=...)``, without its parser for plain addresses.

    The standard library parses every ``addr_spec`` with its full RFC 5322
    grammar (about 20 µs); a plain ``local@domain`` of dot-atoms, which is what
    validated addresses are, splits into the same parts directly. Anything else
    (quoted local parts, comments, non-ASCII) goes through the parser.
    """
    match = _SIMPLE_ADDR_SPEC.fullmatch(addr_spec)
    if match is None:
        return Address(display_name=display_name, addr_spec=addr_spec)
    return Address(display_name=display_name, username=match[1], domain=match[2])


def _check(value: str) -> None:
    if _FORBIDDEN.search(value):
        raise ValueError("header values may not contain CR, LF or NUL")


def _encoded_words(value: str) -> str:
    """``value`` as RFC 2047 base64 encoded words of whole characters, one per line.

    Not :class:`email.header.Header`: it splits its value at every character
    :meth:`str.splitlines` sees as a line end (``\\x1c``, ``\\x85``, ``\\u2028``...)
    and loses some of them.
    """
    words: list[bytes] = []
    chunk = b""
    for char in value:
        octets = char.encode("utf-8")
        if len(chunk) + len(octets) > _WORD_OCTETS:
            words.append(chunk)
            chunk = b""
        chunk += octets
    words.append(chunk)
    return "\r\n ".join(
        f"=?utf-8?b?{binascii.b2a_base64(word, newline=False).decode('ascii')}?=" for word in words
    )


def _fold(name: str, value: str) -> str:
    """Plain ``value`` folded at its spaces so that lines stay under 78 octets if they can."""
    lines: list[str] = []
    line = ""
    room = _FOLD_AT - len(name) - 2
    for word in value.split(" "):
        if line and len(line) + 1 + len(word) > room:
            lines.append(line)
            line, room = word, _FOLD_AT - 1
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def _unstructured(name: str, value: str) -> str:
    """A header value (Subject, an extra header) ready to follow ``name: ``."""
    _check(value)
    if not value:
        return value
    if _PLAIN.fullmatch(value) and "=?" not in value:
        if len(value) <= _FOLD_AT - len(name) - 2:
            return value  # what _fold would return: it fits on the first line
        folded = _fold(name, value)
        if all(len(line) <= _MAX_LINE - len(name) - 2 for line in folded.split("\r\n")):
            return folded
    return _encoded_words(value)


def _addr_spec(address: Address) -> str:
    """``local@domain`` in ASCII: an internationalised domain in its IDNA form."""
    if not address.username.isascii():
        raise ValueError(f"{address.addr_spec!r}: the local part must be ASCII")
    if address.domain.isascii():
        return address.addr_spec
    domain = address.domain.encode("idna").decode("ascii")
    return Address(username=address.username, domain=domain).addr_spec


def _address(address: Address) -> str:
    """``Name <local@domain>``, the name quoted or encoded as it needs."""
    spec = _addr_spec(address)
    name = address.display_name
    _check(name + spec)
    if not name:
        return spec
    if _PLAIN.fullmatch(name) and "=?" not in name and len(name) <= _MAX_PLAIN_NAME:
        if _NAME_SPECIALS.search(name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{spec}>"
    return f"{_encoded_words(name)} <{spec}>"


def _address_list(addresses: tuple[Address, ...]) -> str:
    written = [_address(address) for address in addresses]
    line = ", ".join(written)
    return line if len(line) <= _FOLD_AT - len("To: ") else ",\r\n ".join(written)


def _quoted_printable(text: str) -> bytes:
    """``text`` as UTF-8 quoted-printable with CRLF line breaks, ending in one.

    Any line ending (CRLF, CR, LF) becomes a CRLF; ``binascii`` (C) keeps every
    line within 76 octets and encodes trailing white space and a lone ``.``.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _body(subtype: bytes, text: str, boundary: bytes) -> bytes:
    """One part: its headers and ``text`` as it is (``7bit``) if it can be, else quoted-printable.

    As it is: ASCII, no NUL, lines of at most 998 octets, no line that an mbox
    would rewrite (``From ``), and not the boundary (random, so only by chance).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    if (
        text.isascii()
        and "\0" not in text
        and max(map(len, text.split("\n"))) <= _MAX_LINE
        and not text.startswith("From ")
        and "\nFrom " not in text
    ):
        raw = text.encode("ascii")
        if boundary not in raw:
            return (_PART_HEADERS % (subtype, b"7bit")) + raw.replace(b"\n", b"\r\n")
    return (_PART_HEADERS % (subtype, b"quoted-printable")) + _quoted_printable(text)


def fold_html(html: str, width: int = FOLD_HTML_AT) -> str:
    """``html`` with lines longer than ``width`` broken between the attributes of its tags.

    White space between two attributes of a start tag is the one place where a
    line break means exactly what a space meant, in any element and any
    client (in the markup of Outlook's conditional comments too); text,
    ``<style>`` and attribute values are left alone. So
    compiled MJML (lines of up to 15,000 characters) can go out as ``7bit``.
    A tag keeps its first attribute beside its name unless a line would
    otherwise stay over 998 octets. A line with no such place stays as long as
    it is; :func:`_body` then falls back to quoted-printable. Runs once per
    template, not per email.
    """
    lines = []
    for line in html.split("\n"):
        for piece in _fold_line(line, width, first=False) if len(line) > width else [line]:
            lines += _fold_line(piece, width, first=True) if len(piece) > _MAX_LINE else [piece]
    return "\n".join(lines)


def _fold_line(line: str, width: int, *, first: bool) -> list[str]:
    """``line`` in pieces of at most ``width`` where gaps allow (before first attributes too?)."""
    gaps = []
    for tag in _START_TAG.finditer(line):
        attributes = [gap.span(1) for gap in _ATTRIBUTE.finditer(line, tag.start(1), tag.end(1))]
        gaps += attributes if first else attributes[1:]
    pieces: list[str] = []
    start = 0
    previous: tuple[int, int] | None = None
    for gap in [*gaps, (len(line), len(line))]:
        if gap[0] - start > width and previous is not None and previous[0] > start:
            pieces.append(line[start : previous[0]])
            start = previous[1]
        previous = gap
    pieces.append(line[start:])
    return pieces


def _address_to_dict(address: Address) -> dict[str, str]:
    return {"name": address.display_name, "email": address.addr_spec}


def _address_from_dict(data: Mapping[str, str]) -> Address:
    return make_address(data["email"], data.get("name", ""))


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One rendered email, ready for any provider.

    ``message_id`` is fixed when the email is created and kept across retries
    and providers, so a duplicate delivery is recognisable as one.
    ``headers`` holds extra headers only (for example ``Auto-Submitted``);
    From, To, Reply-To, Subject, Date and Message-ID have their own fields.
    ``trace`` is the W3C trace context (``traceparent``, ``tracestate``) of the
    request that stored the email, so its send attempts join that trace; it is
    never written into the message. ``outbox_id`` is the outbox's id for the
    email, set when the worker claims it (``None`` before it is stored, as in
    ``send-test``); HTTP providers send it as their metadata, tag or custom id,
    so that delivery events can be matched to the email (issue 15). It is not
    part of :meth:`to_dict`: the outbox keeps it as the row's key.
    """

    kind: str
    sender: Address
    to: tuple[Address, ...]
    subject: str
    text: str
    html: str
    message_id: str
    reply_to: Address | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    date: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace: Mapping[str, str] = field(default_factory=dict)
    outbox_id: str | None = None

    def to_bytes(self) -> bytes:
        """The ``multipart/alternative`` message as it goes on the wire (text, then HTML).

        Raises :class:`ValueError` for a CR, LF or NUL in any header value (no
        header can be injected), a non-ASCII local part, an extra header that
        is not a valid field name or repeats one of the fields this writes.
        """
        fields = [
            ("From", _address(self.sender)),
            ("To", _address_list(self.to)),
        ]
        if self.reply_to is not None:
            fields.append(("Reply-To", _address(self.reply_to)))
        fields += [
            ("Subject", _unstructured("Subject", self.subject)),
            ("Date", format_datetime(self.date)),
            ("Message-ID", _unstructured("Message-ID", self.message_id)),
        ]
        for name, value in self.headers.items():
            if not _FIELD_NAME.fullmatch(name) or name.lower() in _OWN_FIELDS:
                raise ValueError(f"{name!r} cannot be an extra header")
            fields.append((name, _unstructured(name, value)))
        # "=_" never occurs in quoted-printable text ("=" is always followed by
        # two hex digits or a line break), and a body sent as it is is checked.
        boundary = f"=_{random_bytes(16).hex()}".encode()
        fields.append(("MIME-Version", "1.0"))
        fields.append(("Content-Type", f'multipart/alternative; boundary="{boundary.decode()}"'))
        head = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("ascii")
        delimiter = b"--" + boundary
        return b"".join(
            (
                head,
                b"\r\n",
                delimiter,
                b"\r\n",
                _body(b"plain", self.text, boundary),
                b"\r\n",
                delimiter,
                b"\r\n",
                _body(b"html", self.html, boundary),
                b"\r\n",
                delimiter,
                b"--\r\n",
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for storage; :meth:`from_dict` reverses it."""
        return {
            "kind": self.kind,
            "sender": _address_to_dict(self.sender),
            "to": [_address_to_dict(addr) for addr in self.to],
            "reply_to": _address_to_dict(self.reply_to) if self.reply_to else None,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "message_id": self.message_id,
            "headers": dict(self.headers),
            "date": self.date.isoformat(),
            "trace": dict(self.trace),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutgoingEmail:
        """Rebuild an email stored with :meth:`to_dict`."""
        reply_to = data.get("reply_to")
        return cls(
            kind=data["kind"],
            sender=_address_from_dict(data["sender"]),
            to=tuple(_address_from_dict(addr) for addr in data["to"]),
            reply_to=_address_from_dict(reply_to) if reply_to else None,
            subject=data["subject"],
            text=data["text"],
            html=data["html"],
            message_id=data["message_id"],
            headers=dict(data.get("headers") or {}),
            date=datetime.fromisoformat(data["date"]),
            trace=dict(data.get("trace") or {}),
        )
