"""FORMS_FILE: the issue's example as written, the defaults, and one line per kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import load_settings
from service.forms import FIELD_TYPES, FormsError, load_forms
from tests.forms.examples import EXAMPLE, forms_from
from tests.process import run_command


def test_without_a_file_there_is_the_contact_form_of_today() -> None:
    forms = load_forms(load_settings(contact_recipients="owner@example.com"))
    assert list(forms) == ["contact"]
    contact = forms.contact
    assert [field.name for field in contact.fields] == ["name", "email", "company", "message"]
    assert [field.required for field in contact.fields] == [True, True, False, True]
    assert contact.recipients == ("owner@example.com",)
    assert contact.origins == ("*",)  # development: CORS_ORIGINS' default
    assert contact.redirect_url is None
    assert contact.confirmation is True


def test_the_example_file_works_as_written(tmp_path: Path) -> None:
    forms = forms_from(tmp_path, EXAMPLE)
    assert list(forms) == ["contact", "careers"]
    contact, careers = forms["contact"], forms["careers"]
    assert [field.name for field in contact.fields] == [
        "name",
        "email",
        "company",
        "message",
        "phone",
    ]
    assert contact.recipients == ("sales@example.com",)
    assert contact.origins == ("https://www.example.com",)
    assert contact.redirect_url == "https://www.example.com/thanks"
    assert careers.title == "Careers"
    assert careers.mode_of("message") == "optional"
    described = careers.describe()
    assert described["id"] == "careers"
    assert [(f["name"], f["type"], f["required"]) for f in described["fields"]] == [
        ("name", "text", True),
        ("email", "email", True),
        ("company", "text", False),
        ("message", "textarea", False),
        ("position", "select", True),
        ("portfolio", "url", False),
        ("consent", "consent", True),
    ]
    assert described["fields"][4]["options"] == ["Backend engineer", "Designer"]
    assert "recipients" not in str(described)
    assert "jobs@example.com" not in str(described)


def test_what_a_form_leaves_out_comes_from_the_settings(tmp_path: Path) -> None:
    forms = forms_from(
        tmp_path,
        '[forms.support]\ncompany = "off"\nmessage = "off"\n',
        contact_recipients="help@example.com",
        cors_origins="https://shop.example",
        contact_redirect_url="https://shop.example/thanks",
    )
    support = forms["support"]
    assert support.title == "Support"
    assert support.recipients == ("help@example.com",)
    assert support.origins == ("https://shop.example",)
    assert support.redirect_url == "https://shop.example/thanks"
    assert [field.name for field in support.fields] == ["name", "email"]
    assert list(forms) == ["contact", "support"]  # contact always exists


MISTAKES = [
    (
        '[forms.careers]\n[[forms.careers.fields]]\nname = "a"\ntype = "text"\nlabel = "A"\n'
        '[[forms.careers.fields]]\nname = "position"\ntype = "dropdown"\nlabel = "P"\n',
        "forms.careers.fields[1].type: unknown type 'dropdown'; valid types: "
        + ", ".join(FIELD_TYPES),
    ),
    ('[forms.careers]\ntitel = "Careers"\n', "forms.careers.titel: unknown key"),
    (
        '[forms.careers]\n[[forms.careers.fields]]\nname = "a"\ntype = "text"\nlabel = "A"\n'
        'lable = "B"\n',
        "forms.careers.fields[0].lable: unknown key",
    ),
    ("[forms.Careers]\n", "forms.Careers: a form id must match [a-z0-9][a-z0-9-]{0,39}"),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "Phone"\ntype = "tel"\nlabel = "P"\n',
        "forms.x.fields[0].name: must match [a-z][a-z0-9_]{0,39}",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "email"\ntype = "email"\nlabel = "E"\n',
        "forms.x.fields[0].name: 'email' is a core field of every form; choose another name",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "locale"\ntype = "text"\nlabel = "L"\n',
        "forms.x.fields[0].name: 'locale' carries the visitor's language; choose another name",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "trap"\ntype = "text"\nlabel = "T"\n',
        "forms.x.fields[0].name: 'trap' is the honeypot field (HONEYPOT_FIELD)",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "a"\ntype = "text"\n',
        "forms.x.fields[0].label: required",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "a"\ntype = "text"\nlabel = "A"\nrequired = "yes"\n',
        "forms.x.fields[0].required: input should be a valid boolean",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "a"\ntype = "text"\nlabel = "A"\noptions = ["b"]\n',
        "forms.x.fields[0].options: a text field takes no options",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "a"\ntype = "select"\nlabel = "A"\n',
        "forms.x.fields[0].options: a select field needs at least one option",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "a"\ntype = "number"\nlabel = "A"\n'
        "min = 5\nmax = 1\n",
        "forms.x.fields[0].min: must not be greater than max",
    ),
    (
        '[forms.x]\n[[forms.x.fields]]\nname = "a"\ntype = "text"\nlabel = "A"\n'
        '[[forms.x.fields]]\nname = "a"\ntype = "tel"\nlabel = "B"\n',
        "forms.x.fields[1].name: 'a' is declared twice",
    ),
    (
        '[forms.x]\nmessage = "sometimes"\n',
        "forms.x.message: input should be 'required', 'optional' or 'off'",
    ),
    (
        '[forms.x]\nrecipients = ["jobs"]\n',
        "forms.x.recipients[0]: value is not a valid email address",
    ),
    ("[forms.x]\nrecipients = []\n", "forms.x.recipients: list should have at least 1 item"),
    (
        '[forms.x]\norigins = ["www.example.com"]\n',
        "forms.x.origins: 'www.example.com' is not an origin like https://www.example.com or *",
    ),
    (
        '[forms.x]\nredirect_url = "javascript:alert(1)"\n',
        "forms.x.redirect_url: must be an http(s) URL or a path starting with /",
    ),
    ('[forms.x]\nlocale = "English"\n', "forms.x.locale: 'English' is not a language tag like en"),
    ('[forms.x]\ntitle = "Two\\nlines"\n', "forms.x.title: must be one non-empty line of text"),
    ("forms = 1\n", "forms: input should be a valid dictionary"),
    ("[form.x]\n", "form: unknown key"),
    ("[forms.x\n", "not valid TOML: "),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES)
def test_each_kind_of_mistake_is_one_line_naming_the_file_form_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(FormsError) as caught:
        forms_from(tmp_path, text, honeypot_field="trap")
    line = str(caught.value)
    assert line.startswith(f"FORMS_FILE {tmp_path / 'forms.toml'}: {message}")
    assert "\n" not in line


def test_a_form_language_without_a_catalog_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """#13: an unsupported language falls back along the list, never to an error."""
    with caplog.at_level("WARNING", logger="service.forms"):
        forms = forms_from(tmp_path, '[forms.x]\nlocale = "pt-BR"\n[forms.y]\nlocale = "nl-BE"\n')
    assert forms["x"].locale == "pt-BR"
    (record,) = caplog.records
    assert record.getMessage().startswith(
        f"FORMS_FILE {tmp_path / 'forms.toml'}: forms.x.locale: 'pt-BR' has no shipped catalog"
    )


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FormsError, match=r"^FORMS_FILE .*nowhere\.toml: No such file"):
        load_forms(load_settings(forms_file=str(tmp_path / "nowhere.toml")))


def test_the_service_stops_with_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "forms.toml").write_text(
        '[forms.careers]\n[[forms.careers.fields]]\nname = "a"\ntype = "dropdown"\nlabel = "A"\n'
    )
    result = run_command(tmp_path, {"FORMS_FILE": "forms.toml"}, "check")
    assert result.returncode == 2
    assert result.stderr == (
        "service: cannot start: FORMS_FILE forms.toml: forms.careers.fields[0].type: "
        f"unknown type 'dropdown'; valid types: {', '.join(FIELD_TYPES)}\n"
    )
