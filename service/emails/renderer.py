"""Turn a template name and a context into a subject, an HTML part and a text part.

Each email ``NAME`` is three files: ``NAME.subject`` (one line), ``NAME.mjml``
(the HTML, as MJML) and ``NAME.txt`` (the hand-written text part). The shared
layout lives in ``layout/`` and is pulled in with ``<mj-include>`` (HTML) and
Jinja's ``{% include %}`` (text).

Files are looked up by name first in the operator's folder (``EMAIL_TEMPLATES_DIR``)
and then in the built-in ``service/emails/mjml/``, so an operator overrides one
file without copying the others. In each folder a language's own file comes
before the language-neutral one (``confirmation.nl.txt``, then
``confirmation.txt``). Includes are resolved the same way and never leave those
folders.

Built-in templates are written once, in English, with ``{% trans %}`` and
``_()``. Each language compiles them at its first render with its translations
in the code (:func:`service.i18n.jinja_environment` with ``locale``), so a render
looks nothing up in a catalog. The MJML is compiled to HTML once for every
language without override files of its own.

The MJML is compiled to HTML once, with the Jinja placeholders still in it, and
Jinja renders that HTML per email with autoescaping on: user text never passes
through the MJML parser, which decodes entities and could turn escaped text back
into markup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Self

import jinja2
import mjml
from markupsafe import Markup, escape

from service.i18n import LOCALES, SOURCE_LOCALE, jinja_environment
from service.message import fold_html

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["BUILTIN_DIR", "EmailRenderer", "RenderedEmail", "TemplateError", "TemplateFile"]

BUILTIN_DIR = Path(__file__).parent / "mjml"

# What a template folder may hold; anything else (editor backups, notes) is ignored.
TEMPLATE_SUFFIXES = (".mjml", ".subject", ".txt")


class TemplateError(Exception):
    """A template is missing, does not compile, or does not render; the message names it."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """The three parts of one rendered email."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class TemplateFile:
    """One template file as the renderer sees it: its name and where it comes from."""

    name: str
    path: Path
    overridden: bool


def nl2br(value: object) -> Markup:
    """Escape ``value`` and turn its line breaks into ``<br>``, so they survive in HTML."""
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("<br>\n").join(escape(line) for line in lines)


def localized(filename: str, locale: str) -> str:
    """``confirmation.txt`` for ``nl``: ``confirmation.nl.txt``."""
    stem, dot, suffix = filename.rpartition(".")
    return f"{stem}.{locale}.{suffix}" if dot else f"{filename}.{locale}"


def is_localized(filename: str) -> bool:
    """True for one language's own file, such as ``confirmation.nl.txt``."""
    parts = PurePosixPath(filename).name.split(".")
    return len(parts) >= 3 and parts[-2] in LOCALES


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class _Compiled:
    """The Jinja environments and templates of one language, each compiled at its first use.

    With ``locale``, constant messages are translated when a template compiles
    (:func:`service.i18n.jinja_environment`), so its renders make no gettext
    calls; with ``None``, templates look each message up at render time, in
    the render context's ``lang``, and serve every language.
    """

    def __init__(
        self,
        locale: str | None,
        load_text: Callable[[str], tuple[str, str, Callable[[], bool]] | None],
        auto_reload: bool,
    ) -> None:
        self.html_env = jinja_environment(
            locale=locale, autoescape=True, undefined=jinja2.StrictUndefined
        )
        self.html_env.filters["nl2br"] = nl2br
        self.text_env = jinja_environment(
            locale=locale,
            loader=jinja2.FunctionLoader(load_text),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=auto_reload,
        )
        self.html: dict[str, jinja2.Template] = {}
        self._texts: dict[str, jinja2.Template] = {}

    def text(self, filename: str) -> jinja2.Template:
        """Text template ``filename`` (a subject or a text part), loaded and compiled once."""
        template = self._texts.get(filename)
        if template is None:
            template = self._texts[filename] = self.text_env.get_template(filename)
        return template


class EmailRenderer:
    """Loads, compiles and caches the email templates; renders them per email.

    With ``auto_reload`` (development) every render first checks the template
    folders' fingerprint and drops the caches when a file changed, so an edit
    shows without a restart; in production templates are compiled once.
    """

    def __init__(
        self,
        overrides: Path | None = None,
        *,
        builtin: Path = BUILTIN_DIR,
        auto_reload: bool = False,
    ) -> None:
        self.overrides = overrides
        self.builtin = builtin
        self.auto_reload = auto_reload
        self.directories: tuple[Path, ...] = (
            (overrides, builtin) if overrides is not None else (builtin,)
        )
        # Jinja templates by (language they are translated into, or None for the
        # shared ones; variant). MJML's HTML by (name, variant): a language
        # without files of its own uses the neutral files, compiled to HTML once.
        self._compiled: dict[tuple[str | None, str | None], _Compiled] = {}
        self._mjml: dict[tuple[str, str | None], str] = {}
        self._shared = False
        self._languages: frozenset[str] | None = None
        self._fingerprint: str | None = None
        # What the templates were last checked with (service.app.check_forms).
        self.checked: object = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The renderer ``settings`` describe: their override folder, reloading in development."""
        return cls(settings.email_templates_dir, auto_reload=not settings.production)

    # Files

    def resolve(self, filename: str, locale: str | None = None) -> Path:
        """The file ``filename`` (relative, ``/``-separated) stands for, override first.

        With ``locale``, each folder's ``NAME.LANG.EXT`` comes before its
        ``NAME.EXT``. Raises :class:`TemplateError` for a path that would leave
        the template folders (``..``, an absolute path, a symlink pointing out)
        or a missing file.
        """
        relative = PurePosixPath(filename)
        if not filename or relative.is_absolute() or ".." in relative.parts or "\\" in filename:
            raise TemplateError(f"{filename!r}: not a path inside the templates folder")
        names = [localized(filename, locale), filename] if locale else [filename]
        for directory in self.directories:
            root = directory.resolve()
            for name in names:
                path = (root / name).resolve()
                if not path.is_relative_to(root):
                    raise TemplateError(f"{filename!r}: not a path inside the templates folder")
                if path.is_file():
                    return path
        raise TemplateError(f"{filename}: no such template")

    def read(self, filename: str, locale: str | None = None) -> str:
        """The text of template file ``filename`` (override first, ``locale``'s own first)."""
        path = self.resolve(filename, locale)
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise TemplateError(f"{filename}: {getattr(err, 'strerror', None) or err}") from err

    def _load_text(
        self, filename: str, *, locale: str | None
    ) -> tuple[str, str, Callable[[], bool]] | None:
        # Jinja's own loader: the same lookup and the same confinement as MJML includes.
        try:
            path = self.resolve(filename, locale)
        except TemplateError:
            return None
        mtime = path.stat().st_mtime_ns
        return self.read(filename, locale), str(path), lambda: _mtime(path) == mtime

    def files(self) -> list[TemplateFile]:
        """Every template file, by name, each from the folder that wins."""
        found: dict[str, TemplateFile] = {}
        for directory in reversed(self.directories):
            if not directory.is_dir():
                continue
            for path in sorted(directory.rglob("*")):
                if path.is_file() and path.suffix in TEMPLATE_SUFFIXES:
                    name = path.relative_to(directory).as_posix()
                    found[name] = TemplateFile(name, path, overridden=directory != self.builtin)
        return [found[name] for name in sorted(found)]

    def fingerprint(self) -> str:
        """A digest of every template file's name, size and modification time."""
        digest = hashlib.blake2b(digest_size=12)
        for directory in self.directories:
            digest.update(str(directory).encode())
            if not directory.is_dir():
                continue
            for path in sorted(directory.rglob("*")):
                try:
                    stat = path.stat()
                except OSError:
                    continue  # deleted while we looked: the next call sees it gone
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def refresh(self) -> bool:
        """Drop the caches if a template file changed since the last look; True if they were."""
        current = self.fingerprint()
        changed = self._fingerprint is not None and current != self._fingerprint
        if changed:
            self._compiled.clear()
            self._mjml.clear()
            self._languages = None
        self._fingerprint = current
        return changed

    # Compiling and rendering

    def _variant(self, locale: str) -> str | None:
        """``locale`` if some template file is its own (``*.nl.txt``), else ``None``.

        Languages without files of their own share the neutral templates, so
        each of those is compiled once whatever the number of languages.
        """
        if self._languages is None:
            self._languages = frozenset(
                PurePosixPath(file.name).suffixes[-2][1:]
                for file in self.files()
                if is_localized(file.name)
            )
        return locale if locale in self._languages else None

    def _compiled_for(self, locale: str) -> _Compiled:
        variant = self._variant(locale)
        key = (None if self._shared else locale, variant)
        compiled = self._compiled.get(key)
        if compiled is None:
            loader = partial(self._load_text, locale=variant)
            compiled = self._compiled[key] = _Compiled(key[0], loader, self.auto_reload)
        return compiled

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Meanwhile, render with the templates all languages share (gettext at render time).

        For the startup check, which renders every email in every language:
        compiling each language's own templates there would triple its CPU.
        A language's own templates are compiled at its first render after
        that, from the same files, and render the same text.
        """
        shared, self._shared = self._shared, True
        try:
            yield
        finally:
            self._shared = shared

    def compile(self, name: str, locale: str = SOURCE_LOCALE) -> jinja2.Template:
        """``NAME.mjml`` (and includes) as a Jinja template of HTML in ``locale``, compiled once."""
        compiled = self._compiled_for(locale)
        template = compiled.html.get(name)
        if template is None:
            variant = self._variant(locale)
            html = self._mjml.get((name, variant))
            if html is None:
                html = self._mjml[name, variant] = self._compile_mjml(name, variant)
            try:
                template = compiled.html[name] = compiled.html_env.from_string(html)
            except jinja2.TemplateSyntaxError as err:
                shown = self.shown_name(f"{name}.mjml", variant)
                raise TemplateError(f"{shown}: {err.message}") from err
        return template

    def shown_name(self, filename: str, locale: str | None) -> str:
        """The name of the file ``filename`` resolves to in ``locale``, for error messages."""
        if locale is None:
            return filename
        try:
            own = (
                self.resolve(filename, locale).name
                == PurePosixPath(localized(filename, locale)).name
            )
        except TemplateError:
            own = False
        return localized(filename, locale) if own else filename

    def _compile_mjml(self, name: str, locale: str | None) -> str:
        """``NAME.mjml`` (``locale``'s own first) compiled to HTML, Jinja placeholders kept."""
        filename = self.shown_name(f"{name}.mjml", locale)
        source = self.read(f"{name}.mjml", locale)
        failures: list[str] = []
        try:
            html = mjml.mjml2html(
                source,
                disable_comments=True,
                fonts={},  # no web fonts: nothing is fetched from a third party when read
                include_loader=self._include_loader(failures, locale),
            )
        except ValueError as err:
            # mrml reports a failed include without our reason; we kept it.
            detail = failures[-1] if failures else f"invalid MJML: {err}"
            raise TemplateError(f"{filename}: {detail}") from err
        # Short lines, so a usual email needs no quoted-printable (see fold_html).
        return fold_html(html)

    def _include_loader(self, failures: list[str], locale: str | None) -> Callable[[str], str]:
        def load(path: str) -> str:
            try:
                return self.read(path, locale)
            except TemplateError as err:
                failures.append(f"mj-include {err}")
                raise

        return load

    def render(
        self, name: str, context: dict[str, Any], locale: str = SOURCE_LOCALE
    ) -> RenderedEmail:
        """Render email ``name`` in ``locale``; raise :class:`TemplateError` naming the file.

        The context gets ``lang``, the language's code, for ``<mjml lang>``.
        """
        if self.auto_reload:
            self.refresh()
        context = {**context, "lang": locale}
        html_template = self.compile(name, locale)
        subject = self._render_text(f"{name}.subject", context, locale)
        text = self._render_text(f"{name}.txt", context, locale)
        try:
            html = html_template.render(context)
        except jinja2.TemplateError as err:
            raise TemplateError(f"{self.shown_name(f'{name}.mjml', locale)}: {err}") from err
        # Includes leave blank lines at the end; one line break ends a text part.
        return RenderedEmail(
            subject=" ".join(subject.split()), html=html, text=text.rstrip() + "\n"
        )

    def _render_text(self, filename: str, context: dict[str, Any], locale: str) -> str:
        try:
            return self._compiled_for(locale).text(filename).render(context)
        except jinja2.TemplateNotFound as err:
            raise TemplateError(f"{filename}: no such template ({err.name})") from err
        except jinja2.TemplateSyntaxError as err:
            shown = self.shown_name(err.name or filename, locale)
            raise TemplateError(f"{shown}:{err.lineno}: {err.message}") from err
        except jinja2.TemplateError as err:
            raise TemplateError(f"{self.shown_name(filename, locale)}: {err}") from err
