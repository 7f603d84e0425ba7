"""Many forms from FORMS_FILE: per-form routing, declared fields, consent, the hosted page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service.app import create_app
from service.config import Settings
from tests.api.conftest import drain_outbox, read_mail
from tests.forms.examples import EXAMPLE

pytestmark = pytest.mark.asyncio

ADMIN_TOKEN = "admin-token-0123456789abcdef"
APPLICANT = {
    "name": "Ada Lovelace",
    "email": "ada@example.org",
    "position": "Designer",
    "portfolio": "https://ada.example/work",
    "consent": "on",
    "message": "I would love to join.",
}
CONSENT = "I agree that my application is kept for six months."


@pytest.fixture
def app(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Sanic]:
    """The issue's example forms; other origins than the contact form's for the rest."""
    (tmp_path / "forms.toml").write_text(EXAMPLE)
    settings = make_settings(
        email_from="owner@example.com",
        brand_name="Example Ltd",
        contact_recipients="owner@example.com",
        cors_origins="https://other.example",
        forms_file=str(tmp_path / "forms.toml"),
        admin_token=ADMIN_TOKEN,
        confirmation_rate_limit="off",
    )
    application = create_app(settings=settings)
    application.register_listener(drain_outbox, "before_server_stop")
    yield application
    Sanic._app_registry.pop(application.name, None)


@pytest.fixture
def client(app: Sanic) -> SanicASGITestClient:
    return app.asgi_client


async def post(client: SanicASGITestClient, path: str, body: dict[str, Any]) -> Any:
    _, response = await client.post(
        path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    return response


async def test_each_form_notifies_its_own_recipients_with_its_fields_in_order(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    response = await post(client, "/api/forms/careers", APPLICANT)
    assert response.status == 200, response.text
    assert (await post(client, "/api/contact", {**APPLICANT, "phone": "+49 30 1234"})).status == 200

    mails = read_mail(mail_dir)
    notifications = [m for m in mails if m["Reply-To"]]
    careers = next(m for m in notifications if "jobs@example.com" in m["To"])
    contact = next(m for m in notifications if "sales@example.com" in m["To"])
    assert careers["Subject"] == "New message from the Example Ltd Careers form"
    assert contact["Subject"] == "New message from the Example Ltd contact form"
    text = careers.get_body(("plain",)).get_content()
    lines = [line for line in text.splitlines() if ": " in line]
    labelled = [line.split(": ", 1)[0].strip() for line in lines]
    assert labelled[labelled.index("Position") :][:3] == ["Position", "Portfolio", CONSENT]
    assert "Position: Designer" in text
    assert "Portfolio: https://ada.example/work" in text
    assert f"{CONSENT}: Yes" in text
    html = careers.get_body(("html",)).get_content()
    assert html.index("Position") < html.index("Portfolio") < html.index("kept for six months")
    assert "+49 30 1234" in contact.get_body(("plain",)).get_content()


async def test_the_confirmation_never_carries_the_declared_fields(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    hostile = {**APPLICANT, "position": "Designer", "portfolio": "https://spam.example/buy"}
    assert (await post(client, "/api/forms/careers", hostile)).status == 200
    (confirmation,) = [m for m in read_mail(mail_dir) if m["To"] == "ada@example.org"]
    for part in ("plain", "html"):
        body = confirmation.get_body((part,)).get_content()
        assert "spam.example" not in body
        assert "Designer" not in body
        assert "I would love to join" not in body


async def test_declared_fields_are_validated_like_the_core_ones(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    bad = {**APPLICANT, "email": "nope", "position": "Astronaut", "portfolio": "javascript:x"}
    del bad["consent"]
    response = await post(client, "/api/forms/careers", bad)
    assert response.status == 422
    assert response.json["success"] is False
    assert [error["field"] for error in response.json["errors"]] == [
        "email",
        "position",
        "portfolio",
        "consent",
    ]
    assert read_mail(mail_dir) == []


async def test_an_unknown_form_is_a_404_everywhere(client: SanicASGITestClient) -> None:
    response = await post(client, "/api/forms/nope", APPLICANT)
    assert response.status == 404
    assert response.json["success"] is False
    assert "nope" in response.json["message"]
    _, described = await client.get("/api/forms/nope")
    assert described.status == 404
    _, page = await client.get("/f/nope")
    assert page.status == 404
    assert page.content_type.startswith("text/html")


async def test_a_form_describes_itself_without_secrets(client: SanicASGITestClient) -> None:
    _, response = await client.get("/api/forms/careers")
    assert response.status == 200
    body = response.json
    assert (body["id"], body["title"]) == ("careers", "Careers")
    assert [field["name"] for field in body["fields"]] == [
        "name",
        "email",
        "company",
        "message",
        "position",
        "portfolio",
        "consent",
    ]
    position = body["fields"][4]
    assert position == {
        "name": "position",
        "type": "select",
        "label": "Position",
        "required": True,
        "options": ["Backend engineer", "Designer"],
        "max_length": None,
        "min": None,
        "max": None,
    }
    assert "jobs@example.com" not in response.text


@pytest.mark.parametrize(
    ("path", "allowed", "refused"),
    [
        ("/api/contact", "https://www.example.com", "https://other.example"),
        ("/api/forms/contact", "https://www.example.com", "https://other.example"),
        ("/api/forms/careers", "https://other.example", "https://www.example.com"),
    ],
)
async def test_cors_answers_with_each_forms_origins(
    client: SanicASGITestClient, path: str, allowed: str, refused: str
) -> None:
    preflight = {"access-control-request-method": "POST"}
    _, yes = await client.options(path, headers={"origin": allowed, **preflight})
    assert yes.headers.get("access-control-allow-origin") == allowed
    _, no = await client.options(path, headers={"origin": refused, **preflight})
    assert "access-control-allow-origin" not in no.headers


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/api/contact", "https://www.example.com/thanks"),
        ("/api/forms/careers", "/thanks"),
        ("/f/careers", "/f/careers/thanks"),
        ("/f/contact", "https://www.example.com/thanks"),
    ],
)
async def test_a_browser_post_goes_to_the_forms_redirect(
    client: SanicASGITestClient, path: str, location: str
) -> None:
    _, response = await client.post(
        path, data=APPLICANT, headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status == 303
    assert response.headers["location"] == location


async def test_consent_is_stored_with_its_label_and_time_and_listed_by_form(
    client: SanicASGITestClient,
) -> None:
    assert (await post(client, "/api/forms/careers", APPLICANT)).status == 200
    assert (await post(client, "/api/contact", {**APPLICANT, "phone": "030 1234"})).status == 200
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}

    _, everything = await client.get("/api/admin/submissions", headers=auth)
    assert [s["form"] for s in everything.json["submissions"]] == ["contact", "careers"]
    _, careers = await client.get("/api/admin/submissions?form=careers", headers=auth)
    (lead,) = careers.json["submissions"]
    assert lead["fields"] == {
        "position": "Designer",
        "portfolio": "https://ada.example/work",
        "consent": True,
    }
    (consent,) = lead["consent"]
    assert consent["field"] == "consent"
    assert consent["label"] == CONSENT
    given = datetime.fromisoformat(consent["given_at"])
    assert abs(given - datetime.fromisoformat(lead["created_at"])) < timedelta(seconds=60)
    _, contact = await client.get("/api/admin/submissions?form=contact", headers=auth)
    assert contact.json["submissions"][0]["fields"] == {"phone": "030 1234"}
    assert contact.json["submissions"][0]["consent"] == []
    _, bad = await client.get("/api/admin/submissions?form=Not%20a%20form", headers=auth)
    assert bad.status == 400


async def test_submissions_are_counted_by_form(client: SanicASGITestClient) -> None:
    assert (await post(client, "/api/forms/careers", APPLICANT)).status == 200
    assert (await post(client, "/api/forms/careers", {"name": "x"})).status == 422
    _, metrics = await client.get("/metrics")
    assert 'contact_mailer_submissions_total{form="careers",outcome="accepted"} 1.0' in metrics.text
    assert 'contact_mailer_submissions_total{form="careers",outcome="invalid"} 1.0' in metrics.text
    assert 'contact_mailer_submissions_total{form="contact",outcome="accepted"} 0.0' in metrics.text


async def test_a_bot_filling_the_honeypot_is_answered_as_a_success_and_nothing_is_stored(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    response = await post(client, "/api/forms/careers", {**APPLICANT, "_gotcha": "buy"})
    assert response.status == 200
    assert response.json["success"] is True
    assert read_mail(mail_dir) == []


async def test_the_openapi_document_describes_every_form(client: SanicASGITestClient) -> None:
    _, response = await client.get("/docs/openapi.json")
    paths = response.json["paths"]
    operation = paths["/api/forms/{form}"]["post"]
    (form,) = [p for p in operation["parameters"] if p["name"] == "form"]
    assert form["schema"]["enum"] == ["contact", "careers"]
    schemas = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    careers = next(schema for schema in schemas if schema["title"] == "Careers")
    assert careers["properties"]["position"]["enum"] == ["Backend engineer", "Designer"]
    assert careers["properties"]["consent"]["title"] == CONSENT
    assert set(careers["required"]) == {"name", "email", "position", "consent"}
    assert "get" in paths["/api/forms/{form}"]
    contact = paths["/api/contact"]["post"]["requestBody"]["content"]["application/json"]
    assert "phone" in contact["schema"]["properties"]
    # The per-form routes serve the template's path; they are not listed twice.
    assert "/api/forms/careers" not in paths


async def test_the_hosted_page_is_framed_by_its_forms_origins_only(
    client: SanicASGITestClient,
) -> None:
    _, contact = await client.get("/f/contact")
    assert contact.status == 200
    policy = contact.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.example.com" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "form-action 'self' https://www.example.com;" in policy
    assert 'name="_gotcha"' in contact.text
    _, careers = await client.get("/f/careers")
    assert (
        "frame-ancestors 'self' https://other.example" in careers.headers["content-security-policy"]
    )


async def test_a_refused_plain_post_shows_the_page_again_with_the_values_kept(
    client: SanicASGITestClient,
) -> None:
    typed = {**APPLICANT, "email": "not-an-address", "consent": ""}
    _, response = await client.post("/f/careers", data=typed, headers={"accept": "text/html"})
    assert response.status == 422
    assert response.content_type.startswith("text/html")
    page = response.text
    assert 'value="Ada Lovelace"' in page
    assert 'value="not-an-address"' in page
    assert "<option selected>Designer</option>" in page
    assert "I would love to join.</textarea>" in page
    assert 'id="f-email-error">Must be a valid email address.</p>' in page
    assert 'id="f-consent-error">Must be checked.</p>' in page
    assert 'aria-invalid="true"' in page
    assert "frame-ancestors" in response.headers["content-security-policy"]


async def test_visitor_text_on_the_hosted_page_is_escaped(client: SanicASGITestClient) -> None:
    typed = {**APPLICANT, "name": '"><script>alert(1)</script>', "email": "x"}
    _, response = await client.post("/f/careers", data=typed, headers={"accept": "text/html"})
    assert response.status == 422
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text


CAPTCHA_ORIGINS = {
    "turnstile": (
        "cf-turnstile",
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "script-src 'self' https://challenges.cloudflare.com;",
        "frame-src https://challenges.cloudflare.com;",
    ),
    "hcaptcha": (
        "h-captcha",
        "https://js.hcaptcha.com/1/api.js?hl=nl",
        "script-src 'self' https://hcaptcha.com https://*.hcaptcha.com;",
        "frame-src https://hcaptcha.com https://*.hcaptcha.com;",
    ),
    "recaptcha": (
        "g-recaptcha",
        "https://www.google.com/recaptcha/api.js?hl=nl",
        "script-src 'self' https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/;",
        "frame-src https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/;",
    ),
}


@pytest.fixture
def captcha_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Sanic]]:
    """Apps with a captcha provider, built from settings overrides."""
    apps: list[Sanic] = []

    def make(**overrides: Any) -> Sanic:
        settings = make_settings(
            email_from="owner@example.com", brand_name="Example Ltd", **overrides
        )
        apps.append(create_app(settings=settings))
        return apps[-1]

    yield make
    for made in apps:
        Sanic._app_registry.pop(made.name, None)


@pytest.mark.parametrize("provider", list(CAPTCHA_ORIGINS))
async def test_the_form_page_shows_the_captcha_widget_and_allows_its_origins_only(
    captcha_app: Callable[..., Sanic], provider: str
) -> None:
    app = captcha_app(
        captcha_provider=provider, captcha_secret="secret", captcha_site_key="site-key_0x4AAA"
    )
    element, script, scripts, frames = CAPTCHA_ORIGINS[provider]
    _, page = await app.asgi_client.get("/f/contact", headers={"accept-language": "nl"})
    assert page.status == 200
    widget = f'<div class="{element}" data-sitekey="site-key_0x4AAA"'
    assert widget in page.text
    # Inside the form, so that both the plain post and form.js send its token.
    assert (
        page.text.index('id="hosted-form"') < page.text.index(widget) < page.text.index("</form>")
    )
    assert f'<script src="{script}" async defer></script>' in page.text
    policy = page.headers["content-security-policy"]
    assert scripts in policy
    assert frames in policy
    assert "unsafe-inline" not in policy
    assert "default-src 'none';" in policy
    # Only the form page: its thank-you page needs no captcha, and gets none of its origins.
    _, thanks = await app.asgi_client.get("/f/contact/thanks")
    assert "frame-src" not in thanks.headers["content-security-policy"]
    assert "script-src 'self';" in thanks.headers["content-security-policy"]


async def test_without_a_site_key_the_page_has_no_widget_and_the_plain_policy(
    captcha_app: Callable[..., Sanic],
) -> None:
    app = captcha_app(captcha_provider="turnstile", captcha_secret="secret")
    _, page = await app.asgi_client.get("/f/contact")
    assert "cf-turnstile" not in page.text
    assert "challenges.cloudflare.com" not in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "nl",
            {
                "position": "Moet een van de genoemde opties zijn.",
                "portfolio": "Moet een webadres zijn dat begint met http:// of https://.",
                "consent": "Moet aangevinkt zijn.",
            },
        ),
        (
            "de",
            {
                "position": "Muss eine der aufgeführten Optionen sein.",
                "portfolio": "Muss eine Webadresse sein, die mit http:// oder https:// beginnt.",
                "consent": "Muss angekreuzt sein.",
            },
        ),
    ],
)
async def test_declared_fields_are_refused_in_the_visitor_s_language(
    client: SanicASGITestClient, locale: str, expected: dict[str, str]
) -> None:
    body = {**APPLICANT, "position": "Pilot", "portfolio": "ftp://x", "consent": False}
    response = await post(client, "/api/forms/careers", {**body, "locale": locale})
    assert response.status == 422
    errors = {error["field"]: error["message"] for error in response.json["errors"]}
    assert errors == expected
