"""The renderer: lookup with overrides, confined includes, compile-once caching, template errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.__main__ import main
from service.app import check_forms
from service.config import Settings
from service.emails import EmailRenderer, TemplateError, check_templates, sample_submission
from service.emails.compose import compose_confirmation, compose_notification
from service.emails.renderer import BUILTIN_DIR, RenderedEmail, nl2br
from service.forms import load_forms


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def builtin(name: str) -> str:
    return (BUILTIN_DIR / name).read_text(encoding="utf-8")


def touch_later(path: Path) -> None:
    """Move the file's modification time forward, as a later save would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


# Lookup and overrides


def test_an_override_replaces_one_file_and_the_rest_falls_back(
    overrides: Path, settings: Settings
) -> None:
    write(overrides / "notification.subject", "Lead for {{ brand.name }}\n")
    renderer = EmailRenderer(overrides)
    email = compose_notification(sample_submission(), settings, renderer)
    assert email.subject == "Lead for Example Ltd"
    assert "New contact form message" in email.text  # built-in text part
    assert "Zoë Ångström" in email.html  # built-in MJML


def test_an_overridden_layout_changes_both_emails(overrides: Path, settings: Settings) -> None:
    footer = builtin("layout/footer.mjml").replace("{{ brand.name }}</strong>", "ACME HQ</strong>")
    write(overrides / "layout" / "footer.mjml", footer)
    write(overrides / "layout" / "footer.txt", "--\nACME HQ, text edition\n")
    renderer = EmailRenderer(overrides)
    for compose in (compose_notification, compose_confirmation):
        email = compose(sample_submission(), settings, renderer)
        assert "ACME HQ</strong>" in email.html
        assert email.text.endswith("--\nACME HQ, text edition\n")


def test_files_lists_every_template_with_its_origin(overrides: Path) -> None:
    write(overrides / "confirmation.txt", "Thanks!\n")
    write(overrides / "notes.md", "not a template")
    files = {file.name: file for file in EmailRenderer(overrides).files()}
    assert files["confirmation.txt"].overridden
    assert files["confirmation.txt"].path == overrides / "confirmation.txt"
    assert not files["confirmation.mjml"].overridden
    assert not files["layout/header.mjml"].overridden
    assert "notes.md" not in files
    assert {"notification.mjml", "notification.txt", "notification.subject"} <= set(files)


@pytest.mark.parametrize(
    "path", ["../renderer.py", "layout/../../renderer.py", "/etc/passwd", "..\\renderer.py", ""]
)
def test_a_path_outside_the_templates_folder_is_refused(path: str) -> None:
    with pytest.raises(TemplateError, match="not a path inside the templates folder"):
        EmailRenderer().resolve(path)


def test_a_symlink_out_of_the_override_folder_is_refused(overrides: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.txt", "password=hunter2")
    (overrides / "layout" / "footer.txt").symlink_to(secret)
    renderer = EmailRenderer(overrides)
    with pytest.raises(TemplateError, match="not a path inside"):
        renderer.read("layout/footer.txt")


def test_an_include_that_leaves_the_folder_fails_naming_the_template(
    overrides: Path, settings: Settings
) -> None:
    source = builtin("notification.mjml").replace(
        'path="layout/footer.mjml"', 'path="../../../../etc/passwd"'
    )
    write(overrides / "notification.mjml", source)
    with pytest.raises(TemplateError) as caught:
        check_templates(settings, EmailRenderer(overrides))
    assert str(caught.value).startswith("notification.mjml: mj-include")
    assert "not a path inside the templates folder" in str(caught.value)


def test_a_text_include_that_leaves_the_folder_is_not_found(
    overrides: Path, settings: Settings
) -> None:
    write(overrides / "confirmation.txt", '{% include "../../etc/passwd" %}\n')
    with pytest.raises(TemplateError, match=r"^confirmation\.txt: "):
        check_templates(settings, EmailRenderer(overrides))


# Template errors are startup errors that name the template


@pytest.mark.parametrize(
    ("filename", "source", "expected"),
    [
        ("notification.txt", "Hi {{ submission.nickname }}\n", r"^notification\.txt: .*nickname"),
        ("confirmation.subject", "Thanks {{ visitor }}\n", r"^confirmation\.subject: .*visitor"),
        (
            "notification.mjml",
            "<mjml><mj-body><mj-section><mj-column><mj-text>x</mj-column></mj-body></mjml>",
            r"^notification\.mjml: invalid MJML",
        ),
        (
            "confirmation.mjml",
            '<mjml><mj-body><mj-include path="layout/missing.mjml" /></mj-body></mjml>',
            r"^confirmation\.mjml: mj-include layout/missing\.mjml: no such template",
        ),
        (
            "notification.mjml",
            "<mjml><mj-body><mj-section><mj-column><mj-text>{{ submission.name }"
            "</mj-text></mj-column></mj-section></mj-body></mjml>",
            r"^notification\.mjml: ",
        ),
        (
            "notification.mjml",
            "<mjml><mj-body><mj-section><mj-column><mj-text>{{ submission.phone }}"
            "</mj-text></mj-column></mj-section></mj-body></mjml>",
            r"^notification\.mjml: .*phone",
        ),
        (
            "notification.txt",
            "{% if submission.company %}{{ submission.company }}{% else %}{{ oops }}{% endif %}\n",
            r"^notification\.txt: .*oops",
        ),
    ],
    ids=[
        "missing variable in text",
        "missing variable in subject",
        "broken MJML",
        "bad include",
        "Jinja syntax error in MJML",
        "missing variable in MJML",
        "missing variable only without a company",
    ],
)
def test_check_templates_names_the_broken_template(
    overrides: Path, settings: Settings, filename: str, source: str, expected: str
) -> None:
    write(overrides / filename, source)
    with pytest.raises(TemplateError, match=expected):
        check_templates(settings, EmailRenderer(overrides))


def test_a_missing_override_folder_is_a_startup_error(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(email_templates_dir=tmp_path / "nowhere")
    with pytest.raises(TemplateError, match=r"EMAIL_TEMPLATES_DIR: .*nowhere is not a folder"):
        check_templates(settings, EmailRenderer.from_settings(settings))


def test_the_service_refuses_to_start_with_a_broken_template(
    overrides: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(overrides / "confirmation.txt", "{{ undefined_thing }}\n")
    monkeypatch.setenv("EMAIL_TEMPLATES_DIR", str(overrides))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("service: cannot start: confirmation.txt: ")
    assert "undefined_thing" in err


# Compiling once, reloading in development


def test_mjml_is_compiled_once_and_reused(renderer: EmailRenderer) -> None:
    first = renderer.compile("notification")
    assert renderer.compile("notification") is first
    assert renderer.compile("confirmation") is not first


def test_without_auto_reload_an_edit_is_not_seen(overrides: Path, settings: Settings) -> None:
    path = write(overrides / "confirmation.mjml", builtin("confirmation.mjml"))
    renderer = EmailRenderer(overrides)
    compose_confirmation(sample_submission(), settings, renderer)
    write(path, builtin("confirmation.mjml").replace("What happens next", "Next steps"))
    touch_later(path)
    html = compose_confirmation(sample_submission(), settings, renderer).html
    assert "What happens next" in html


def test_with_auto_reload_an_edit_is_seen_without_a_restart(
    overrides: Path, settings: Settings
) -> None:
    renderer = EmailRenderer(overrides, auto_reload=True)
    before = renderer.fingerprint()
    first = compose_confirmation(sample_submission(), settings, renderer)
    assert "What happens next" in first.html
    # A new override file appears, then an include it uses is edited.
    mjml = write(overrides / "confirmation.mjml", builtin("confirmation.mjml"))
    mjml.write_text(mjml.read_text().replace("What happens next", "Next steps"))
    touch_later(mjml)
    footer = write(overrides / "layout" / "footer.txt", "-- \nEdited footer\n")
    assert renderer.fingerprint() != before
    second = compose_confirmation(sample_submission(), settings, renderer)
    assert "Next steps" in second.html
    assert "What happens next" not in second.html
    assert second.text.endswith("Edited footer\n")
    footer.write_text("-- \nEdited again\n")
    touch_later(footer)
    assert compose_confirmation(sample_submission(), settings, renderer).text.endswith(
        "Edited again\n"
    )


def test_refresh_reports_whether_anything_changed(overrides: Path) -> None:
    renderer = EmailRenderer(overrides)
    assert renderer.refresh() is False
    assert renderer.refresh() is False
    write(overrides / "notification.subject", "Changed\n")
    assert renderer.refresh() is True
    assert renderer.refresh() is False


def test_nl2br_escapes_first_then_breaks_lines() -> None:
    assert nl2br("<b>a</b>\r\nb\rc\n\nd") == "&lt;b&gt;a&lt;/b&gt;<br>\nb<br>\nc<br>\n<br>\nd"


@pytest.mark.parametrize(("app_env", "checks"), [("production", 1), ("development", 2)])
def test_a_compiled_once_renderer_is_checked_once_for_the_same_forms(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    app_env: str,
    checks: int,
) -> None:
    # `python -m service` checks before forking; its workers inherit the checked renderer.
    settings = make_settings(
        app_env=app_env, email_providers="file", email_from="owner@example.com"
    )
    renderer = EmailRenderer.from_settings(settings)
    forms = load_forms(settings)
    rendered: list[str] = []
    render = renderer.render

    def counted(name: str, *args: Any, **kwargs: Any) -> RenderedEmail:
        rendered.append(name)
        return render(name, *args, **kwargs)

    monkeypatch.setattr(renderer, "render", counted)
    check_forms(settings, renderer, forms)
    once = len(rendered)
    check_forms(settings, renderer, forms)
    assert once > 0
    assert len(rendered) == checks * once
    # Other settings are checked again, even in production.
    check_forms(
        make_settings(
            app_env=app_env,
            email_providers="file",
            email_from="owner@example.com",
            email_from_name="Other",
        ),
        renderer,
        forms,
    )
    assert len(rendered) == (checks + 1) * once
