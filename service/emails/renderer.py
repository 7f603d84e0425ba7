"""Turn a template name and a context into a subject, an HTML part and a text part.

Each email ``NAME`` is three files in ``service/emails/mjml/``: ``NAME.subject``
(one line), ``NAME.mjml`` (the HTML, as MJML) and ``NAME.txt`` (the hand-written
text part). The MJML is compiled to HTML once, with the Jinja placeholders still
in it, and Jinja renders that HTML per email with autoescaping on: user text
never passes through the MJML parser, which decodes entities and could turn
escaped text back into markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import mjml

__all__ = ["BUILTIN_DIR", "EmailRenderer", "RenderedEmail", "TemplateError"]

BUILTIN_DIR = Path(__file__).parent / "mjml"


class TemplateError(Exception):
    """A template is missing, does not compile, or does not render; the message names it."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """The three parts of one rendered email."""

    subject: str
    html: str
    text: str


class EmailRenderer:
    """Loads, compiles and caches the email templates; renders them per email."""

    def __init__(self, directory: Path = BUILTIN_DIR) -> None:
        self.directory = directory
        loader = jinja2.FileSystemLoader(str(directory))
        self._text_env = jinja2.Environment(
            loader=loader,
            autoescape=False,  # noqa: S701 - text/plain and subject lines are not HTML
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._html_env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        self._html: dict[str, jinja2.Template] = {}

    def _compiled_html(self, name: str) -> jinja2.Template:
        template = self._html.get(name)
        if template is None:
            source = self._read(f"{name}.mjml")
            try:
                html = mjml.mjml2html(source, disable_comments=True)
                template = self._html_env.from_string(html)
            except Exception as err:
                raise TemplateError(f"{name}.mjml: {err}") from err
            self._html[name] = template
        return template

    def _read(self, filename: str) -> str:
        try:
            return (self.directory / filename).read_text(encoding="utf-8")
        except OSError as err:
            raise TemplateError(f"{filename}: {err.strerror or err}") from err

    def render(self, name: str, context: dict[str, Any]) -> RenderedEmail:
        """Render email ``name`` with ``context``; raise :class:`TemplateError` naming it."""
        html_template = self._compiled_html(name)
        try:
            subject = self._text_env.get_template(f"{name}.subject").render(context)
            text = self._text_env.get_template(f"{name}.txt").render(context)
            html = html_template.render(context)
        except jinja2.TemplateError as err:
            raise TemplateError(f"{name}: {err}") from err
        return RenderedEmail(subject=" ".join(subject.split()), html=html, text=text)
