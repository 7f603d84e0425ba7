"""Templates translated when they compile read exactly as templates that translate when rendered.

A language's own environment (``jinja_environment(locale=...)``) puts each
constant message's translation in the compiled code; the shared one asks the
catalog of the context's ``lang`` on every call. Both must print the same
text for every template, escaping and formatting included.
"""

from __future__ import annotations

from gettext import NullTranslations

import jinja2
import pytest

from service.i18n import LOCALES, jinja_environment, templating, translations

# Shipped messages in the forms the email templates use them, plus the tricky corners:
# a variable printed next to a literal percent sign, an expression using `_()`, an
# `{% autoescape %}` block (decided at render time), and keyword arguments to `_()`.
SOURCE = """\
{% trans brand=brand %}Thank you for contacting {{ brand }}{% endtrans %}
{% trans %}What happens next{% endtrans %}
{% trans %}Thank you, {{ name }}!{% endtrans %} 100%
{%- set labels = {"name": _("Name"), "email": _("Email")} %}
{{ (labels.email ~ ":").ljust(12) }}{{ name }}
{{ _("Reply to %(name)s", name=name) }}
{% trans name=name %}{{ name }} is 100% sure{% endtrans %}
{% autoescape false %}{% trans name=name %}Reply to {{ name }}{% endtrans %}{% endautoescape %}
{% trans name=name, email=email %}Or simply reply to this email: your answer goes straight to \
{{ name }} at {{ email }}.{% endtrans %}
"""
HOSTILE = {"brand": "A & <B>", "name": "Zoë <script>%(x)s %% {{ y }}", "email": "a&b@example.org"}


class Catalog(NullTranslations):
    """A catalog written in the test: msgid -> translation."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self.messages = messages

    def gettext(self, message: str) -> str:
        return self.messages.get(message, message)


class Gone(NullTranslations):
    """A catalog that fails if asked: a render that asks it looked a message up."""

    def gettext(self, message: str) -> str:
        raise AssertionError(f"gettext({message!r}) at render time")


def render_both(source: str, locale: str, autoescape: bool) -> tuple[str, str]:
    """``source`` rendered in ``locale``: translated at render time, then when compiled."""
    context = {**HOSTILE, "lang": locale}
    shared = jinja_environment(autoescape=autoescape).from_string(source)
    own = jinja_environment(autoescape=autoescape, locale=locale).from_string(source)
    return shared.render(context), own.render(context)


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("locale", LOCALES)
def test_translating_when_compiled_prints_what_translating_when_rendered_does(
    locale: str, autoescape: bool
) -> None:
    shared, own = render_both(SOURCE, locale, autoescape)
    assert own == shared
    # The catalog was used, and the visitor's text escaped only in HTML.
    assert translations(locale).gettext("What happens next") in own
    assert ("Zoë &lt;script&gt;" in own) is autoescape
    unescaped = translations(locale).gettext("Reply to %(name)s") % {"name": HOSTILE["name"]}
    assert unescaped in own  # from the {% autoescape false %} block


@pytest.mark.parametrize("locale", ["nl", "de", "fr"])
def test_a_render_asks_no_catalog_once_compiled(
    monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    own = jinja_environment(autoescape=True, locale=locale).from_string(SOURCE)
    shared = jinja_environment(autoescape=True).from_string(SOURCE)
    before = own.render(HOSTILE, lang=locale)
    monkeypatch.setattr(templating, "translations", lambda _locale: Gone())
    assert own.render(HOSTILE, lang=locale) == before
    # The swap is seen by a template that still asks: the check above can fail.
    with pytest.raises(AssertionError, match="at render time"):
        shared.render(HOSTILE, lang=locale)


@pytest.mark.parametrize(
    "translation",
    [
        "Antwoord <b>%(name)s</b> & co",  # markup in a translation is trusted
        "Antwoord %(name)s, ja %(name)s",  # a variable twice
        "Antwoord maar",  # a variable left out
        "Antwoord 100%% aan %(name)s",
        "Antwoord %(name)s 100%",  # a stray percent sign: formatting fails
        "Antwoord %(naam)s",  # an unknown name: formatting fails
        "Antwoord %(name)d",  # another conversion
    ],
)
@pytest.mark.parametrize("autoescape", [True, False])
def test_unusual_translations_format_as_at_render_time(
    monkeypatch: pytest.MonkeyPatch, translation: str, autoescape: bool
) -> None:
    catalog = Catalog({"Reply to %(name)s": translation, "Name": "<i>Naam</i> & %% 100%"})
    monkeypatch.setattr(templating, "translations", lambda _locale: catalog)
    # Printed on its own, and inside expressions; one at a time, so an error hides nothing.
    for source in (
        "{% trans name=name %}Reply to {{ name }}{% endtrans %}",
        '{{ _("Reply to %(name)s", name=name) }}',
        '{{ _("Reply to %(name)s", name=name) ~ "" }}',
        '{{ _("Name") }}|{{ _("Name") ~ "" }}',
    ):
        shared, own = (
            _outcome(env, source)
            for env in (
                jinja_environment(autoescape=autoescape),
                jinja_environment(autoescape=autoescape, locale="nl"),
            )
        )
        assert own == shared, source


def _outcome(env: jinja2.Environment, source: str) -> str:
    """What rendering ``source`` in Dutch gives: its text, or the error it raises.

    Compiling must not fail: the error comes when the message is formatted, as before.
    """
    template = env.from_string(source)
    try:
        return template.render(name="<Zoë>", lang="nl")
    except (KeyError, TypeError, ValueError) as err:
        return f"{type(err).__name__}: {err}"


def test_a_template_that_defines_its_own_gettext_keeps_it() -> None:
    source = '{% macro _(text) %}[{{ text }}]{% endmacro %}{{ _("Name") }}'
    shared, own = render_both(source, "nl", autoescape=True)
    assert own == shared == "[Name]"


def test_an_unknown_language_is_refused_when_the_environment_is_made() -> None:
    with pytest.raises(ValueError, match="not a shipped language"):
        jinja_environment(autoescape=True, locale="es")


def test_a_syntax_error_is_still_one() -> None:
    with pytest.raises(jinja2.TemplateSyntaxError):
        jinja_environment(autoescape=True, locale="nl").from_string("{% trans %}x{% endif %}")


def test_a_language_s_templates_see_the_environment_s_globals_and_their_own() -> None:
    # Their globals are one dict copied at load (faster to render than Jinja's ChainMap).
    env = jinja_environment(autoescape=False, locale="de")
    env.globals["shared"] = "env"
    template = env.from_string(
        "{{ shared }}|{{ own }}|{{ range(2) | list }}|{{ _(word) }}", globals={"own": "mine"}
    )
    assert template.render(word="Name", lang="de") == "env|mine|[0, 1]|Name"
    assert template.render(word="Email", lang="de") == "env|mine|[0, 1]|E-Mail"
