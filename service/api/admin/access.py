"""``/admin``: signing in and out of the site owner's pages, and their stylesheet.

``GET /admin`` is the inbox for a signed-in browser and the sign-in page
otherwise. ``POST /admin/sign-in`` takes ``ADMIN_TOKEN`` (compared in
constant time), at most 10 attempts an hour per client (then 429), each
logged without the token. ``POST /admin/sign-out`` ends the session.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

from sanic import Blueprint, HTTPResponse, Request, redirect
from sanic_ext import openapi

from service.abuse.client_ip import client_ip, client_key
from service.api.admin import pages
from service.api.admin.views import guard, harden, keeper, page, signed_in

__all__ = ["bp"]

logger = logging.getLogger("service.admin")

STYLESHEET = Path(__file__).parents[1] / "static" / "admin.css"

bp = Blueprint("admin_access", url_prefix="/admin")
bp.on_request(guard)
bp.on_response(harden)
bp.static("/static/admin.css", str(STYLESHEET), name="stylesheet")


@bp.get("")
@openapi.exclude()  # a page for people
async def home(request: Request) -> HTTPResponse:
    """The inbox when signed in, else the sign-in form (with a signed-out session)."""
    if signed_in(request) is not None:
        return await pages.inbox(request)
    return _sign_in_page(request)


def _sign_in_page(request: Request, *, status: int = 200, error: str = "") -> HTTPResponse:
    """The sign-in form; its signed-out session is kept (a second tab's form stays valid)."""
    sessions = keeper(request)
    session = request.ctx.admin_session
    if session is None:
        session = request.ctx.admin_session = sessions.start(signed_in=False)
    response = page(request, "sign_in", status=status, error=error)
    sessions.set_cookie(response, session)
    return response


@bp.post("/sign-in")
@openapi.exclude()
async def sign_in(request: Request) -> HTTPResponse:
    """Check the token; a right one starts a new signed-in session (the old id is dropped)."""
    client = client_ip(request)
    wait = await request.app.ctx.defences.limits.check_sign_in(client_key(client))
    if wait is not None:
        logger.warning("admin sign-in refused: too many attempts from %s", client)
        response = _sign_in_page(request, status=429, error="limited")
        response.headers["Retry-After"] = str(wait)
        return response
    offered = str((request.form or {}).get("token") or "").strip()
    expected = request.app.ctx.settings.admin_token.get_secret_value()
    if not hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), expected.encode()):
        logger.warning("admin sign-in failed: wrong token from %s", client)
        return _sign_in_page(request, status=403, error="wrong")
    logger.info("admin signed in from %s", client)
    sessions = keeper(request)
    await sessions.forget(request.ctx.admin_session, request.app.ctx.store)
    response = redirect("/admin", status=303)
    sessions.set_cookie(response, sessions.start(signed_in=True))
    return response


@bp.post("/sign-out")
@openapi.exclude()
async def sign_out(request: Request) -> HTTPResponse:
    """End the session: its cookie is deleted and refused should it come back."""
    response = redirect("/admin?done=signed-out", status=303)
    await keeper(request).end(response, request.ctx.admin_session, request.app.ctx.store)
    logger.info("admin signed out from %s", client_ip(request))
    return response
