"""The one exception tree for sending email.

Every failure a provider meets (aiosmtplib, httpx, ssl, asyncio timeouts, OS
errors, an unexpected answer) leaves the provider as exactly one of three
kinds. The chain (:mod:`service.providers.chain`) decides what to do with each
kind in one place::

    SendError                  base; never raised itself
    ├── TransientError         try the same provider again, after a backoff
    ├── ProviderUnavailable    stop using this provider for a while; fail over
    └── MessageRejected        stop: any provider would refuse this message
    ChainExhausted             every provider in the chain failed (carries each answer)

Context is passed keyword-only (``provider=``, ``code=``, ``retry_after=``),
and providers always raise these ``from`` the original error, so the cause
stays on ``__cause__`` for debugging while logs show only ``str(error)``,
which never contains a secret or a message body.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ChainExhausted",
    "MessageRejected",
    "ProviderUnavailable",
    "SendError",
    "TransientError",
]


class SendError(Exception):
    """Base class: a provider could not send one email.

    ``provider`` names the provider; ``code`` is the provider's own status (an
    SMTP reply code, an HTTP status or an API error name) when there is one.
    """

    kind: str = "error"

    def __init__(self, message: str, *, provider: str, code: str | int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.code = code

    def __str__(self) -> str:
        detail = super().__str__()
        code = f" [{self.code}]" if self.code is not None else ""
        return f"{self.provider}: {self.kind}{code}: {detail}"


class TransientError(SendError):
    """The provider may accept the same email if asked again soon.

    ``retry_after`` (seconds) is the provider's own hint, e.g. HTTP ``Retry-After``.
    """

    kind = "transient"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, code=code)
        self.retry_after = retry_after


class ProviderUnavailable(SendError):
    """The provider cannot send anything now: bad credentials, quota, unreachable."""

    kind = "unavailable"


class MessageRejected(SendError):
    """The provider refused this email itself (bad recipient, invalid payload).

    Another provider would refuse it too, so the chain stops.
    """

    kind = "rejected"


class ChainExhausted(SendError):
    """No provider in the chain delivered the email.

    ``errors`` holds each provider's last error, in chain order. ``rejected``
    is true when a provider refused the message itself (retrying later will
    not help); otherwise the outbox should try again later.
    """

    kind = "exhausted"

    def __init__(self, errors: Sequence[SendError]) -> None:
        answers = "; ".join(str(error) for error in errors) or "no provider configured"
        super().__init__(answers, provider="chain")
        self.errors = tuple(errors)

    @property
    def rejected(self) -> bool:
        """True when the last provider tried refused the message itself."""
        return bool(self.errors) and isinstance(self.errors[-1], MessageRejected)

    def __str__(self) -> str:
        return f"all providers failed: {Exception.__str__(self)}"
