"""``/dev/preview``: the template studio, in development only."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service.app import create_app
from service.config import Settings
from service.emails.renderer import BUILTIN_DIR
from service.emails.spamcheck import spamassassin_path
from tests.api.conftest import read_mail
from tests.process import running_service

ROOT = Path(__file__).parents[2]


# The test client's own origin, as the studio's page sends it with each post.
SAME_ORIGIN = {"origin": "http://mockserver:1234"}


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """The ``EMAIL_TEMPLATES_DIR`` of the app under test, empty at first."""
    directory = tmp_path / "templates"
    directory.mkdir()
    return directory


@pytest.fixture
def app(make_settings: Callable[..., Settings], templates_dir: Path) -> Iterator[Sanic]:
    """A development app with an override folder."""
    settings = make_settings(
        email_from="owner@example.com",
        email_from_name="Example Ltd",
        contact_recipients="sales@example.com",
        brand_name="Example Ltd",
        email_templates_dir=templates_dir,
    )
    application = create_app(settings=settings)
    yield application
    Sanic._app_registry.pop(application.name, None)


def srcdoc(page: str) -> str:
    """The email HTML inside the studio's iframe, unescaped as the browser would."""
    match = re.search(r'srcdoc="([^"]*)"', page)
    assert match is not None
    return html.unescape(match[1])


def panel(page: str, name: str) -> str:
    match = re.search(rf'id="panel-{name}".*?</section>', page, re.DOTALL)
    assert match is not None
    return match[0]


async def test_the_index_lists_every_email_with_its_subject_and_every_file(
    client: SanicASGITestClient, templates_dir: Path
) -> None:
    (templates_dir / "confirmation.subject").write_text("Thanks from {{ brand.name }}\n")
    _, response = await client.get("/dev/preview")
    assert response.status == 200
    page = response.text
    assert 'href="/dev/preview/notification"' in page
    assert "New message from the Example Ltd contact form" in page
    assert 'href="/dev/preview/confirmation"' in page
    assert "Thanks from Example Ltd" in page
    row = re.search(r"<tr><td><code>confirmation\.subject</code>.*?</tr>", page)
    assert row is not None
    assert "override" in row[0]
    assert str(templates_dir) in row[0]
    assert re.search(r"<code>layout/header\.mjml</code></td><td><span class=\"badge\">", page)


async def test_the_pages_forbid_inline_script(client: SanicASGITestClient) -> None:
    for path in ("/dev/preview", "/dev/preview/notification"):
        _, response = await client.get(path)
        policy = response.headers["content-security-policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["default-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        scripts = re.findall(r"<script[^>]*>", response.text)
        assert scripts == ['<script src="/dev/preview/static/preview.js" defer>']
        tags = re.findall(r"<[a-z][^>]*>", response.text)
        assert not [tag for tag in tags if re.search(r"\son[a-z]+\s*=", tag)]


async def test_the_script_and_styles_are_served(client: SanicASGITestClient) -> None:
    _, script = await client.get("/dev/preview/static/preview.js")
    assert script.status == 200
    assert "javascript" in script.headers["content-type"]
    assert "fingerprint" in script.text
    _, styles = await client.get("/dev/preview/static/preview.css")
    assert styles.status == 200
    assert "text/css" in styles.headers["content-type"]


async def test_the_studio_shows_every_part_of_the_email(client: SanicASGITestClient) -> None:
    _, response = await client.get("/dev/preview/confirmation")
    assert response.status == 200
    page = response.text
    email_html = srcdoc(page)
    assert email_html.startswith("<!doctype html>")
    assert "What happens next" in email_html
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    assert "Thank you, Zoë Ångström!" in panel(page, "text")
    headers = panel(page, "headers")
    for name, value in (
        ("From", "Example Ltd &lt;owner@example.com&gt;"),
        ("To", "zoe@example.org"),
        ("Subject", "Thank you for contacting Example Ltd"),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
    ):
        assert f'<th scope="row">{name}</th><td>{value}</td>' in headers
    source = panel(page, "source")
    assert "<code>confirmation.mjml</code>" in source
    assert "<code>layout/footer.mjml</code>" in source
    assert "&lt;mj-include path=&#34;layout/header.mjml&#34; /&gt;" in source


async def test_presets_and_edited_sample_data_are_rendered(client: SanicASGITestClient) -> None:
    _, hostile = await client.get("/dev/preview/notification", params={"preset": "hostile"})
    email_html = srcdoc(hostile.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email_html
    assert "<script" not in email_html
    assert "{{ 7*7 }}" in panel(hostile.text, "text").replace("&#39;", "'")

    _, edited = await client.post(
        "/dev/preview/notification",
        data={
            "name": "李雷",
            "email": "li@example.cn",
            "company": "",
            "message": "第一行\n第二行",
            "tab": "text",
            "view": "mobile",
        },
    )
    assert edited.status == 200
    email_html = srcdoc(edited.text)
    assert "李雷" in email_html
    assert "第一行<br>\n第二行" in email_html
    assert "Not given" in email_html
    assert 'panel-text" role="tabpanel" aria-labelledby="tab-text">' in edited.text
    assert 'data-view="mobile"' in edited.text


async def test_invalid_sample_data_is_explained_and_the_sample_shown(
    client: SanicASGITestClient,
) -> None:
    _, response = await client.post(
        "/dev/preview/notification", data={"name": "Eve", "email": "nope", "message": "hi"}
    )
    assert response.status == 200
    assert "<strong>email</strong>: Must be a valid email address." in response.text
    assert "Zoë Ångström" in srcdoc(response.text)


async def test_an_unknown_template_is_a_404(client: SanicASGITestClient) -> None:
    _, response = await client.get("/dev/preview/invoice")
    assert response.status == 404


async def test_the_fingerprint_changes_when_a_template_file_changes(
    client: SanicASGITestClient, templates_dir: Path
) -> None:
    _, first = await client.get("/dev/preview/fingerprint")
    _, same = await client.get("/dev/preview/fingerprint")
    assert first.json == same.json
    subject = templates_dir / "notification.subject"
    subject.write_text("Edited {{ brand.name }}\n")
    _, changed = await client.get("/dev/preview/fingerprint")
    assert changed.json["fingerprint"] != first.json["fingerprint"]
    _, page = await client.get("/dev/preview/notification")
    assert '<dd id="subject">Edited Example Ltd</dd>' in page.text
    assert f'data-fingerprint="{changed.json["fingerprint"]}"' in page.text


async def test_send_test_delivers_the_rendered_email_to_the_typed_address(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    _, response = await client.post(
        "/dev/preview/notification/send",
        json={"to": "author@example.net", "preset": "non-latin"},
        headers=SAME_ORIGIN,
    )
    assert response.status == 200, response.text
    assert response.json["success"] is True
    assert response.json["provider"] == "file"
    assert response.json["to"] == "author@example.net"
    [message] = read_mail(mail_dir)
    assert message["To"] == "author@example.net"
    assert message["Reply-To"] == "li.lei@example.cn"
    assert (mail_dir / f"{response.json['message_id']}.eml").exists()


async def test_send_test_takes_a_plain_form_with_sample_data(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    _, response = await client.post(
        "/dev/preview/confirmation/send",
        data={
            "to": "author@example.net",
            "name": "Ada",
            "email": "ada@example.org",
            "message": "x",
        },
        headers=SAME_ORIGIN,
    )
    assert response.status == 200, response.text
    [message] = read_mail(mail_dir)
    assert message["Auto-Submitted"] == "auto-replied"
    assert "Thank you, Ada!" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize("to", ["", "not an address", "a@b@example.com", "x@example.com\r\nBcc: y"])
async def test_send_test_refuses_an_invalid_address(
    client: SanicASGITestClient, mail_dir: Path, to: str
) -> None:
    _, response = await client.post(
        "/dev/preview/notification/send", json={"to": to}, headers=SAME_ORIGIN
    )
    assert response.status == 422
    assert response.json["success"] is False
    assert read_mail(mail_dir) == []


async def test_send_test_refuses_a_cross_site_request(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    _, response = await client.post(
        "/dev/preview/notification/send",
        data={"to": "victim@example.net"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status == 403
    _, response = await client.post(
        "/dev/preview/notification/spam",
        data={"preset": "sample"},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert response.status == 403
    assert read_mail(mail_dir) == []


@pytest.mark.parametrize(
    "path", ["/dev/preview/notification/send", "/dev/preview/notification/spam"]
)
async def test_a_post_that_does_not_say_where_it_comes_from_is_refused(
    client: SanicASGITestClient, mail_dir: Path, path: str
) -> None:
    # As plain curl posts: neither Origin nor Sec-Fetch-Site.
    _, response = await client.post(path, json={"to": "victim@example.net"})
    assert response.status == 403
    assert response.json["message"] == "Cross-site request refused."
    assert read_mail(mail_dir) == []


async def test_a_same_origin_fetch_without_an_origin_header_may_send(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    _, response = await client.post(
        "/dev/preview/notification/send",
        json={"to": "author@example.net"},
        headers={"sec-fetch-site": "same-origin"},
    )
    assert response.status == 200, response.text
    assert len(read_mail(mail_dir)) == 1


async def test_test_sends_are_limited_to_a_few_a_minute(
    client: SanicASGITestClient, mail_dir: Path
) -> None:
    statuses = []
    for _ in range(7):
        _, response = await client.post(
            "/dev/preview/confirmation/send", json={"to": "author@example.net"}, headers=SAME_ORIGIN
        )
        statuses.append(response.status)
    assert statuses == [200] * 5 + [429] * 2
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.json["success"] is False
    assert len(read_mail(mail_dir)) == 5


@pytest.mark.skipif(spamassassin_path() is None, reason="SpamAssassin is not installed")
async def test_the_spam_tab_scores_the_email(client: SanicASGITestClient) -> None:
    _, response = await client.post(
        "/dev/preview/confirmation/spam", data={"preset": "long-name"}, headers=SAME_ORIGIN
    )
    assert response.status == 200
    assert response.json["available"] is True
    assert response.json["score"] <= 1.0
    assert response.json["required"] == 5.0
    assert {"name", "score", "description"} <= set(response.json["rules"][0])


async def test_the_spam_tab_says_when_spamassassin_is_absent(
    client: SanicASGITestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    _, response = await client.post(
        "/dev/preview/notification/spam", data={"preset": "sample"}, headers=SAME_ORIGIN
    )
    assert response.status == 200
    assert response.json["available"] is False
    assert "not installed" in response.json["message"]


async def test_the_preview_does_not_exist_in_production(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        app_env="production", email_providers="file", email_from="owner@example.com"
    )
    app = create_app(settings=settings)
    try:
        for path in (
            "/dev/preview",
            "/dev/preview/notification",
            "/dev/preview/fingerprint",
            "/dev/preview/static/preview.js",
        ):
            _, response = await app.asgi_client.get(path)
            assert response.status == 404, path
        _, response = await app.asgi_client.post(
            "/dev/preview/notification/send", json={"to": "a@example.com"}
        )
        assert response.status == 404
    finally:
        Sanic._app_registry.pop(app.name, None)


def test_the_builtin_templates_are_packaged() -> None:
    # setup.cfg's package_data must name every folder of templates and assets.
    config = (ROOT / "setup.cfg").read_text()
    assert "mjml/layout/*" in config
    assert "templates/preview/*.html" in config
    assert "static/*" in config
    assert (BUILTIN_DIR / "layout" / "head.mjml").is_file()


# With a real server: the app's state lives between requests there.


@pytest.fixture
def served(tmp_path: Path, templates_dir: Path) -> Iterator[str]:
    """``python -m service`` in development, writing mail under ``tmp_path``."""
    env = {
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the venv has installed
        "EMAIL_TEMPLATES_DIR": str(templates_dir),
        "EMAIL_FILE_DIR": str(tmp_path / "mail"),
    }
    with running_service(tmp_path, env) as base_url:
        yield base_url


@pytest.mark.slow
def test_a_template_broken_while_running_shows_its_error_until_fixed(
    served: str, templates_dir: Path
) -> None:
    assert httpx.get(f"{served}/dev/preview/confirmation").status_code == 200
    broken = templates_dir / "confirmation.txt"
    broken.write_text("{{ nobody }}\n")
    response = httpx.get(f"{served}/dev/preview/confirmation")
    assert response.status_code == 500
    assert "Template error" in response.text
    assert "confirmation.txt: &#39;nobody&#39; is undefined" in response.text
    index = httpx.get(f"{served}/dev/preview")
    assert "confirmation.txt: &#39;nobody&#39; is undefined" in index.text
    broken.unlink()
    assert httpx.get(f"{served}/dev/preview/confirmation").status_code == 200


@pytest.mark.slow
def test_send_test_reports_the_chains_error(served: str, tmp_path: Path) -> None:
    mail_dir = tmp_path / "mail"
    # The file provider's folder becomes a file: every write now fails.
    shutil.rmtree(mail_dir)
    mail_dir.write_text("not a folder")
    response = httpx.post(
        f"{served}/dev/preview/notification/send",
        json={"to": "author@example.net"},
        headers={"origin": served},
    )
    assert response.status_code == 502
    assert response.json()["success"] is False
    assert "file" in response.json()["message"]


async def test_the_form_picker_previews_each_form_with_samples_of_its_field_types(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from tests.forms.examples import EXAMPLE

    (tmp_path / "forms.toml").write_text(EXAMPLE)
    app = create_app(
        settings=make_settings(brand_name="Example Ltd", forms_file=str(tmp_path / "forms.toml"))
    )
    try:
        _, contact = await app.asgi_client.get("/dev/preview/notification")
        assert 'href="/dev/preview/notification?form=careers' in contact.text
        assert "+49 30 1234567" in srcdoc(contact.text)  # the tel type's sample

        _, careers = await app.asgi_client.get("/dev/preview/notification?form=careers")
        assert careers.status == 200
        email = srcdoc(careers.text)
        assert "Careers form" in email
        assert "Backend engineer" in email  # the select's first option
        assert "https://example.org/portfolio" in email  # the url type's sample
        assert 'name="position"' in careers.text  # the author can edit it

        _, edited = await app.asgi_client.post(
            "/dev/preview/notification",
            data={
                "form": "careers",
                "name": "Ada",
                "email": "ada@example.org",
                "position": "Designer",
                "consent": "on",
            },
        )
        assert "Designer" in srcdoc(edited.text)
        assert "Backend engineer" not in srcdoc(edited.text)
    finally:
        Sanic._app_registry.pop(app.name, None)
