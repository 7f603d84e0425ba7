"""Small server-rendered HTML pages for visitors whose browser posted a plain form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from sanic import Blueprint, HTTPResponse, Request, html
from sanic_ext import openapi

__all__ = ["bp", "render_page", "render_template"]

bp = Blueprint("pages")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_template(filename: str, **context: Any) -> str:
    """Render ``templates/FILENAME`` (escaped as HTML) to text."""
    return _env.get_template(filename).render(**context)


def render_page(name: str, *, status: int = 200, **context: Any) -> HTTPResponse:
    """Render ``templates/NAME.html`` as an HTML response."""
    return html(render_template(f"{name}.html", **context), status=status)


@bp.get("/thanks")
@openapi.exclude()
async def thanks(request: Request) -> HTTPResponse:
    """The built-in thank-you page for browsers that posted a plain form."""
    brand_url = request.app.ctx.settings.brand_url
    return render_page("thanks", back=str(brand_url) if brand_url else None)
