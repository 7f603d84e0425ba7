"""What every admin page shares: the session guard, the rendering and the strict headers.

Each admin blueprint runs :func:`guard` before its routes and
:func:`harden` after them. Pages are rendered in the owner's browser language
(``Accept-Language``, else ``DEFAULT_LOCALE``), with times in
``OWNER_TIMEZONE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from babel.dates import format_datetime
from sanic import HTTPResponse, Request, redirect
from sanic.exceptions import NotFound

from service.api.admin.session import Session, SessionKeeper
from service.api.locale import request_locale
from service.api.pages import render_page

__all__ = [
    "ADMIN_CSP",
    "back_to",
    "guard",
    "harden",
    "keeper",
    "page",
    "signed_in",
]

# No script, no inline style: one stylesheet of ours, forms posting to us only.
ADMIN_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

# Posts that need no signed-in session (but still a CSRF token).
_OPEN_POSTS = frozenset({"/admin/sign-in"})


def keeper(request: Request) -> SessionKeeper:
    """The app's session keeper, made on first use from ``ADMIN_TOKEN``."""
    ctx = request.app.ctx
    found: SessionKeeper | None = getattr(ctx, "admin_sessions", None)
    if found is None:
        settings = ctx.settings
        found = ctx.admin_sessions = SessionKeeper(settings.admin_token, secure=settings.production)
    return found


def signed_in(request: Request) -> Session | None:
    """The request's session when it is signed in."""
    session: Session | None = request.ctx.admin_session
    return session if session is not None and session.signed_in else None


async def guard(request: Request) -> HTTPResponse | None:
    """Before each admin route: 404 without a token; a 403 page for a post without CSRF.

    A page that needs a signed-in session and has none sends the browser to
    the sign-in page.
    """
    if request.app.ctx.settings.admin_token is None:
        raise NotFound("Not found.")
    session = keeper(request).read(request)
    if session is not None and await keeper(request).ended(session, request.app.ctx.store):
        session = None
    request.ctx.admin_session = session
    if request.method == "POST":
        token = (request.form or {}).get("csrf")
        allowed = request.path in _OPEN_POSTS or signed_in(request) is not None
        if not allowed or not keeper(request).csrf_ok(session, token):
            return page(request, "refused", status=403)
        return None
    public = request.path in ("/admin", "/admin/") or request.path.startswith("/admin/static/")
    if signed_in(request) is None and not public:
        return redirect("/admin", status=303)
    return None


async def harden(request: Request, response: HTTPResponse) -> None:
    """After each admin route: never cached, never framed, no script, no inline style."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/admin/static/"):
        response.headers["Content-Security-Policy"] = ADMIN_CSP


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTTPResponse:
    """Render ``templates/admin/TEMPLATE.html`` in the owner's language."""
    locale = request_locale(request)
    session: Session | None = getattr(request.ctx, "admin_session", None)
    zone = request.app.ctx.settings.owner_zone

    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(moment.astimezone(zone), "medium", locale=locale)

    context.setdefault("current", None)
    return render_page(
        f"admin/{template}",
        status=status,
        locale=locale,
        csrf=keeper(request).csrf_token(session) if session else "",
        signed_in=bool(session and session.signed_in),
        when=when,
        request_args={key: values[0] for key, values in request.args.items()},
        **context,
    )


def back_to(request: Request, default: str, **notice: str) -> HTTPResponse:
    """303 to the page the form came from (an ``/admin`` path only), with a notice."""
    target = (request.form or {}).get("next") or default
    if not target.startswith("/admin") or target.startswith("//"):
        target = default
    path, _, query = target.partition("?")
    kept = [(key, value) for key, value in parse_qsl(query) if key not in notice]
    return redirect(f"{path}?{urlencode([*kept, *notice.items()])}", status=303)
