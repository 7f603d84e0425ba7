"""The shipped languages: negotiation, catalogs complete and current, dates in the owner's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from service.i18n import (
    LOCALES,
    format_moment,
    language_name,
    negotiate,
    supported_locale,
    translations,
)
from service.i18n.negotiation import accepted_languages
from tests.languages import TRANSLATED, catalog

ROOT = Path(__file__).resolve().parent.parent
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")

# Negotiation


@pytest.mark.parametrize(
    ("explicit", "form", "header", "default", "expected"),
    [
        # The issue's example: a region, weights, English last.
        (None, None, "nl-BE,nl;q=0.9,en;q=0.8", "en", "nl"),
        # Weights, not order, decide; an unsupported first choice is passed over.
        (None, None, "en;q=0.2, de-AT;q=0.9, es;q=1", "en", "de"),
        (None, None, "fr-CA", "en", "fr"),
        (None, None, "es, pt-BR;q=0.8", "nl", "nl"),  # nothing shipped: the default
        (None, None, "*", "de", "de"),
        (None, None, "nl;q=0, en;q=0.1", "fr", "en"),  # q=0 means "not this one"
        (None, None, "nl;q=abc, de;q=2, fr;q=0.5", "en", "fr"),  # broken weights are skipped
        (None, None, "", "fr", "fr"),
        (None, None, None, "en", "en"),
        (None, None, "<script>, ;;;, ,", "en", "en"),
        # The explicit field beats everything, with or without a region, any case or separator.
        ("nl", None, "de", "en", "nl"),
        ("de-AT", "fr", "nl", "en", "de"),
        ("FR_be", None, None, "en", "fr"),
        # The form's locale comes next...
        (None, "fr", "nl", "en", "fr"),
        # ...and an unsupported or malformed explicit one falls back along the list.
        ("es", "fr", "nl", "en", "fr"),
        ("es", None, "nl", "en", "nl"),
        ("x" * 500, None, None, "de", "de"),
        (42, None, "nl", "en", "nl"),
        (["nl"], None, None, "en", "en"),
        ("", "xx", "", "nl", "nl"),
    ],
)
def test_negotiation_follows_the_issue_order(
    explicit: object, form: str | None, header: str | None, default: str, expected: str
) -> None:
    chosen = negotiate(explicit=explicit, form=form, accept_language=header, default=default)
    assert chosen == expected


def test_accept_language_is_read_by_weight_then_order() -> None:
    header = "da, en-gb;q=0.8, en;q=0.7, nl;q=0.8, *;q=0.1"
    assert accepted_languages(header) == ["da", "en-gb", "nl", "en"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("nl", "nl"), ("nl-BE", "nl"), ("NL_be", "nl"), ("en-US", "en"), ("de-CH", "de")],
        *[("pt", None), ("", None), (" ", None), ("n l", None), ("nl\r\n", "nl"), (None, None)],
    ],
)
def test_a_region_counts_as_its_language(value: object, expected: str | None) -> None:
    assert supported_locale(value) == expected


# Catalogs


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    messages = [message for message in catalog(locale) if message.id]
    assert messages
    untranslated = [message.id for message in messages if not message.string]
    fuzzy = [message.id for message in messages if message.fuzzy]
    assert not untranslated, f"{locale}: no translation for {untranslated}"
    assert not fuzzy, f"{locale}: fuzzy (unchecked) translations for {fuzzy}"
    for message in messages:
        wanted = sorted(_PLACEHOLDER.findall(message.id))
        assert sorted(_PLACEHOLDER.findall(message.string)) == wanted, (locale, message.id)


def _extracted() -> set[str]:
    """Every msgid in the sources, extracted as `make translations` does (babel.cfg)."""
    with (ROOT / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    keywords = {"_": None, "gettext": None, "N_": None}
    return {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
        if isinstance(message, str)
    }


def test_the_catalogs_hold_exactly_the_messages_of_the_sources() -> None:
    # Fails when a template or module gained a message and `make translations` was not run.
    in_sources = _extracted()
    assert len(in_sources) > 40
    for locale in TRANSLATED:
        in_catalog = {message.id for message in catalog(locale) if message.id}
        assert in_sources - in_catalog == set(), f"{locale}: run make translations"
        assert in_catalog - in_sources == set(), f"{locale}: obsolete messages"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_is_the_po_file(locale: str) -> None:
    compiled = translations(locale)
    for message in catalog(locale):
        if message.id:
            assert compiled.gettext(message.id) == message.string, message.id


def test_english_is_the_source_language_and_unknown_ones_are_refused() -> None:
    assert translations("en").gettext("Thank you for your message!") == (
        "Thank you for your message!"
    )
    assert translations("nl").gettext("Thank you for your message!") == "Bedankt voor je bericht!"
    with pytest.raises(ValueError, match="not a shipped language"):
        translations("es")


# Names and dates


def test_language_names_come_from_cldr_in_the_reader_s_language() -> None:
    assert language_name("nl", "en") == "Dutch"
    assert language_name("nl", "de") == "Niederländisch"
    assert language_name("de", "fr") == "allemand"
    assert language_name("fr", "nl") == "Frans"
    assert {language_name(code, code) for code in LOCALES} == {
        "English",
        "Nederlands",
        "Deutsch",
        "français",
    }


@pytest.mark.parametrize(
    ("zone", "locale", "expected"),
    [
        # CLDR puts a narrow no-break space before PM.
        ("UTC", "en", "July 5, 2025, 1:30 PM (Coordinated Universal Time)"),
        ("Europe/Amsterdam", "nl", "5 juli 2025, 15:30 (Midden-Europese zomertijd)"),
        ("Europe/Berlin", "de", "5. Juli 2025, 15:30 (Mitteleuropäische Sommerzeit)"),
        (
            "America/New_York",
            "fr",
            "5 juillet 2025, 09:30 (heure d’été de l’Est nord-américain)",  # noqa: RUF001
        ),
    ],
)
def test_moments_are_written_in_the_owner_s_zone_and_language(
    zone: str, locale: str, expected: str
) -> None:
    moment = datetime(2025, 7, 5, 13, 30, 59, tzinfo=UTC)
    assert format_moment(moment, ZoneInfo(zone), locale) == expected


def test_a_zone_is_named_for_the_season_of_each_moment() -> None:
    # Zone names are worked out once per zone, season and language: summer and
    # winter in the same zone must still differ, and each language keeps its own.
    berlin = ZoneInfo("Europe/Berlin")
    summer = datetime(2025, 7, 5, 13, 30, tzinfo=UTC)
    winter = datetime(2025, 12, 5, 13, 30, tzinfo=UTC)
    for _ in range(2):
        assert format_moment(summer, berlin, "de").endswith("(Mitteleuropäische Sommerzeit)")
        assert format_moment(winter, berlin, "de").endswith("(Mitteleuropäische Normalzeit)")
        assert format_moment(winter, berlin, "en").endswith("(Central European Standard Time)")


def test_moments_of_one_minute_are_written_alike_in_each_zone_of_their_own() -> None:
    # The text of a minute is kept; the same instant in another zone is another text.
    first = datetime(2025, 7, 5, 13, 30, 1, tzinfo=UTC)
    last = datetime(2025, 7, 5, 13, 30, 59, 999999, tzinfo=UTC)
    berlin, london = ZoneInfo("Europe/Berlin"), ZoneInfo("Europe/London")
    for _ in range(2):
        assert format_moment(first, berlin, "en") == format_moment(last, berlin, "en")
        assert format_moment(first, berlin, "en").startswith("July 5, 2025, 3:30 PM")
        assert format_moment(last, london, "en").startswith("July 5, 2025, 2:30 PM")
        assert format_moment(last.replace(minute=31), london, "en").startswith(
            "July 5, 2025, 2:31 PM"
        )
