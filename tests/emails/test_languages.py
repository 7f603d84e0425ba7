"""Both emails in every shipped language: lang, Content-Language, translated text, no English left.

The confirmation speaks the visitor's language; the notification speaks the
owner's (``OWNER_LOCALE``), whatever the visitor's, and names the visitor's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from gettext import NullTranslations
from pathlib import Path

import pytest

from service.config import Settings
from service.emails import EmailRenderer, TemplateError, check_templates, sample_submission
from service.emails.compose import COMPOSERS, compose_confirmation, compose_notification
from service.emails.samples import PRESETS, preset_submission
from service.i18n import LOCALES, templating
from tests.emails.conftest import parse, parts
from tests.languages import english_leftovers, readable

# A sentence of each email as it reads in each language.
CONFIRMATION = {
    "en": ("Thank you for contacting Example Ltd", "What happens next"),
    "nl": ("Bedankt voor je bericht aan Example Ltd", "Hoe gaat het verder?"),
    "de": ("Vielen Dank für Ihre Nachricht an Example Ltd", "Wie es weitergeht"),
    "fr": ("Merci d’avoir contacté Example Ltd", "Nous lisons votre message"),  # noqa: RUF001
}
NOTIFICATION = {
    "en": ("New message from the Example Ltd contact form", "New contact form message"),
    "nl": ("Nieuw bericht via het contactformulier van Example Ltd", "Referentie"),
    "de": ("Neue Nachricht über das Kontaktformular von Example Ltd", "Eingegangen"),
    "fr": ("Nouveau message du formulaire de contact de Example Ltd", "Référence"),
}
MAX_HTML_BYTES = 102 * 1024  # Gmail clips a longer HTML part behind "View entire message"


@pytest.fixture
def branded(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings with every branding field, so every conditional sentence is rendered."""

    def make(**overrides: str) -> Settings:
        return make_settings(
            email_from="owner@example.com",
            email_from_name="Example Ltd",
            brand_name="Example Ltd",
            brand_url="https://example.com",
            brand_address="1 Main Street, 10115 Berlin",
            **overrides,
        )

    return make


@pytest.mark.parametrize("locale", LOCALES)
def test_the_confirmation_is_in_the_visitor_s_language(
    branded: Callable[..., Settings], renderer: EmailRenderer, locale: str
) -> None:
    settings = branded(owner_locale="en")
    email = compose_confirmation(sample_submission(locale), settings, renderer)
    message = parse(email.to_bytes())
    text, html = parts(message)
    subject, phrase = CONFIRMATION[locale]
    assert message["Subject"] == subject
    assert message["Content-Language"] == locale
    assert f'<html lang="{locale}"' in html
    assert phrase in text
    assert phrase in readable(html)
    if locale != "en":
        assert english_leftovers(text, locale) == []
        assert english_leftovers(html, locale) == []
        assert english_leftovers(message["Subject"], locale) == []


@pytest.mark.parametrize("locale", LOCALES)
def test_the_notification_is_in_the_owner_s_language_and_names_the_visitor_s(
    branded: Callable[..., Settings], renderer: EmailRenderer, locale: str
) -> None:
    settings = branded(owner_locale=locale, default_locale="en")
    visitor = "fr" if locale != "fr" else "nl"
    email = compose_notification(sample_submission(visitor), settings, renderer)
    message = parse(email.to_bytes())
    text, html = parts(message)
    subject, phrase = NOTIFICATION[locale]
    assert message["Subject"] == subject
    assert message["Content-Language"] == locale
    assert f'<html lang="{locale}"' in html
    assert phrase in text
    assert phrase in readable(html)
    wrote = {
        "en": "The visitor wrote in French.",
        "nl": "De bezoeker schreef in het Frans.",
        "de": "Die Person hat auf Französisch geschrieben.",
        "fr": "La personne a écrit en néerlandais.",
    }[locale]
    assert wrote in text
    assert wrote in readable(html)
    if locale != "en":
        assert english_leftovers(text, locale) == []
        assert english_leftovers(html, locale) == []


def test_the_done_when_case_an_english_owner_and_a_dutch_visitor(
    branded: Callable[..., Settings], renderer: EmailRenderer
) -> None:
    settings = branded(owner_locale="en", default_locale="nl")
    dutch = sample_submission("nl")
    notification = parse(compose_notification(dutch, settings, renderer).to_bytes())
    confirmation = parse(compose_confirmation(dutch, settings, renderer).to_bytes())
    assert notification["Content-Language"] == "en"
    assert "The visitor wrote in Dutch." in parts(notification)[0]
    assert "Language:  Dutch" in parts(notification)[0]
    assert confirmation["Content-Language"] == "nl"
    assert parts(confirmation)[0].startswith("Bedankt, Zoë Ångström!")


def test_the_owner_s_time_zone_and_language_write_the_date(
    branded: Callable[..., Settings], renderer: EmailRenderer
) -> None:
    settings = branded(owner_locale="de", owner_timezone="Europe/Berlin")
    submission = replace(
        sample_submission("nl"), created_at=datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    )
    text, html = parts(parse(compose_notification(submission, settings, renderer).to_bytes()))
    # Half past midnight on New Year's Day in Berlin, in German.
    expected = "1. Januar 2026, 00:30 (Mitteleuropäische Normalzeit)"
    assert expected in text
    assert expected in readable(html)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", ["notification", "confirmation"])
def test_the_html_stays_under_gmail_s_clipping_size_in_every_language(
    branded: Callable[..., Settings], renderer: EmailRenderer, kind: str, locale: str
) -> None:
    settings = branded()
    for preset in PRESETS:
        email = COMPOSERS[kind](
            preset_submission(preset, locale), settings, renderer, locale=locale
        )
        assert len(email.html.encode()) < MAX_HTML_BYTES, (preset, len(email.html.encode()))


def test_every_language_survives_the_startup_check(
    settings: Settings, renderer: EmailRenderer
) -> None:
    check_templates(settings, renderer)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_language_s_own_templates_write_what_the_shared_ones_do(
    branded: Callable[..., Settings], locale: str
) -> None:
    # The startup check renders with the templates every language shares (gettext at
    # render time); emails are sent with the language's own (translated when compiled).
    settings = branded(brand_logo_url="https://example.com/logo.png?a=1&b=2")
    own, shared = EmailRenderer(), EmailRenderer()
    for preset in PRESETS:
        submission = replace(preset_submission(preset, locale), visitor_suppressed=True)
        for compose in COMPOSERS.values():
            sent = compose(submission, settings, own, locale=locale)
            with shared.checking():
                checked = compose(submission, settings, shared, locale=locale)
            assert (sent.subject, sent.text, sent.html) == (
                checked.subject,
                checked.text,
                checked.html,
            )


@pytest.mark.parametrize("locale", ["nl", "de", "fr"])
def test_a_render_asks_no_catalog_once_the_language_is_compiled(
    branded: Callable[..., Settings],
    renderer: EmailRenderer,
    monkeypatch: pytest.MonkeyPatch,
    locale: str,
) -> None:
    settings = branded()
    submission = sample_submission(locale)
    first = [
        compose(submission, settings, renderer, locale=locale) for compose in COMPOSERS.values()
    ]
    monkeypatch.setattr(templating, "translations", lambda _locale: _NoCatalog())
    again = [
        compose(submission, settings, renderer, locale=locale) for compose in COMPOSERS.values()
    ]
    assert [(e.subject, e.text, e.html) for e in again] == [
        (e.subject, e.text, e.html) for e in first
    ]
    # The shared templates do ask, so the swap above would have been noticed.
    with renderer.checking(), pytest.raises(AssertionError, match="at render time"):
        compose_confirmation(submission, settings, renderer, locale=locale)


class _NoCatalog(NullTranslations):
    """A catalog that fails when asked."""

    def gettext(self, message: str) -> str:
        raise AssertionError(f"gettext({message!r}) at render time")


def test_the_leftover_check_finds_english_in_a_translation() -> None:
    # Proves the check can fail: an untranslated sentence in a Dutch email is found,
    # in HTML too, while a word French shares with English is not a leftover.
    dutch = "<p>Bedankt!</p><p>What happens&nbsp;next</p><p>Thank you, Zoë!</p>"
    assert set(english_leftovers(dutch, "nl")) == {"What happens next", "Thank you"}
    assert english_leftovers("<td>Message</td>", "fr") == []


# Per-language overrides in EMAIL_TEMPLATES_DIR


def test_a_language_s_own_override_comes_before_the_neutral_one(
    make_settings: Callable[..., Settings], overrides: Path
) -> None:
    (overrides / "confirmation.subject").write_text("Thanks from {{ brand.name }}\n")
    (overrides / "confirmation.nl.subject").write_text("Dank je wel van {{ brand.name }}\n")
    (overrides / "layout" / "footer.de.txt").write_text("-- \nGrüße von {{ brand.name }}\n")
    settings = make_settings(email_templates_dir=overrides, brand_name="Example Ltd")
    renderer = EmailRenderer.from_settings(settings)

    def confirmation(locale: str):
        return compose_confirmation(sample_submission(locale), settings, renderer)

    assert confirmation("nl").subject == "Dank je wel van Example Ltd"
    assert confirmation("en").subject == "Thanks from Example Ltd"
    assert confirmation("de").subject == "Thanks from Example Ltd"  # the neutral override
    # Includes are looked up the same way: only German gets the German footer.
    assert confirmation("de").text.endswith("Grüße von Example Ltd\n")
    assert "Grüße" not in confirmation("fr").text
    # The neutral override still translates with {% trans %}; the built-in HTML is untouched.
    assert '<html lang="nl"' in confirmation("nl").html


def test_a_broken_language_override_stops_startup_naming_its_file(
    make_settings: Callable[..., Settings], overrides: Path
) -> None:
    (overrides / "notification.fr.txt").write_text("{% trans %}Bonjour{% endif %}\n")
    settings = make_settings(email_templates_dir=overrides)
    with pytest.raises(TemplateError, match=r"^notification\.fr\.txt:1: "):
        check_templates(settings, EmailRenderer.from_settings(settings))


def test_a_language_s_own_mjml_override_is_compiled_for_that_language_only(
    make_settings: Callable[..., Settings], overrides: Path
) -> None:
    source = (Path(EmailRenderer().builtin) / "confirmation.mjml").read_text()
    edited = source.replace("{% trans %}What happens next{% endtrans %}", "Zo gaat het verder")
    (overrides / "confirmation.nl.mjml").write_text(edited)
    settings = make_settings(email_templates_dir=overrides)
    renderer = EmailRenderer.from_settings(settings)
    dutch = compose_confirmation(sample_submission("nl"), settings, renderer)
    german = compose_confirmation(sample_submission("de"), settings, renderer)
    assert "Zo gaat het verder" in dutch.html
    assert "Wie es weitergeht" in german.html
    assert {file.name for file in renderer.files()} >= {"confirmation.nl.mjml"}
