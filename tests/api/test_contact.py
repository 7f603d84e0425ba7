"""POST /api/contact: content types, validation limits, answers and the emails they send."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service.app import create_app
from service.config import Settings
from service.outbox import open_store
from tests.api.conftest import deliver_outbox, read_mail
from tests.databases import DATABASE_KINDS, fresh_database

pytestmark = pytest.mark.asyncio


async def post_json(client: SanicASGITestClient, body: Any, **kwargs: Any):
    _, response = await client.post(
        "/api/contact",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **kwargs.pop("headers", {})},
        **kwargs,
    )
    return response


async def test_json_submission_is_accepted_and_sends_two_emails(
    client: SanicASGITestClient, valid_form: dict[str, Any], mail_dir: Path, settings: Settings
) -> None:
    response = await post_json(client, valid_form)
    assert response.status == 200
    body = response.json
    assert body["success"] is True
    assert body["message"] == "Thank you for your message!"
    assert len(body["id"]) == 36
    await deliver_outbox(settings)
    kinds = sorted(m["To"] for m in read_mail(mail_dir))
    assert kinds == ["sales@example.com, ops@example.com", "zoe@example.org"]


async def test_plain_html_form_is_accepted(
    client: SanicASGITestClient, valid_form: dict[str, Any], mail_dir: Path, settings: Settings
) -> None:
    _, response = await client.post("/api/contact", data=valid_form)
    assert response.status == 200
    assert response.json["success"] is True
    await deliver_outbox(settings)
    assert len(read_mail(mail_dir)) == 2


async def test_multipart_without_files_is_accepted(
    client: SanicASGITestClient, valid_form: dict[str, Any]
) -> None:
    _, response = await client.post(
        "/api/contact", files={key: (None, value) for key, value in valid_form.items()}
    )
    assert response.status == 200, response.text


async def test_multipart_with_a_file_is_refused(
    client: SanicASGITestClient, valid_form: dict[str, Any], mail_dir: Path
) -> None:
    files = {key: (None, value) for key, value in valid_form.items()}
    files["attachment"] = ("cv.pdf", b"%PDF-1.4", "application/pdf")
    _, response = await client.post("/api/contact", files=files)
    assert response.status == 415
    assert response.json["success"] is False
    assert not read_mail(mail_dir)


async def test_browser_form_post_is_redirected_to_the_thank_you_page(
    client: SanicASGITestClient, valid_form: dict[str, Any]
) -> None:
    _, response = await client.post(
        "/api/contact",
        data=valid_form,
        headers={"accept": "text/html,application/xhtml+xml"},
        follow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["location"] == "/thanks"
    _, page = await client.get("/thanks")
    assert page.status == 200
    assert "Thank you" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_browser_form_post_follows_contact_redirect_url(
    make_settings, valid_form: dict[str, Any]
) -> None:
    from service.app import create_app

    app = create_app(settings=make_settings(contact_redirect_url="https://example.com/thanks"))
    _, response = await app.asgi_client.post(
        "/api/contact", data=valid_form, headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status == 303
    assert response.headers["location"] == "https://example.com/thanks"


async def test_invalid_browser_form_gets_an_html_page_listing_the_errors(
    client: SanicASGITestClient,
) -> None:
    _, response = await client.post(
        "/api/contact", data={"name": "<b>x</b>", "email": "nope"}, headers={"accept": "text/html"}
    )
    assert response.status == 422
    assert response.content_type.startswith("text/html")
    assert "email" in response.text
    assert "Must be a valid email address." in response.text
    assert "<b>x</b>" not in response.text


def _with(form: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**form, **changes}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "n" * 101}, "name", "Must be at most 100 characters."),
        ({"name": "Eve\r\nBcc: victim@example.net"}, "name", "Must be a single line"),
        ({"name": "tab\there"}, "name", "Must be a single line"),
        ({"name": "nul\x00"}, "name", "Must be a single line"),
        ({"name": "del\x7f"}, "name", "Must be a single line"),
        ({"name": "c1\x85"}, "name", "Must be a single line"),
        ({"name": "line\u2028separator"}, "name", "Must be a single line"),
        ({"company": "para\u2029graph"}, "company", "Must be a single line"),
        ({"email": "zo\u00eb@example.org"}, "email", "Must be a valid email address."),
        ({"name": 42}, "name", "Must be text."),
        ({"email": "not-an-address"}, "email", "Must be a valid email address."),
        ({"email": "a@example.org\nBcc: x@example.net"}, "email", "Must be a valid email address."),
        ({"email": ("x" * 64 + "@" + "d" * 60 + ".") * 2 + "com"}, "email", "Must be"),
        ({"message": ""}, "message", "This field is required."),
        ({"message": " \n\t "}, "message", "This field is required."),
        ({"message": "m" * 5001}, "message", "Must be at most 5000 characters."),
        ({"company": "c" * 101}, "company", "Must be at most 100 characters."),
        ({"company": "line\nbreak"}, "company", "Must be a single line"),
    ],
)
async def test_each_field_limit_is_enforced(
    client: SanicASGITestClient,
    valid_form: dict[str, Any],
    mail_dir: Path,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = await post_json(client, _with(valid_form, **changes))
    assert response.status == 422
    body = response.json
    assert body["success"] is False
    assert body["message"]
    assert [error["field"] for error in body["errors"]] == [field]
    assert body["errors"][0]["message"].startswith(message)
    assert not read_mail(mail_dir)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "n" * 100},
        {"name": "  Zoë  "},
        {"message": "m" * 5000},
        {"message": "  padded message  " + " " * 100},
        {"company": "c" * 100},
        {"company": ""},
        {"email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + ".com"},
        {"unknown": "ignored", "nested": {"a": [1, 2]}},
    ],
)
async def test_values_at_the_limits_are_accepted(
    client: SanicASGITestClient, valid_form: dict[str, Any], changes: dict[str, Any]
) -> None:
    form = _with(valid_form, **changes)
    if "company" in changes and not changes["company"]:
        del form["company"]
        form["company"] = ""
    response = await post_json(client, form)
    assert response.status == 200, response.json


async def test_an_internationalised_domain_is_written_in_ascii(
    client: SanicASGITestClient, valid_form: dict[str, Any], mail_dir: Path, settings: Settings
) -> None:
    response = await post_json(client, _with(valid_form, email="zoe@b\u00fccher.example"))
    assert response.status == 200
    await deliver_outbox(settings)
    recipients = sorted(str(m["To"]) for m in read_mail(mail_dir))
    assert "zoe@xn--bcher-kva.example" in recipients
    [notification] = [m for m in read_mail(mail_dir) if m["Reply-To"]]
    assert notification["Reply-To"] == "zoe@xn--bcher-kva.example"


async def test_every_bad_field_is_listed(client: SanicASGITestClient) -> None:
    response = await post_json(client, {"company": "c" * 200})
    assert response.status == 422
    fields = {error["field"] for error in response.json["errors"]}
    assert fields == {"name", "email", "message", "company"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The body is not valid JSON."),
        (b"", "The body is not valid JSON."),
        (b"\xff\xfe\x00garbage", "The body is not valid JSON."),
        (b"[1, 2]", "The body must be a JSON object."),
        (b'"a string"', "The body must be a JSON object."),
        (b"null", "The body must be a JSON object."),
    ],
)
async def test_malformed_json_is_a_400(
    client: SanicASGITestClient, body: bytes, message: str
) -> None:
    _, response = await client.post(
        "/api/contact", content=body, headers={"content-type": "application/json"}
    )
    assert response.status == 400
    assert response.json == {"success": False, "message": message, "errors": []}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_unsupported_content_type_is_a_415(
    client: SanicASGITestClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    _, response = await client.post("/api/contact", content=b"name=x", headers=headers)
    assert response.status == 415
    assert response.json["success"] is False


async def test_body_over_64_kib_is_a_413(client: SanicASGITestClient) -> None:
    body = json.dumps({"message": "x" * (64 * 1024)}).encode()
    _, response = await client.post(
        "/api/contact", content=body, headers={"content-type": "application/json"}
    )
    assert response.status == 413
    assert response.json["success"] is False


async def test_unknown_route_and_wrong_method_answer_json(client: SanicASGITestClient) -> None:
    _, missing = await client.get("/api/nothing-here")
    assert missing.status == 404
    assert missing.json["success"] is False
    _, wrong = await client.get("/api/contact")
    assert wrong.status == 405
    assert wrong.json["success"] is False


async def test_a_store_that_cannot_write_answers_503_and_asks_to_retry(
    app: Sanic, valid_form: dict[str, Any]
) -> None:
    async def lose_the_database(app: Sanic) -> None:
        await app.ctx.store.close()

    # Runs after the app's own listener: the store is open, then gone, as in an outage.
    app.register_listener(lose_the_database, "before_server_start")
    response = await post_json(app.asgi_client, valid_form)
    assert response.status == 503
    assert response.json["success"] is False
    assert response.headers["retry-after"] == "60"


async def test_responses_carry_security_headers(
    client: SanicASGITestClient, valid_form: dict[str, Any]
) -> None:
    response = await post_json(client, valid_form)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_cors_allows_any_origin_in_development(client: SanicASGITestClient) -> None:
    _, response = await client.options(
        "/api/contact",
        headers={
            "origin": "https://site.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert response.headers.get("access-control-allow-origin") in ("*", "https://site.example")


async def test_cors_allows_only_listed_origins(make_settings) -> None:
    from service.app import create_app

    app = create_app(settings=make_settings(cors_origins="https://site.example"))
    preflight = {"access-control-request-method": "POST"}
    _, allowed = await app.asgi_client.options(
        "/api/contact", headers={"origin": "https://site.example", **preflight}
    )
    assert allowed.headers.get("access-control-allow-origin") == "https://site.example"
    _, refused = await app.asgi_client.options(
        "/api/contact", headers={"origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_openapi_document_describes_the_contact_endpoint(
    client: SanicASGITestClient,
) -> None:
    _, response = await client.get("/docs/openapi.json")
    assert response.status == 200
    operation = response.json["paths"]["/api/contact"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"name", "email", "message"}
    assert {"200", "400", "413", "415", "422"} <= set(operation["responses"])
    # The preview studio is a development tool, not part of the documented API.
    assert not [path for path in response.json["paths"] if path.startswith("/dev")]


# What a hostile review of the running service found (issue 11)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 1000, "The body is not valid JSON."),
        (b"[" * 1000 + b"]" * 1000, "The body is nested more than 32 levels deep."),
        (b"[" * 2000 + b"]" * 2000, "The body is nested more than 32 levels deep."),
    ],
)
async def test_deeply_nested_json_is_a_400_not_a_recursion_error(
    client: SanicASGITestClient, body: bytes, message: str
) -> None:
    _, response = await client.post(
        "/api/contact", content=body, headers={"content-type": "application/json"}
    )
    assert response.status == 400
    assert response.json == {"success": False, "message": message, "errors": []}


async def test_a_valid_form_with_an_extra_field_nested_995_deep_is_a_400(
    client: SanicASGITestClient, valid_form: dict[str, Any], mail_dir: Path
) -> None:
    body = json.dumps(valid_form)[:-1] + ', "extra": ' + "[" * 995 + "]" * 995 + "}"
    _, response = await client.post(
        "/api/contact", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status == 400
    assert "nested" in response.json["message"]
    assert not read_mail(mail_dir)


@pytest.fixture(params=DATABASE_KINDS)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh outbox of each kind: SQLite, and PostgreSQL when ``TEST_DATABASE_URL`` is set."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f"])
async def test_a_message_with_a_nul_or_another_control_is_a_422_on_every_store(
    make_settings: Callable[..., Settings],
    valid_form: dict[str, Any],
    store_url: str,
    control: str,
) -> None:
    app = create_app(settings=make_settings(database_url=store_url))
    form = _with(valid_form, message=f"Hello{control}world")
    response = await post_json(app.asgi_client, form)
    assert response.status == 422
    assert [error["field"] for error in response.json["errors"]] == ["message"]
    async with open_store(store_url) as store:
        assert await store.list_emails() == []


async def test_tabs_and_line_breaks_are_stored_as_sent_on_every_store(
    make_settings: Callable[..., Settings], valid_form: dict[str, Any], store_url: str
) -> None:
    app = create_app(settings=make_settings(database_url=store_url))
    message = "Hello,\r\n\tline two\rline three\nend \u2028 \x7f \x85 \U0001f600"
    response = await post_json(app.asgi_client, _with(valid_form, message=message))
    assert response.status == 200
    async with open_store(store_url) as store:
        stored = await store.get_submission(response.json["id"])
    assert stored is not None
    assert stored.message == message


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "evil\u200b.\u200bcom"},
        {"name": "evil.c\u00adom"},
        {"name": "Eve\u202emoc\u200b.live"},
        {"name": "\u2066Eve\u2069"},
        {"name": "Eve\ufeff"},
        {"company": "ACME\u200e"},
        {"name": "Eve\u200d"},
    ],
)
async def test_format_characters_in_a_single_line_field_are_a_422(
    client: SanicASGITestClient, valid_form: dict[str, Any], changes: dict[str, str]
) -> None:
    response = await post_json(client, _with(valid_form, **changes))
    assert response.status == 422
    [error] = response.json["errors"]
    assert error["field"] == next(iter(changes))
    assert error["message"] == "Must not contain invisible formatting characters."


@pytest.mark.parametrize(
    "name",
    [
        "evil\u06d4com",
        "evil[.]com",
        "WIN 1000$ CLAIM AT EVIL (DOT) COM",
        "Your account is locked - reply with your password",
    ],
)
async def test_a_name_that_is_not_safe_to_echo_gets_a_greeting_without_it(
    client: SanicASGITestClient,
    valid_form: dict[str, Any],
    mail_dir: Path,
    settings: Settings,
    name: str,
) -> None:
    response = await post_json(client, _with(valid_form, name=name, email="victim@example.net"))
    assert response.status == 200
    await deliver_outbox(settings)
    [confirmation] = [m for m in read_mail(mail_dir) if m["To"] == "victim@example.net"]
    text = confirmation.get_body(("plain",)).get_content()
    assert text.startswith("Thank you for your message!")
    assert name not in confirmation.as_string()


@pytest.mark.parametrize(
    "address",
    [
        "=?x?q?v=40evil.com=3e=00?=foo@example.com",
        "x?bcc=attacker%40evil.com&subject=hi@example.com",
        "reply#top@example.com",
        "l" * 65 + "@example.com",
        '"quoted local"@example.com',
    ],
)
async def test_an_address_a_mail_reader_or_a_mailto_would_rewrite_is_a_422(
    client: SanicASGITestClient, valid_form: dict[str, Any], mail_dir: Path, address: str
) -> None:
    response = await post_json(client, _with(valid_form, email=address))
    assert response.status == 422
    assert response.json["errors"] == [
        {"field": "email", "message": "Must be a valid email address."}
    ]
    assert not read_mail(mail_dir)


async def test_the_reply_links_are_the_visitors_address_and_nothing_more(
    client: SanicASGITestClient, valid_form: dict[str, Any], mail_dir: Path, settings: Settings
) -> None:
    address = "o'brien+quotes/x=y@example.org"
    assert (await post_json(client, _with(valid_form, email=address))).status == 200
    await deliver_outbox(settings)
    [notification] = [m for m in read_mail(mail_dir) if m["Reply-To"]]
    html = notification.get_body(("html",)).get_content()
    links = [unescape(link) for link in re.findall(r'href="(mailto:[^"]*)"', html)]
    assert links == [f"mailto:{address}"] * 2
    for link in links:
        parts = urlsplit(link)
        assert (parts.query, parts.fragment) == ("", "")
        assert unquote(parts.path) == address


async def test_a_urlencoded_body_that_is_not_utf8_is_a_400_without_a_traceback(
    client: SanicASGITestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        _, response = await client.post(
            "/api/contact",
            content=b"name=Zo\xeb&email=zoe%40example.org&message=hi",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status == 400
    assert response.json == {
        "success": False,
        "message": "The form body is not valid UTF-8.",
        "errors": [],
    }
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_percent_escape_that_is_not_utf8_is_a_400(client: SanicASGITestClient) -> None:
    _, response = await client.post(
        "/api/contact",
        content=b"name=Zo%EB&email=zoe%40example.org&message=hi",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 400
    assert response.json["message"] == "The form body is not valid UTF-8."


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "multipart/form-data",
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nZoe\r\n--b--\r\n',
            "A multipart/form-data body needs a boundary in its Content-Type.",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nno colon in this header line\r\n\r\nZoe\r\n--b--\r\n",
            "The multipart body is malformed.",
        ),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n'
            b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nZoe\r\n--b--\r\n",
            "The multipart body is malformed.",
        ),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nZo\xeb\r\n--b--\r\n',
            "The multipart body is malformed.",
        ),
    ],
)
async def test_a_multipart_body_that_cannot_be_parsed_is_a_400_without_a_traceback(
    client: SanicASGITestClient,
    caplog: pytest.LogCaptureFixture,
    content_type: str,
    body: bytes,
    message: str,
) -> None:
    with caplog.at_level(logging.DEBUG):
        _, response = await client.post(
            "/api/contact", content=body, headers={"content-type": content_type}
        )
    assert response.status == 400
    assert response.json == {"success": False, "message": message, "errors": []}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
