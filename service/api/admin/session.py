"""The site owner's browser session on the admin pages: a signed cookie and its CSRF token.

The cookie holds a random session id, whether it is signed in and when it
expires, signed with HMAC-SHA256 under a key derived from ``ADMIN_TOKEN``
(changing the token ends every session). A visitor to the sign-in page gets
a signed-out session first, so that the sign-in form has a CSRF token too;
signing in replaces it with a new id (no fixation), valid for 8 hours.
Signing out ends the id: the browser's cookie is deleted, and a copy of it is
refused from then on by every worker and replica (the store keeps ended ids,
:mod:`service.outbox.sessions`; this process also remembers its own).

The CSRF token of a form is an HMAC of the session id: a page from another
site cannot read it, and a post without it is refused (``SameSite=Strict``
already keeps the cookie off cross-site posts; the token holds if it did not).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
from pydantic import SecretStr
from sanic import HTTPResponse, Request

if TYPE_CHECKING:
    from service.outbox.sessions import EndedSessions

__all__ = ["COOKIE", "LIFETIME_SECONDS", "Session", "SessionKeeper"]

COOKIE = "admin_session"
COOKIE_PATH = "/admin"
LIFETIME_SECONDS = 8 * 3600
"""A signed-in session lasts 8 hours from sign-in."""
SIGNED_OUT_SECONDS = 3600
"""A sign-in form stays usable for an hour."""

_KEY_LABEL = b"contact-mailer admin session v1"
_CSRF_LABEL = b"csrf:"


@dataclass(frozen=True, slots=True)
class Session:
    """One browser's session: ``signed_in`` once the token was given; ``expires`` in epoch s."""

    id: str
    signed_in: bool
    expires: int


class SessionKeeper:
    """Issues, reads and ends sessions, and makes and checks their CSRF tokens."""

    def __init__(
        self, token: SecretStr, *, secure: bool, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = hmac.new(token.get_secret_value().encode(), _KEY_LABEL, "sha256").digest()
        self.secure = secure
        self._clock = clock
        # Ended ids, until they would have expired anyway.
        self._ended: dict[str, int] = {}

    def start(self, *, signed_in: bool) -> Session:
        """A new session with a new random id."""
        lifetime = LIFETIME_SECONDS if signed_in else SIGNED_OUT_SECONDS
        return Session(secrets.token_urlsafe(18), signed_in, int(self._clock()) + lifetime)

    def read(self, request: Request) -> Session | None:
        """The request's session when its cookie is signed by us, unexpired and not ended."""
        return self.parse(request.cookies.get(COOKIE) or "")

    def parse(self, value: str) -> Session | None:
        """The session in a cookie's ``value``: signed by us, unexpired and not ended."""
        payload, _, signature = value.partition(".")
        if not payload or not _same(signature, self._sign(payload)):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload.encode()))
            session = Session(str(data["id"]), bool(data["in"]), int(data["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= self._clock() or session.id in self._ended:
            return None
        return session

    def value(self, session: Session) -> str:
        """The cookie's value for ``session``: its data, base64, and their signature."""
        data = {"id": session.id, "in": session.signed_in, "exp": session.expires}
        payload = base64.urlsafe_b64encode(orjson.dumps(data)).decode()
        return f"{payload}.{self._sign(payload)}"

    def set_cookie(self, response: HTTPResponse, session: Session) -> None:
        """Send ``session`` as the cookie: HttpOnly, SameSite=Strict, Secure in production."""
        response.add_cookie(
            COOKIE,
            self.value(session),
            path=COOKIE_PATH,
            max_age=max(0, session.expires - int(self._clock())),
            httponly=True,
            samesite="Strict",
            secure=self.secure,
        )

    async def forget(self, session: Session | None, store: EndedSessions) -> None:
        """Refuse ``session``'s id from now on, everywhere (until it would have expired anyway)."""
        now = int(self._clock())
        self._ended = {key: until for key, until in self._ended.items() if until > now}
        if session is not None:
            self._ended[session.id] = session.expires
            await store.end_session(session.id, datetime.fromtimestamp(session.expires, UTC))

    async def ended(self, session: Session, store: EndedSessions) -> bool:
        """True when ``session`` was signed out, here or by another worker or replica."""
        return await store.session_ended(session.id)

    async def end(
        self, response: HTTPResponse, session: Session | None, store: EndedSessions
    ) -> None:
        """Sign out: the id is refused from now on and the browser drops the cookie."""
        await self.forget(session, store)
        response.delete_cookie(COOKIE, path=COOKIE_PATH)

    def csrf_token(self, session: Session) -> str:
        """The token every state-changing form of this session carries."""
        return self._sign(_CSRF_LABEL.decode() + session.id)

    def csrf_ok(self, session: Session | None, offered: object) -> bool:
        """True when ``offered`` is ``session``'s CSRF token (compared in constant time)."""
        if session is None or not isinstance(offered, str):
            return False
        return _same(offered, self.csrf_token(session))

    def _sign(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _same(offered: str, expected: str) -> bool:
    """Constant-time comparison that accepts any text a client may send."""
    return hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), expected.encode())
