"""The HTTP surface in the visitor's language: answers, errors, pages and the stored submission."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from service.i18n import LOCALES
from service.outbox import open_store
from tests.api.conftest import VALID_FORM, deliver_outbox, read_mail
from tests.languages import english_leftovers

THANKS = {
    "en": "Thank you for your message!",
    "nl": "Bedankt voor je bericht!",
    "de": "Vielen Dank für Ihre Nachricht!",
    "fr": "Merci pour votre message\u00a0!",
}


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Sanic]]:
    """Apps built from settings overrides, removed from Sanic's registry afterwards."""
    apps: list[Sanic] = []

    def make(**overrides: Any) -> Sanic:
        settings = make_settings(
            email_from="owner@example.com", brand_name="Example Ltd", **overrides
        )
        app = create_app(settings=settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        Sanic._app_registry.pop(app.name, None)


def delivered(mail_dir: Path) -> tuple[EmailMessage, EmailMessage]:
    """The notification and the confirmation the ``file`` provider wrote."""
    by_kind = {
        "confirmation" if message["Auto-Submitted"] else "notification": message
        for message in read_mail(mail_dir)
    }
    return by_kind["notification"], by_kind["confirmation"]


async def post(app: Sanic, body: Any, language: str | None = None, **headers: str):
    if language is not None:
        headers["accept-language"] = language
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    _, response = await app.asgi_client.post(
        "/api/contact", content=raw, headers={"content-type": "application/json", **headers}
    )
    return response


async def test_a_dutch_visitor_and_an_english_owner(
    make_app: Callable[..., Sanic], mail_dir: Path
) -> None:
    # The "done when": Accept-Language nl, OWNER_LOCALE=en.
    app = make_app(owner_locale="en")
    response = await post(app, VALID_FORM, "nl-BE,nl;q=0.9,en;q=0.8")
    assert response.status == 200
    assert response.json["message"] == "Bedankt voor je bericht!"
    assert response.headers["content-language"] == "nl"
    assert "accept-language" in response.headers["vary"].lower()

    settings = app.ctx.settings
    await deliver_outbox(settings)
    notification, confirmation = delivered(mail_dir)
    assert notification["Content-Language"] == "en"
    assert notification["Subject"] == "New message from the Example Ltd contact form"
    assert "The visitor wrote in Dutch." in notification.get_body(("plain",)).get_content()
    assert confirmation["Content-Language"] == "nl"
    assert confirmation["Subject"] == "Bedankt voor je bericht aan Example Ltd"
    text = confirmation.get_body(("plain",)).get_content()
    assert english_leftovers(text, "nl") == []
    async with open_store(settings.database_url) as store:
        stored = await store.get_submission(response.json["id"])
    assert stored is not None
    assert stored.locale == "nl"


async def test_the_locale_field_beats_the_browser_s_language(
    make_app: Callable[..., Sanic], mail_dir: Path
) -> None:
    app = make_app(default_locale="fr")
    response = await post(app, {**VALID_FORM, "locale": "de-AT"}, "nl")
    assert response.json["message"] == THANKS["de"]
    await deliver_outbox(app.ctx.settings)
    notification, confirmation = delivered(mail_dir)
    assert confirmation["Content-Language"] == "de"
    # The owner's language follows DEFAULT_LOCALE when OWNER_LOCALE is unset.
    assert notification["Content-Language"] == "fr"
    assert "La personne a écrit en allemand." in notification.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("body", "header", "default", "expected"),
    [
        ({"locale": "es"}, "fr-CA, en;q=0.5", "en", "fr"),  # unsupported field: the header
        ({"locale": 7}, None, "de", "de"),  # not even a string: the default
        ({}, "pt-BR, es", "nl", "nl"),
    ],
)
async def test_an_unsupported_language_falls_back_never_to_an_error(
    make_app: Callable[..., Sanic],
    body: dict[str, Any],
    header: str | None,
    default: str,
    expected: str,
) -> None:
    app = make_app(default_locale=default)
    response = await post(app, {**VALID_FORM, **body}, header)
    assert response.status == 200
    assert response.json["message"] == THANKS[expected]


FIELD_ERRORS = {
    "en": ("This field is required.", "Must be a valid email address.", "Must be at most 100"),
    "nl": ("Dit veld is verplicht.", "Moet een geldig e-mailadres zijn.", "Mag hoogstens 100"),
    "de": ("Dieses Feld ist erforderlich.", "Muss eine gültige E-Mail-Adresse sein.", "Darf"),
    "fr": ("Ce champ est obligatoire.", "Doit être une adresse e-mail valide.", "Ne doit pas"),
}


@pytest.mark.parametrize("locale", LOCALES)
async def test_every_field_error_of_a_422_is_in_the_visitor_s_language(
    make_app: Callable[..., Sanic], locale: str
) -> None:
    app = make_app()
    bad = {"name": "n" * 101, "email": "not-an-address", "message": " ", "company": "a\nb"}
    response = await post(app, bad, locale)
    assert response.status == 422
    assert response.headers["content-language"] == locale
    errors = {error["field"]: error["message"] for error in response.json["errors"]}
    required, invalid_email, too_long = FIELD_ERRORS[locale]
    assert errors["message"] == required
    assert errors["email"] == invalid_email
    assert errors["name"].startswith(too_long)
    assert set(errors) == {"name", "email", "message", "company"}
    if locale != "en":
        every = " ".join([response.json["message"], *errors.values()])
        assert english_leftovers(every, locale) == []
        assert "control characters" not in every


ERRORS = {
    # status: (how, the Dutch message)
    413: "Het verzoek is groter dan toegestaan",
    415: "Verstuur application/json, application/x-www-form-urlencoded of multipart/form-data.",
    400: "De inhoud is geen geldige JSON.",
    409: "Deze Idempotency-Key is al gebruikt voor een andere inzending.",
    429: "Te veel berichten vanaf je adres. Probeer het later opnieuw.",
    503: "Je bericht kan nu niet worden opgeslagen. Probeer het over een minuut opnieuw.",
}


async def _provoke(make_app: Callable[..., Sanic], status: int):
    """An answer with ``status``, asked for in Dutch."""
    dutch = {"accept-language": "nl"}
    if status == 413:
        app = make_app(request_max_size=1024)
        return await post(app, {**VALID_FORM, "message": "x" * 2000}, "nl")
    if status == 415:
        app = make_app()
        _, response = await app.asgi_client.post(
            "/api/contact", content=b"hi", headers={"content-type": "text/plain", **dutch}
        )
        return response
    if status == 400:
        return await post(make_app(), b"{not json", "nl")
    if status == 409:
        app = make_app()
        await post(app, VALID_FORM, "nl", **{"idempotency-key": "k-1"})
        return await post(app, {**VALID_FORM, "name": "Other"}, "nl", **{"idempotency-key": "k-1"})
    if status == 429:
        app = make_app(contact_rate_limit="1/minute")
        await post(app, VALID_FORM, "nl")
        return await post(app, VALID_FORM, "nl")
    app = make_app()

    async def lose_the_database(app: Sanic) -> None:
        await app.ctx.store.close()

    app.register_listener(lose_the_database, "before_server_start")
    return await post(app, VALID_FORM, "nl")


@pytest.mark.parametrize("status", sorted(ERRORS))
async def test_json_errors_are_in_the_visitor_s_language(
    make_app: Callable[..., Sanic], status: int
) -> None:
    response = await _provoke(make_app, status)
    assert response.status == status
    assert response.json == {"success": False, "message": ERRORS[status], "errors": []}
    assert response.headers["content-language"] == "nl"


async def test_sanic_s_own_errors_get_a_translated_generic_message(
    make_app: Callable[..., Sanic],
) -> None:
    app = make_app()
    _, missing = await app.asgi_client.get("/nowhere", headers={"accept-language": "fr"})
    assert missing.status == 404
    assert missing.json["message"] == "Introuvable."
    _, english = await app.asgi_client.get("/nowhere", headers={"accept-language": "en"})
    assert english.json["message"].startswith("Requested URL /nowhere not found")


# Pages


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_html_error_page_is_in_the_visitor_s_language(
    make_app: Callable[..., Sanic], locale: str
) -> None:
    app = make_app()
    _, page = await app.asgi_client.post(
        "/api/contact",
        data={"name": "Zoë", "email": "nope", "message": "hi", "locale": locale},
        headers={"accept": "text/html"},
    )
    assert page.status == 422
    assert page.headers["content-language"] == locale
    assert f'<html lang="{locale}">' in page.text
    label, message = {
        "en": ("Email", "Must be a valid email address."),
        "nl": ("E-mail", "Moet een geldig e-mailadres zijn."),
        "de": ("E-Mail", "Muss eine gültige E-Mail-Adresse sein."),
        "fr": ("E-mail", "Doit être une adresse e-mail valide."),
    }[locale]
    assert f"<strong>{label}</strong>: {message}" in page.text
    if locale != "en":
        assert english_leftovers(page.text, locale) == []


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_thank_you_page_follows_accept_language_and_the_locale_parameter(
    make_app: Callable[..., Sanic], locale: str
) -> None:
    app = make_app()
    _, page = await app.asgi_client.get("/thanks", headers={"accept-language": locale})
    assert page.headers["content-language"] == locale
    assert f'<html lang="{locale}">' in page.text
    assert THANKS[locale].replace("\u00a0", " ") in page.text.replace("\u00a0", " ")
    if locale != "en":
        assert english_leftovers(page.text, locale) == []
    _, chosen = await app.asgi_client.get(
        "/thanks", params={"locale": locale}, headers={"accept-language": "de"}
    )
    assert f'<html lang="{locale}">' in chosen.text


async def test_a_browser_post_in_another_language_than_its_headers_keeps_it_to_the_thanks(
    make_app: Callable[..., Sanic],
) -> None:
    app = make_app()
    form = {**VALID_FORM, "locale": "fr"}
    headers = {"accept": "text/html", "accept-language": "nl"}
    _, response = await app.asgi_client.post(
        "/api/contact", data=form, headers=headers, follow_redirects=False
    )
    assert response.status == 303
    assert response.headers["location"] == "/thanks?locale=fr"
    _, plain = await app.asgi_client.post(
        "/api/contact", data=VALID_FORM, headers=headers, follow_redirects=False
    )
    assert plain.headers["location"] == "/thanks"  # the page negotiates nl by itself


async def test_a_malformed_idempotency_key_is_refused_in_the_visitor_s_language(
    make_app: Callable[..., Sanic],
) -> None:
    response = await post(make_app(), VALID_FORM, "de", **{"idempotency-key": "a b"})
    assert response.status == 400
    assert response.json["message"] == (
        "Der Idempotency-Key muss aus 1 bis 255 druckbaren ASCII-Zeichen bestehen."
    )


HOSTED = {
    "nl": ("Naam", "Versturen", "Velden met", "Moet een geldig e-mailadres zijn."),
    "de": ("Name", "Senden", "Pflichtfelder", "Muss eine gültige E-Mail-Adresse sein."),
    "fr": ("Nom", "Envoyer", "sont obligatoires", "Doit être une adresse e-mail valide."),
}


@pytest.mark.parametrize("locale", list(HOSTED))
async def test_the_hosted_page_follows_accept_language_and_the_locale_parameter(
    make_app: Callable[..., Sanic], locale: str
) -> None:
    app = make_app()
    label, button, note, _ = HOSTED[locale]
    _, page = await app.asgi_client.get("/f/contact", headers={"accept-language": locale})
    assert page.headers["content-language"] == locale
    assert f'<html lang="{locale}">' in page.text
    assert f'<input type="hidden" name="locale" value="{locale}">' in page.text
    assert f">{label} <span" in page.text
    assert f">{button}</button>" in page.text
    assert note in page.text
    assert english_leftovers(page.text, locale) == []
    _, chosen = await app.asgi_client.get(
        "/f/contact", params={"locale": locale}, headers={"accept-language": "en"}
    )
    assert f'<html lang="{locale}">' in chosen.text
    _, thanks = await app.asgi_client.get("/f/contact/thanks", params={"locale": locale})
    assert f'<html lang="{locale}">' in thanks.text
    assert english_leftovers(thanks.text, locale) == []
    _, missing = await app.asgi_client.get("/f/nothing", headers={"accept-language": locale})
    assert f'<html lang="{locale}">' in missing.text
    assert english_leftovers(missing.text, locale) == []


@pytest.mark.parametrize("locale", list(HOSTED))
async def test_the_hosted_page_s_plain_post_keeps_the_page_s_language(
    make_app: Callable[..., Sanic], locale: str
) -> None:
    """The hidden locale field wins over the browser's headers, on the page and to the thanks."""
    app = make_app()
    headers = {"accept": "text/html", "accept-language": "en"}
    typed = {"name": "Zoë", "email": "nope", "message": "hi", "locale": locale}
    _, page = await app.asgi_client.post("/f/contact", data=typed, headers=headers)
    assert page.status == 422
    assert f'<html lang="{locale}">' in page.text
    assert f'id="f-email-error">{HOSTED[locale][3]}</p>' in page.text
    assert english_leftovers(page.text, locale) == []
    _, sent = await app.asgi_client.post(
        "/f/contact",
        data={**typed, "email": "zoe@example.org"},
        headers=headers,
        follow_redirects=False,
    )
    assert sent.status == 303
    assert sent.headers["location"] == f"/f/contact/thanks?locale={locale}"
