"""``GET /f/{form}``: a hosted, accessible page with the form, to link to or embed in an iframe.

Without JavaScript the browser posts the form to ``/f/{form}``: a success is a
``303`` to the form's ``redirect_url`` (or ``/f/{form}/thanks``), a refusal is
the page again with the values kept and each message beside its field. With
JavaScript (``static/form.js``) the page posts JSON to ``/api/forms/{form}``,
shows each ``422`` message beside its field, moves focus to the first error
and shows the success message in place.

Scripts and styles come from this origin only (no inline code), and
``frame-ancestors`` lists the form's origins. With a captcha configured
(``CAPTCHA_PROVIDER`` and ``CAPTCHA_SITE_KEY``) the form page alone also
renders the provider's widget and allows exactly the origins its
documentation names (:class:`~service.abuse.captcha.CaptchaWidget`).

Every page is in the visitor's language (:mod:`service.api.locale`: ``?locale=``,
the form's ``locale``, ``Accept-Language``); every word is in the templates
(``templates/hosted/``), and the words ``form.js`` shows come from the page's
``data-`` attributes. A hidden ``locale`` field keeps the page's language for
the post, with or without JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sanic import Blueprint, HTTPResponse, Request, text
from sanic.exceptions import NotFound
from sanic_ext import openapi

from service.abuse.captcha import CaptchaWidget
from service.api.forms import HostedAnswers, submit
from service.api.locale import current_locale, request_locale
from service.api.pages import render_page, render_template
from service.api.schemas import FieldError
from service.emails.colors import readable_on, text_safe
from service.forms import Form
from service.forms.types import parse_checkbox
from service.i18n import LOCALE_FIELD, gettext_for

__all__ = ["bp", "form_csp"]

STATIC_DIR = Path(__file__).parent / "static"

SCRIPT_URL = "/static/form.js"
STYLESHEET_URL = "/static/form.css"

# A page that only says there is no such form: our stylesheet, nothing else.
MISSING_CSP = (
    "default-src 'none'; style-src 'self'; img-src data:; form-action 'none'; "
    "base-uri 'none'; frame-ancestors *"
)

bp = Blueprint("hosted")
bp.static(SCRIPT_URL, str(STATIC_DIR / "form.js"), name="script")


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def form_csp(form: Form, captcha: CaptchaWidget | None = None) -> str:
    """The page's policy: nothing but this origin, embeddable by the form's origins only.

    ``form-action`` also names the origin of the form's ``redirect_url``:
    Chromium applies it to the redirect that follows a post. A ``captcha``
    widget adds its provider's documented sources, and nothing else.
    """
    ancestors = "*" if "*" in form.origins else " ".join(["'self'", *form.origins])
    targets = ["'self'"]
    if form.redirect_url and (origin := _origin(form.redirect_url)):
        targets.append(origin)
    extra = captcha.sources if captcha is not None else {}
    fetched = {
        directive: " ".join(["'self'", *extra.get(directive, ())])
        for directive in ("script-src", "style-src", "connect-src")
    }
    frames = f"frame-src {' '.join(extra['frame-src'])}; " if "frame-src" in extra else ""
    return (
        f"default-src 'none'; script-src {fetched['script-src']}; "
        f"style-src {fetched['style-src']}; img-src 'self' data:; "
        f"connect-src {fetched['connect-src']}; {frames}"
        f"form-action {' '.join(targets)}; base-uri 'none'; frame-ancestors {ancestors}"
    )


def _form(request: Request, form_id: str) -> Form:
    form = request.app.ctx.forms.get(form_id)
    if form is None:
        raise NotFound(f"There is no form {form_id!r}.")
    return form


def _values(form: Form, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What the visitor typed, to show again: text as posted, boxes as checked or not."""
    values: dict[str, Any] = {}
    for spec in form.fields:
        raw = fields.get(spec.name)
        if spec.input == "checkbox":
            try:
                values[spec.name] = parse_checkbox(raw)
            except ValueError:
                values[spec.name] = False
        else:
            values[spec.name] = raw if isinstance(raw, str) else ""
    return values


def render_form(
    request: Request,
    form: Form,
    status: int = 200,
    fields: Mapping[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    message: str = "",
) -> HTTPResponse:
    """The form page; after a refused post, with its values, its errors and a message.

    ``message`` is an English msgid, translated here; field errors come translated.
    """
    locale = current_locale(request)
    _ = gettext_for(locale)
    verifier = request.app.ctx.defences.captcha
    captcha = verifier.widget if verifier is not None else None
    response = render_page(
        "hosted/form",
        status=status,
        locale=locale,
        form=form,
        fields=form.fields,
        labels={field.name: _(field.label) if field.core else field.label for field in form.fields},
        values=_values(form, fields or {}),
        errors={error.field: error.message for error in errors or ()},
        message=_(message) if message else "",
        honeypot=request.app.ctx.settings.honeypot_field,
        locale_field=LOCALE_FIELD,
        action=request.app.url_for("hosted.post", form_id=form.id),
        endpoint=f"/api/forms/{form.id}",
        stylesheet=STYLESHEET_URL,
        script=SCRIPT_URL,
        captcha=captcha,
        captcha_site_key=verifier.site_key if captcha is not None else None,
    )
    return _secured(response, form, captcha)


def _secured(
    response: HTTPResponse, form: Form, captcha: CaptchaWidget | None = None
) -> HTTPResponse:
    response.headers["Content-Security-Policy"] = form_csp(form, captcha)
    response.headers["Cache-Control"] = "no-store"
    return response


def _thanks(request: Request, form: Form) -> str:
    return request.app.url_for("hosted.thanks", form_id=form.id)


_HOSTED = HostedAnswers(page=render_form, thanks=_thanks)


@bp.get("/f/<form_id:str>")
@openapi.exclude()  # a page for people; GET /api/forms/{form} describes the form
async def page(request: Request, form_id: str) -> HTTPResponse:
    """The form, ready to fill in; a page saying so when there is no such form."""
    form = request.app.ctx.forms.get(form_id)
    if form is None:
        locale = request_locale(request)
        response = render_page(
            "hosted/missing", status=404, locale=locale, form=None, stylesheet=STYLESHEET_URL
        )
        response.headers["Content-Security-Policy"] = MISSING_CSP
        return response
    request_locale(request, form_locale=form.locale)
    return render_form(request, form)


@bp.post("/f/<form_id:str>")
@openapi.exclude()
async def post(request: Request, form_id: str) -> HTTPResponse:
    """The page's plain post (JavaScript off): 303 on success, the page again on a refusal."""
    return await submit(request, _form(request, form_id), hosted=_HOSTED)


@bp.get("/f/<form_id:str>/thanks")
@openapi.exclude()
async def thanks(request: Request, form_id: str) -> HTTPResponse:
    """The form's thank-you page, embeddable where the form is."""
    form = _form(request, form_id)
    locale = request_locale(request, form_locale=form.locale)
    response = render_page("hosted/thanks", locale=locale, form=form, stylesheet=STYLESHEET_URL)
    return _secured(response, form)


@bp.get(STYLESHEET_URL)
@openapi.exclude()
async def stylesheet(request: Request) -> HTTPResponse:
    """The page's styles, in the brand's colour made readable (no inline styles are allowed)."""
    accent = text_safe(request.app.ctx.settings.brand_color)
    css = render_template("hosted/form.css", accent=accent, on_accent=readable_on(accent))
    return text(
        css,
        content_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
