"""Small server-rendered HTML pages for visitors whose browser posted a plain form.

Each page is rendered in the request's language (``lang`` on ``<html>`` and a
``Content-Language`` header), from templates written with ``{% trans %}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from sanic import Blueprint, HTTPResponse, Request, html
from sanic_ext import openapi

from service.api.locale import request_locale, stamp_locale
from service.i18n import SOURCE_LOCALE, jinja_environment

__all__ = ["bp", "render_page", "render_template"]

bp = Blueprint("pages")

TEMPLATES = Path(__file__).parent / "templates"


_env = jinja_environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_template(filename: str, *, locale: str = SOURCE_LOCALE, **context: Any) -> str:
    """Render ``templates/FILENAME`` (escaped as HTML) in ``locale`` to text."""
    return _env.get_template(filename).render(lang=locale, **context)


def render_page(
    name: str, *, status: int = 200, locale: str = SOURCE_LOCALE, **context: Any
) -> HTTPResponse:
    """Render ``templates/NAME.html`` in ``locale`` as an HTML response."""
    page = render_template(f"{name}.html", locale=locale, **context)
    return stamp_locale(html(page, status=status), locale)


@bp.get("/thanks")
@openapi.exclude()
async def thanks(request: Request) -> HTTPResponse:
    """The built-in thank-you page for browsers that posted a plain form."""
    brand_url = request.app.ctx.settings.brand_url
    return render_page(
        "thanks", locale=request_locale(request), back=str(brand_url) if brand_url else None
    )
