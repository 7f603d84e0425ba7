"""One accepted form submission, as the API validated it: the value emails and the outbox use.

It is plain data with no behaviour of the API's, so that the layers below the
API (email composition, the outbox) read it without importing anything above
them. :class:`FormInfo` is the part that comes from the operator's
configuration (the form's id, title and recipients), never from the visitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.i18n import SOURCE_LOCALE
from service.ids import uuid7

__all__ = ["Answer", "Consent", "FormInfo", "Submission", "Value"]

Value = str | int | float | bool
"""A declared field's value: JSON-safe, as stored and as shown."""


@dataclass(frozen=True, slots=True)
class FormInfo:
    """What emails and storage need to know of a form: configuration only."""

    id: str = "contact"
    title: str = "Contact"
    recipients: tuple[str, ...] = ()
    """Who is notified; empty means the settings' ``CONTACT_RECIPIENTS``."""
    company: bool = True
    """Whether the form asks for a company (the notification then says "Not given")."""

    @property
    def default(self) -> bool:
        """True for the form behind ``POST /api/contact``, which emails call "the contact form"."""
        return self.id == "contact"


@dataclass(frozen=True, slots=True)
class Answer:
    """One declared field the visitor filled in, with the label the form showed."""

    name: str
    label: str
    type: str
    value: Value

    @property
    def text(self) -> str:
        """The value as a person reads it: booleans as Yes/No, numbers without a stray ``.0``."""
        if isinstance(self.value, bool):
            return "Yes" if self.value else "No"
        if isinstance(self.value, float) and self.value.is_integer():
            return str(int(self.value))
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Consent:
    """Proof of consent: the exact label text the visitor checked, and when."""

    field: str
    label: str
    given_at: datetime

    def to_dict(self) -> dict[str, str]:
        """The stored record."""
        return {"field": self.field, "label": self.label, "given_at": self.given_at.isoformat()}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Submission:
    """A validated submission of one form.

    ``id`` is chosen before storing so the API can put it in the answer it
    stores for idempotent replays. ``answers`` are the declared fields the
    visitor filled in, in the form's order; ``consents`` the consent boxes
    checked. Everything but ``form`` and ``locale`` (the language the visitor
    is answered in) is personal data, purged together.
    """

    name: str
    email: str
    message: str | None = None
    company: str | None = None
    form: FormInfo = field(default_factory=FormInfo)
    answers: tuple[Answer, ...] = ()
    consents: tuple[Consent, ...] = ()
    id: str = field(default_factory=uuid7)
    created_at: datetime = field(default_factory=_now)
    #: The visitor's address bounced or complained before: no confirmation is sent.
    visitor_suppressed: bool = False
    locale: str = SOURCE_LOCALE

    @property
    def fields(self) -> dict[str, Value]:
        """The declared fields' values by name, as stored."""
        return {answer.name: answer.value for answer in self.answers}

    def consent_records(self) -> list[dict[str, Any]]:
        """The consent records, as stored."""
        return [consent.to_dict() for consent in self.consents]
