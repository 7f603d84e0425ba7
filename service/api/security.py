"""Security headers on every response."""

from __future__ import annotations

from sanic import HTTPResponse, Request

__all__ = ["PAGE_CSP", "add_security_headers"]

# Our pages need inline styles and nothing else; pages that need more (the
# preview) set their own policy, which is left alone.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


async def add_security_headers(request: Request, response: HTTPResponse) -> None:
    """Response middleware: no MIME sniffing, no referrer leaks, a strict CSP on HTML."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    # The OpenAPI UI at /docs loads its own scripts; it is documentation, not a page of ours.
    is_docs = request.path.startswith(request.app.config.OAS_URL_PREFIX)
    if (response.content_type or "").startswith("text/html") and not is_docs:
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
