"""Jinja in the shipped languages: ``{% trans %}``, ``_()`` and ``gettext()`` in templates.

An environment from :func:`jinja_environment` looks the language up in the
render context's ``lang`` on every call, so one compiled template serves every
language. With ``locale``, the environment belongs to one language instead:
when a template compiles, every message that is a constant string is
translated there and then, so rendering it makes no gettext calls at all (a
render of an email made about 25 of them, each through four function calls).
What a template computes at render time (``_(variable)``, ``ngettext``) still
goes through the context's ``lang``, which the caller sets to the same language.

Either way the output is the same: new-style gettext semantics, where
``_("Hello %(name)s", name=x)`` formats and, under autoescape, the variables
are escaped while the translation is trusted.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

import jinja2
from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.visitor import NodeTransformer

from service.i18n.catalogs import SOURCE_LOCALE, translations

__all__ = ["jinja_environment"]

# The names a template calls for a plain message: `_()` and `{% trans %}`'s own `gettext`.
_GETTEXT_NAMES = frozenset({"_", "gettext"})
# What new-style formatting of a `{% trans %}` message holds: `%(name)s` and `%%`.
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(context.get("lang", SOURCE_LOCALE)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return translations(context.get("lang", SOURCE_LOCALE)).ngettext(singular, plural, count)


def jinja_environment(
    *, autoescape: bool, locale: str | None = None, **options: Any
) -> jinja2.Environment:
    """A Jinja environment whose ``{% trans %}``, ``_()`` and ``gettext()`` speak ``lang``.

    The language is the render context's ``lang`` (English when absent). With
    ``locale``, constant messages are translated into ``locale`` when a
    template compiles: render its templates with ``lang`` set to ``locale``.
    """
    # The caller decides: HTML escapes, text parts and subjects do not.
    if locale is not None:
        options["locale"] = locale
    cls = _TranslatingEnvironment if locale is not None else jinja2.Environment
    env = cls(extensions=["jinja2.ext.i18n"], autoescape=autoescape, **options)
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


class _TranslatingEnvironment(jinja2.Environment):
    """An environment whose templates have their constant messages translated into ``locale``."""

    def __init__(self, *, locale: str, **options: Any) -> None:
        translations(locale)  # an unknown language fails here, not at the first compile
        self.locale = locale
        # Translations of the messages compiled templates use inside expressions.
        self.translations: dict[str, str] = {}
        super().__init__(**options)

    def make_globals(self, d: MutableMapping[str, Any] | None = None) -> MutableMapping[str, Any]:
        """A template's globals in one dict, copied when the template loads.

        Jinja's own is a ``ChainMap`` over the environment's globals, which
        every render copies into its context key by key: about 10 us a render,
        more than rendering a subject line. These environments get all their
        globals before their first template, so a copy misses nothing.
        """
        return {**self.globals, **(d or {})}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template = super()._parse(source, name, filename)
        if not _redefines_gettext(template):
            _Translator(self, translations(self.locale).gettext).visit(template)
        return template


def _redefines_gettext(template: nodes.Template) -> bool:
    """True if the template binds ``_`` or ``gettext`` itself: its calls are then left alone."""
    bound: set[str] = set()
    for node in template.find_all((nodes.Name, nodes.Macro, nodes.Import, nodes.FromImport)):
        if isinstance(node, nodes.Name):
            if node.ctx != "load":
                bound.add(node.name)
        elif isinstance(node, nodes.Macro):
            bound.add(node.name)
        elif isinstance(node, nodes.Import):
            bound.add(node.target)
        else:
            bound.update(name if isinstance(name, str) else name[1] for name in node.names)
    return not bound.isdisjoint(_GETTEXT_NAMES)


def _message(node: nodes.Node) -> str | None:
    """The msgid of ``_("...")`` or ``gettext("...", name=...)``, else ``None``."""
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name in _GETTEXT_NAMES
        and len(node.args) == 1
        and isinstance(node.args[0], nodes.Const)
        and isinstance(node.args[0].value, str)
        and node.dyn_args is None
        and node.dyn_kwargs is None
    ):
        return node.args[0].value
    return None


class _Translator(NodeTransformer):
    """Replaces each constant gettext call with its translation, formatted as the call would.

    New-style gettext returns ``Markup(translation) % variables`` under
    autoescape and ``translation % variables`` otherwise. A call printed on its
    own becomes the translation's text around its variables, printed (and
    escaped) like any ``{{ variable }}``. Anywhere else it becomes that ``%``
    expression on the translation, which the environment keeps in
    ``translations``: a constant there would be folded with its neighbours
    when the template compiles (``_("...") ~ x`` into a plain string), where
    the call's ``Markup`` is kept.
    """

    def __init__(self, environment: _TranslatingEnvironment, gettext: Any) -> None:
        self.environment = environment
        self.gettext = gettext

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        printed: list[nodes.Expr] = []
        for child in node.nodes:
            message = _message(child)
            pieces = None if message is None else self._pieces(child, message)
            printed.extend(pieces if pieces is not None else [self.visit(child)])
        node.nodes = printed
        return node

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        message = _message(node)
        if message is None:
            return node
        self.environment.translations[message] = self.gettext(message)
        translation = nodes.Getitem(
            nodes.EnvironmentAttribute("translations"), nodes.Const(message), "load"
        )
        variables = [nodes.Pair(nodes.Const(kw.key), kw.value) for kw in node.kwargs]
        formatted = nodes.Mod(nodes.MarkSafeIfAutoescape(translation), nodes.Dict(variables))
        return formatted.set_lineno(node.lineno).set_environment(self.environment)

    def _pieces(self, call: nodes.Call, message: str) -> list[nodes.Expr] | None:
        """The translation as printed text and variables, or ``None`` if it is not that simple.

        Simple is each variable exactly once as ``%(name)s``, and ``%%``: anything
        else (``%d``, a stray ``%``, a variable left out) is formatted as the call would.
        """
        translation = self.gettext(message)
        variables = {keyword.key: keyword.value for keyword in call.kwargs}
        names = [match[1] for match in _PLACEHOLDER.finditer(translation) if match[1]]
        if "%" in _PLACEHOLDER.sub("", translation) or sorted(names) != sorted(variables):
            return None
        pieces: list[nodes.Expr] = []
        text, start = "", 0
        for match in _PLACEHOLDER.finditer(translation):
            text += translation[start : match.start()]
            start = match.end()
            if match[1] is None:
                text += "%"
                continue
            if text:
                pieces.append(self._text(text, call.lineno))
                text = ""
            pieces.append(variables[match[1]])
        text += translation[start:]
        if text:
            pieces.append(self._text(text, call.lineno))
        return pieces

    def _text(self, text: str, lineno: int) -> nodes.TemplateData:
        return nodes.TemplateData(text, lineno=lineno).set_environment(self.environment)
