"""The contact endpoint's defences, in the order a submission meets them.

``enforce_rate_limit`` runs first, on every post; ``screen`` runs once the
fields are valid and tells the handler what to do:

* honeypot filled: answer as a success, store and send nothing;
* captcha configured and not passed: :class:`CaptchaRejected` (422);
* otherwise: handle the submission, and compose the confirmation only when
  :attr:`Verdict.confirm` is true.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from sanic import Request

from service.abuse.captcha import CaptchaVerifier
from service.abuse.client_ip import client_ip, client_key
from service.abuse.confirmation import ConfirmationPolicy
from service.abuse.events import count
from service.abuse.honeypot import honeypot_tripped
from service.abuse.ratelimit import RateLimits

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["Defences", "Verdict", "enforce_rate_limit", "screen"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the handler does with a valid submission."""

    spam: bool
    """Answer exactly as for a success, but store and send nothing."""
    confirm: bool
    """Compose the visitor's confirmation (the owner's notification is always composed)."""


SPAM = Verdict(spam=True, confirm=False)


class Defences:
    """The per-worker state of every defence: ``app.ctx.defences``."""

    def __init__(
        self,
        *,
        honeypot_field: str,
        limits: RateLimits,
        confirmation: ConfirmationPolicy,
        captcha: CaptchaVerifier | None,
    ) -> None:
        self.honeypot_field = honeypot_field
        self.limits = limits
        self.confirmation = confirmation
        self.captcha = captcha

    @classmethod
    def from_settings(cls, settings: Settings, *, recipients: Iterable[str] = ()) -> Self:
        """Everything ``settings`` asks for; no I/O until :meth:`open`.

        ``recipients`` are further addresses of ours (every form's), which never
        get a confirmation.
        """
        limits = RateLimits.from_settings(settings)
        return cls(
            honeypot_field=settings.honeypot_field,
            limits=limits,
            confirmation=ConfirmationPolicy.from_settings(settings, limits, recipients),
            captcha=CaptchaVerifier.from_settings(settings),
        )

    async def open(self) -> None:
        """Connect the rate-limit storage in this worker."""
        await self.limits.open()

    async def close(self) -> None:
        """Release what :meth:`open` connected."""
        await self.limits.close()


def _defences(request: Request) -> Defences:
    return request.app.ctx.defences


async def enforce_rate_limit(request: Request) -> None:
    """Count this post against its client's limit; raise :class:`RateLimited` (429) past it.

    The refusal is the post's outcome: the endpoint records it, once.
    """
    await _defences(request).limits.check_contact(client_key(client_ip(request)))


async def screen(
    request: Request, fields: Mapping[str, Any], *, email: str, confirm: bool = True
) -> Verdict:
    """Judge a valid submission: ``fields`` as posted, ``email`` the validated visitor address.

    ``confirm`` false (a form that sends no confirmation) skips the confirmation
    policy, so that it counts nothing against the visitor's address.

    Raises :class:`~service.abuse.captcha.CaptchaRejected` (422) when a
    configured captcha is not passed.
    """
    defences = _defences(request)
    if honeypot_tripped(fields, defences.honeypot_field):
        count("honeypot")
        return SPAM
    if defences.captcha is not None:
        await defences.captcha.verify(fields, client_ip(request), request.app.ctx.http_client)
    return Verdict(spam=False, confirm=confirm and await defences.confirmation.allows(email))
