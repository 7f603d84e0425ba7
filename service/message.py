"""The email as it travels from rendering, through the outbox, to a provider.

:class:`OutgoingEmail` is plain data: providers read it, the outbox stores it
with :meth:`OutgoingEmail.to_dict`, and :meth:`OutgoingEmail.to_mime` builds the
RFC 5322 message that SMTP and the ``file`` provider send as bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

__all__ = ["Address", "OutgoingEmail", "make_message_id"]


def make_message_id(domain: str) -> str:
    """A globally unique ``Message-ID`` value, angle brackets included."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def _address_to_dict(address: Address) -> dict[str, str]:
    return {"name": address.display_name, "email": address.addr_spec}


def _address_from_dict(data: Mapping[str, str]) -> Address:
    return Address(display_name=data.get("name", ""), addr_spec=data["email"])


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One rendered email, ready for any provider.

    ``message_id`` is fixed when the email is created and kept across retries
    and providers, so a duplicate delivery is recognisable as one.
    ``headers`` holds extra headers only (for example ``Auto-Submitted``);
    From, To, Reply-To, Subject, Date and Message-ID have their own fields.
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

    def to_mime(self) -> EmailMessage:
        """The ``multipart/alternative`` message (text first, then HTML), UTF-8 throughout."""
        message = EmailMessage(policy=SMTP)
        message["From"] = self.sender
        message["To"] = self.to
        if self.reply_to is not None:
            message["Reply-To"] = self.reply_to
        message["Subject"] = self.subject
        message["Date"] = format_datetime(self.date)
        message["Message-ID"] = self.message_id
        for name, value in self.headers.items():
            message[name] = value
        # Quoted-printable keeps both parts 7-bit and under the 998-octet line
        # limit: MJML's HTML has very long lines and visitors write in any script.
        message.set_content(self.text, charset="utf-8", cte="quoted-printable")
        message.add_alternative(self.html, subtype="html", charset="utf-8", cte="quoted-printable")
        return message

    def to_bytes(self) -> bytes:
        """The message as it goes on the wire (CRLF line endings)."""
        return self.to_mime().as_bytes()

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
        )
