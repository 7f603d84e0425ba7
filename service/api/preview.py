"""``/dev/preview``: a studio for template authors, registered in development only.

Every email is rendered exactly as it would be sent (same composer, same
renderer, same settings) with sample data the author can edit or pick from
presets, in any shipped language (the notification as an owner reading that
language, the confirmation as a visitor writing in it). The page shows it in
a sandboxed iframe at desktop or phone width,
with its text part, headers, MJML sources and SpamAssassin score, reloads
itself when a template file changes, and can send a test through the real
provider chain (from the studio's own page only, a few a minute).

A form picker previews the emails of every form ``FORMS_FILE`` declares:
its sample has a value of each declared field's type (see
:attr:`service.forms.FieldType.sample`), which the author can edit too.

The pages are server-rendered; a small script from ``static/`` switches tabs
and widths, polls for template changes and calls the JSON endpoints. Their
Content-Security-Policy allows scripts from this origin only.
"""

from __future__ import annotations

import dataclasses
import math
from email import message_from_bytes
from email.headerregistry import Address
from email.policy import default as default_policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sanic import Blueprint, HTTPResponse, Request, json
from sanic.exceptions import NotFound
from sanic_ext import openapi

from service.abuse.moving_window import MovingWindows
from service.api.body import read_fields
from service.api.pages import render_page
from service.api.schemas import FieldError, field_errors
from service.emails import TemplateError
from service.emails.compose import COMPOSERS, EMAILS
from service.emails.renderer import is_localized
from service.emails.samples import PRESETS, preset_submission
from service.emails.spamcheck import SpamCheckError, SpamCheckUnavailable, check_spam
from service.i18n import LOCALE_FIELD, LOCALES, language_name, supported_locale
from service.providers import ChainExhausted
from service.validation import EmailAddress

if TYPE_CHECKING:
    from service.emails import EmailRenderer
    from service.forms import Form
    from service.message import OutgoingEmail
    from service.submission import Submission

__all__ = ["PREVIEW_CSP", "bp"]

STATIC_DIR = Path(__file__).parent / "static"

# Scripts only from this origin, never inline. Styles may be inline because the
# email itself is shown in an ``srcdoc`` iframe, which inherits this policy, and
# an email is nothing but inline styles; the iframe's sandbox forbids its scripts.
PREVIEW_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https: http:; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

TABS = ("html", "text", "headers", "source", "spam")

SEND_LIMIT = (5, 60.0)
"""At most 5 test sends a minute: enough to try a template, too few to relay anything."""
VIEWS = ("desktop", "mobile")
SAMPLE_FIELDS = ("name", "email", "company", "message")

bp = Blueprint("preview", url_prefix="/dev/preview")
bp.static("/static", str(STATIC_DIR), name="static")

_ADDRESS = TypeAdapter(EmailAddress)


def _page(
    request: Request, template: str, /, *, current: str | None, status: int = 200, **context: Any
) -> HTTPResponse:
    response = render_page(
        template,
        status=status,
        nav=EMAILS,
        current=current,
        method=request.method,
        fingerprint=_renderer(request).fingerprint(),
        **context,
    )
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def _renderer(request: Request) -> EmailRenderer:
    return request.app.ctx.renderer


def _email_name(name: str) -> str:
    if name not in EMAILS:
        raise NotFound(f"No email template named {name!r}.")
    return name


def _same_origin(request: Request) -> bool:
    """True only for a post from the studio's own page: nobody else may send mail through us.

    A browser says where a post comes from (``Origin``, ``Sec-Fetch-Site``);
    a request that says neither (curl, a script) is refused too.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == f"{request.scheme}://{request.host}"
    return request.headers.get("sec-fetch-site") == "same-origin"


def _sends_left(request: Request) -> float | None:
    """Count a test send; ``None`` when it may go, else the seconds until one may."""
    # In this worker's memory, kept on the app: the studio is one author's tool.
    windows = vars(request.app.ctx).setdefault("preview_sends", MovingWindows())
    return windows.hit("send", *SEND_LIMIT)


def _locale(request: Request, fields: dict[str, Any]) -> str:
    """The language to preview in: the switch's choice, else ``DEFAULT_LOCALE``."""
    chosen = supported_locale(fields.get(LOCALE_FIELD))
    return chosen or request.app.ctx.settings.default_locale


def _chosen_form(request: Request, fields: dict[str, Any]) -> Form:
    """The form the author picked (``form``), else the contact form."""
    forms = request.app.ctx.forms
    chosen = fields.get("form")
    return forms[chosen] if isinstance(chosen, str) and chosen in forms else forms.contact


def _on_form(preset: Submission, form: Form) -> Submission:
    """A preset's visitor on ``form``, with a sample value of each declared field's type."""
    sample = form.sample()
    return dataclasses.replace(
        preset,
        form=sample.form,
        answers=sample.answers,
        consents=sample.consents,
        company=preset.company if form.company != "off" else None,
        message=preset.message if form.message != "off" else None,
    )


def _sample(
    fields: dict[str, Any], form: Form, locale: str
) -> tuple[Submission, list[FieldError], str | None]:
    """The submission to preview in ``locale``: a preset, the author's fields, or the sample."""
    preset = fields.get("preset")
    if isinstance(preset, str) and preset in PRESETS:
        return _on_form(preset_submission(preset, locale), form), [], preset
    if not any(fields.get(field) for field in SAMPLE_FIELDS):
        return _on_form(preset_submission("sample", locale), form), [], "sample"
    try:
        submission = form.validate(fields)
    except ValidationError as err:
        return _on_form(preset_submission("sample", locale), form), field_errors(err), None
    return dataclasses.replace(submission, id="preview", locale=locale), [], None


def _compose(request: Request, name: str, submission: Submission) -> OutgoingEmail:
    """Email ``name`` of ``submission``, in the submission's language whoever reads it."""
    ctx = request.app.ctx
    return COMPOSERS[name](submission, ctx.settings, ctx.renderer, locale=submission.locale)


def _fields(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return {key: request.args.get(key) for key in request.args}
    return read_fields(request)


@bp.get("")
@openapi.exclude()  # a development tool, not part of the API
async def index(request: Request) -> HTTPResponse:
    """Every email with its subject, and every template file with where it comes from."""
    renderer = _renderer(request)
    sample = preset_submission("sample", _locale(request, {}))
    emails = []
    for name in EMAILS:
        try:
            subject, error = _compose(request, name, sample).subject, None
        except TemplateError as err:
            subject, error = None, str(err)
        emails.append({"name": name, "subject": subject, "error": error})
    return _page(
        request,
        "preview/index",
        current=None,
        emails=emails,
        files=renderer.files(),
        overrides=renderer.overrides,
    )


@bp.get("/fingerprint")
@openapi.exclude()  # a development tool, not part of the API
async def fingerprint(request: Request) -> HTTPResponse:
    """The template files' fingerprint; the studio reloads when it changes."""
    return json(
        {"fingerprint": _renderer(request).fingerprint()}, headers={"Cache-Control": "no-store"}
    )


@bp.route("/<name:str>", methods=["GET", "POST"])
@openapi.exclude()  # a development tool, not part of the API
async def studio(request: Request, name: str) -> HTTPResponse:
    """One email: rendered, with its text, headers, sources, spam score and a test send."""
    name = _email_name(name)
    fields = _fields(request)
    form = _chosen_form(request, fields)
    locale = _locale(request, fields)
    submission, errors, preset = _sample(fields, form, locale)
    tab = fields.get("tab") if fields.get("tab") in TABS else "html"
    view = fields.get("view") if fields.get("view") in VIEWS else "desktop"
    renderer = _renderer(request)
    context: dict[str, Any] = {
        "email_name": name,
        "forms": request.app.ctx.forms,
        "form": form,
        "presets": PRESETS,
        "preset": preset,
        "submission": submission,
        "errors": errors,
        "tab": tab,
        "view": view,
        "sample_locale": locale,
        "locales": [(code, language_name(code, code)) for code in LOCALES],
        "sources": _sources(renderer, name, locale),
    }
    try:
        email = _compose(request, name, submission)
    except TemplateError as err:
        return _page(
            request,
            "preview/email",
            current=name,
            status=500,
            email=None,
            template_error=str(err),
            **context,
        )
    return _page(
        request,
        "preview/email",
        current=name,
        email=email,
        # As a mail client will read them: parsed back from the bytes that are sent.
        headers=list(message_from_bytes(email.to_bytes(), policy=default_policy).items()),
        template_error=None,
        **context,
    )


def _sources(renderer: EmailRenderer, name: str, locale: str) -> list[dict[str, Any]]:
    """The files an email is built from in ``locale``: its own three, then the shared layout."""
    files = {file.path.resolve(): file for file in renderer.files()}
    layout = sorted(
        {file.name for file in files.values() if file.name.startswith("layout/")}
        - {file.name for file in files.values() if is_localized(file.name)}
    )
    sources = []
    for filename in (f"{name}.mjml", f"{name}.txt", f"{name}.subject", *layout):
        try:
            path = renderer.resolve(filename, locale)
            text = renderer.read(filename, locale)
        except TemplateError as err:
            sources.append({"name": filename, "overridden": False, "text": str(err)})
            continue
        file = files.get(path)
        sources.append(
            {
                "name": file.name if file else filename,
                "overridden": bool(file and file.overridden),
                "text": text,
            }
        )
    return sources


@bp.post("/<name:str>/spam")
@openapi.exclude()  # a development tool, not part of the API
async def spam(request: Request, name: str) -> HTTPResponse:
    """SpamAssassin's score of the email as rendered with the submitted sample data."""
    name = _email_name(name)
    if not _same_origin(request):
        return json({"available": False, "message": "Cross-site request refused."}, status=403)
    fields = read_fields(request)
    submission, _, _ = _sample(fields, _chosen_form(request, fields), _locale(request, fields))
    try:
        email = _compose(request, name, submission)
        report = await check_spam(email.to_bytes())
    except SpamCheckUnavailable as err:
        return json({"available": False, "message": str(err)})
    except (SpamCheckError, TemplateError) as err:
        return json({"available": True, "message": str(err)}, status=502)
    return json(
        {
            "available": True,
            "score": report.score,
            "required": report.required,
            "rules": [dataclasses.asdict(rule) for rule in report.rules],
        }
    )


@bp.post("/<name:str>/send")
@openapi.exclude()  # a development tool, not part of the API
async def send_test(request: Request, name: str) -> HTTPResponse:
    """Send the rendered email through the provider chain to the address the author typed."""
    name = _email_name(name)
    if not _same_origin(request):
        return json({"success": False, "message": "Cross-site request refused."}, status=403)
    fields = read_fields(request)
    try:
        to = _ADDRESS.validate_python(str(fields.get("to") or "").strip())
    except ValidationError:
        return json(
            {"success": False, "message": "Type a valid email address to send the test to."},
            status=422,
        )
    submission, errors, _ = _sample(fields, _chosen_form(request, fields), _locale(request, fields))
    if errors:
        return json(
            {
                "success": False,
                "message": "The sample data is invalid.",
                "errors": [error.model_dump() for error in errors],
            },
            status=422,
        )
    try:
        email = _compose(request, name, submission)
    except TemplateError as err:
        return json({"success": False, "message": str(err)}, status=500)
    email = dataclasses.replace(email, to=(Address(addr_spec=to),))
    if (wait := _sends_left(request)) is not None:
        return json(
            {"success": False, "message": "Too many test sends. Please wait a minute."},
            status=429,
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    try:
        result = await request.app.ctx.chain.send(email)
    except ChainExhausted as err:
        return json({"success": False, "message": str(err)}, status=502)
    return json(
        {"success": True, "to": to, "provider": result.provider, "message_id": result.message_id}
    )
