"""Build the two emails of a submission: the owner's notification and the visitor's confirmation.

User text reaches headers in one place only: the visitor's address as the
notification's ``Reply-To``, built with :class:`email.headerregistry.Address`,
which refuses line breaks. Subjects and display names come from the operator's
settings and forms (a form's title), never from the visitor's text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from email.headerregistry import Address
from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from service.emails.colors import readable_on, text_safe
from service.emails.renderer import TemplateError
from service.i18n import LOCALES, SOURCE_LOCALE, format_moment, gettext_for, language_name
from service.message import OutgoingEmail, make_address, make_message_id
from service.submission import Submission
from service.validation import greeting_name

if TYPE_CHECKING:
    from service.config import Settings
    from service.emails.renderer import EmailRenderer

__all__ = [
    "COMPOSERS",
    "EMAILS",
    "Submission",
    "brand_context",
    "check_templates",
    "compose_confirmation",
    "compose_notification",
    "new_message_id",
    "notified",
    "sample_submission",
]


def brand_context(settings: Settings) -> dict[str, Any]:
    """The branding variables every template receives.

    Besides the settings themselves: ``on_color`` (text on the brand colour),
    ``accent`` (the brand colour darkened if needed to read as text on white)
    and ``host`` (the brand URL's host name, for "the contact form on ...").
    """
    url = str(settings.brand_url) if settings.brand_url else None
    return {
        "brand": {
            "name": settings.brand_name,
            "url": url,
            "host": urlsplit(url).hostname if url else None,
            "logo_url": str(settings.brand_logo_url) if settings.brand_logo_url else None,
            "color": settings.brand_color,
            "on_color": readable_on(settings.brand_color),
            "accent": text_safe(settings.brand_color),
            "address": settings.brand_address,
        }
    }


@dataclass(frozen=True, slots=True)
class _Fixed:
    """What every email of one settings object shares, worked out once.

    The brand colours' contrast checks and the parsing of the sender's
    address would otherwise be repeated for every submission (the owner's
    addresses are parsed once each, by :func:`_addresses`).
    Template variables are namespaces rather than dicts: Jinja looks
    ``brand.name`` up as an attribute first, and a dict answers that with an
    exception every time (both ``brand.name`` and ``brand["name"]`` work).
    """

    settings: Settings
    brand: dict[str, SimpleNamespace]
    sender: Address
    domain: str

    @classmethod
    def of(cls, settings: Settings) -> _Fixed:
        return cls(
            settings=settings,
            brand={key: SimpleNamespace(**value) for key, value in brand_context(settings).items()},
            sender=make_address(settings.sender_address, settings.email_from_name),
            domain=settings.sender_address.rpartition("@")[2],
        )


_fixed_cache: list[_Fixed] = []


def _fixed(settings: Settings) -> _Fixed:
    # One entry: a process has one settings object (tests make many, one at a time).
    if not _fixed_cache or _fixed_cache[0].settings is not settings:
        _fixed_cache[:] = [_Fixed.of(settings)]
    return _fixed_cache[0]


@lru_cache(maxsize=64)
def _addresses(recipients: tuple[str, ...]) -> tuple[Address, ...]:
    # Recipients are configuration: parsed once, not per email.
    return tuple(make_address(address) for address in recipients)


def new_message_id(settings: Settings) -> str:
    """A new Message-ID on the sender's domain, as each composed email gets."""
    return make_message_id(_fixed(settings).domain)


def notified(submission: Submission, settings: Settings) -> tuple[str, ...]:
    """Who the notification goes to: the form's recipients, else the settings'."""
    return submission.form.recipients or tuple(settings.recipients)


def _form(submission: Submission) -> SimpleNamespace:
    form = submission.form
    return SimpleNamespace(id=form.id, title=form.title, company=form.company, default=form.default)


def compose_notification(
    submission: Submission,
    settings: Settings,
    renderer: EmailRenderer,
    *,
    locale: str | None = None,
) -> OutgoingEmail:
    """The site owner's copy, in the owner's language: every field, Reply-To the visitor.

    It goes to the form's recipients (the settings' when the form names none).
    ``locale`` (the preview's language switch) replaces ``OWNER_LOCALE``. The
    visitor's own language is named, so the owner can answer in it.
    """
    fixed = _fixed(settings)
    locale = locale or settings.notification_locale
    context = {
        **fixed.brand,
        "form": _form(submission),
        "submission": _fields(submission, settings, locale),
    }
    rendered = renderer.render("notification", context, locale)
    return OutgoingEmail(
        kind="notification",
        sender=fixed.sender,
        to=_addresses(notified(submission, settings)),
        reply_to=make_address(submission.email),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=new_message_id(settings),
        headers={"Content-Language": locale},
        date=submission.created_at,
    )


def _fields(submission: Submission, settings: Settings, locale: str) -> SimpleNamespace:
    """What the notification shows in ``locale``: every field, the declared ones labelled."""
    return SimpleNamespace(
        id=submission.id,
        name=submission.name,
        email=submission.email,
        company=submission.company,
        message=submission.message,
        fields=[
            SimpleNamespace(
                name=answer.name,
                label=answer.label,
                text=answer.text,
                multiline="\n" in answer.text,
            )
            for answer in submission.answers
        ],
        received_at=submission.created_at,
        received=format_moment(submission.created_at, settings.owner_zone, locale),
        locale=submission.locale,
        language=language_name(submission.locale, locale),
        visitor_suppressed=submission.visitor_suppressed,
    )


def compose_confirmation(
    submission: Submission,
    settings: Settings,
    renderer: EmailRenderer,
    *,
    locale: str | None = None,
) -> OutgoingEmail:
    """The visitor's thank-you, in the visitor's language (or ``locale``).

    A fixed text that echoes nothing but a name safe to greet with. It may
    name the form (its title is configuration), never anything else the visitor wrote.
    """
    fixed = _fixed(settings)
    locale = locale or submission.locale
    context = {**fixed.brand, "form": _form(submission), "name": greeting_name(submission.name)}
    rendered = renderer.render("confirmation", context, locale)
    return OutgoingEmail(
        kind="confirmation",
        sender=fixed.sender,
        to=(make_address(submission.email),),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=new_message_id(settings),
        # RFC 3834: auto-responders must not answer this in a loop.
        headers={"Auto-Submitted": "auto-replied", "Content-Language": locale},
        date=submission.created_at,
    )


def sample_submission(locale: str = SOURCE_LOCALE) -> Submission:
    """A realistic submission for previews and for checking templates, written in ``locale``."""
    _ = gettext_for(locale)
    return Submission(
        id="sample",
        name="Zoë Ångström",
        email="zoe@example.org",
        company="Example & Co.",
        message=_(
            "Hello,\n"
            "we are planning a new website for our studio and would like a quote for the "
            "design and the first year of hosting.\n\n"
            "Could we talk next week?\n"
            "Zoë"
        ),
        locale=locale,
    )


class Composer(Protocol):
    """Builds one kind of email of a submission, in its default language or ``locale``."""

    def __call__(
        self,
        submission: Submission,
        settings: Settings,
        renderer: EmailRenderer,
        *,
        locale: str | None = None,
    ) -> OutgoingEmail: ...


COMPOSERS: dict[str, Composer] = {
    "notification": compose_notification,
    "confirmation": compose_confirmation,
}
"""Every email the service sends, by template name."""

EMAILS = tuple(COMPOSERS)


def check_templates(
    settings: Settings, renderer: EmailRenderer, samples: Iterable[Submission] = ()
) -> None:
    """Render every email with sample data, so a broken template stops startup, not a send.

    Both sides of the templates' usual conditions are exercised: with and
    without a company, with a greeting name and without one; ``samples`` (one
    per form, with every declared field) are rendered too; all in every shipped
    language (an override such as ``confirmation.de.txt`` is checked too).
    """
    overrides = settings.email_templates_dir
    if overrides is not None and not overrides.is_dir():
        raise TemplateError(f"EMAIL_TEMPLATES_DIR: {overrides} is not a folder")
    sample = sample_submission()
    variants = (sample, replace(sample, company=None, name="https://not-a-name.example"))
    with renderer.checking():  # each language compiles its own templates when first used
        for locale in LOCALES:
            for submission in (*variants, *samples):
                for compose in COMPOSERS.values():
                    compose(replace(submission, locale=locale), settings, renderer, locale=locale)
