"""Optional captcha: Cloudflare Turnstile, hCaptcha or Google reCAPTCHA, checked server-side.

The widget on the page proves nothing by itself; its token is sent to the
provider's ``siteverify`` endpoint with our secret and the visitor's IP. The
check fails closed: no token, a timeout, an error status or an answer that
cannot be read all refuse the submission with a 422.

Each provider's widget (:class:`CaptchaWidget`), for the hosted form page, is
its documented script and element, with the origins its documentation asks a
Content-Security-Policy to allow:

- Turnstile: https://developers.cloudflare.com/turnstile/get-started/client-side-rendering/
  and https://developers.cloudflare.com/turnstile/reference/content-security-policy
- hCaptcha: https://docs.hcaptcha.com/ ("Content-Security-Policy Settings")
- reCAPTCHA v2: https://developers.google.com/recaptcha/docs/display and
  https://developers.google.com/recaptcha/docs/faq (the CSP question)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Self

import httpx
from sanic.exceptions import SanicException

from service.abuse.client_ip import is_ip_address
from service.abuse.events import count
from service.i18n import N_
from service.jsonparse import parse_json

if TYPE_CHECKING:
    from pydantic import SecretStr

    from service.config import Settings

__all__ = [
    "PROVIDERS",
    "CaptchaProvider",
    "CaptchaRejected",
    "CaptchaVerifier",
    "CaptchaWidget",
]

logger = logging.getLogger("service.abuse")

# Tokens are a few hundred to a few thousand characters; anything much longer
# is not a token and is not forwarded to the provider.
MAX_TOKEN_LENGTH = 8192

# Error codes that mean our configuration is wrong, not the visitor.
_OPERATOR_ERRORS = frozenset(
    {"missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch"}
)


@dataclass(frozen=True, slots=True)
class CaptchaWidget:
    """A provider's widget: its script, the element it fills, and what the CSP must allow.

    ``language`` is how the widget is told the page's language: ``hl`` on the
    script's URL, or a ``data-language`` attribute on the element.
    """

    script: str
    element_class: str
    sources: Mapping[str, tuple[str, ...]]
    language: Literal["hl", "data-language"] = "hl"

    def script_url(self, locale: str) -> str:
        """The script's URL, in ``locale`` when the provider reads it from there."""
        return f"{self.script}?hl={locale}" if self.language == "hl" else self.script


@dataclass(frozen=True, slots=True)
class CaptchaProvider:
    """Where a provider's widget puts its token, and where the token is verified."""

    name: str
    token_field: str
    verify_url: str
    widget: CaptchaWidget
    scored: bool = False


_HCAPTCHA_ORIGINS = ("https://hcaptcha.com", "https://*.hcaptcha.com")


PROVIDERS: dict[str, CaptchaProvider] = {
    "turnstile": CaptchaProvider(
        "turnstile",
        "cf-turnstile-response",
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        CaptchaWidget(
            "https://challenges.cloudflare.com/turnstile/v0/api.js",
            "cf-turnstile",
            {
                "script-src": ("https://challenges.cloudflare.com",),
                "frame-src": ("https://challenges.cloudflare.com",),
            },
            language="data-language",
        ),
    ),
    "hcaptcha": CaptchaProvider(
        "hcaptcha",
        "h-captcha-response",
        "https://api.hcaptcha.com/siteverify",
        CaptchaWidget(
            "https://js.hcaptcha.com/1/api.js",
            "h-captcha",
            {
                "script-src": _HCAPTCHA_ORIGINS,
                "frame-src": _HCAPTCHA_ORIGINS,
                "style-src": _HCAPTCHA_ORIGINS,
                "connect-src": _HCAPTCHA_ORIGINS,
            },
        ),
    ),
    # reCAPTCHA v3 answers with a score (1.0 human .. 0.0 bot); v2 answers without one.
    "recaptcha": CaptchaProvider(
        "recaptcha",
        "g-recaptcha-response",
        "https://www.google.com/recaptcha/api/siteverify",
        # The page renders the v2 checkbox; a v3 key's token comes from the site's own script.
        CaptchaWidget(
            "https://www.google.com/recaptcha/api.js",
            "g-recaptcha",
            {
                "script-src": (
                    "https://www.google.com/recaptcha/",
                    "https://www.gstatic.com/recaptcha/",
                ),
                "frame-src": (
                    "https://www.google.com/recaptcha/",
                    "https://recaptcha.google.com/recaptcha/",
                ),
            },
        ),
        scored=True,
    ),
}


class CaptchaRejected(SanicException):
    """422: the captcha was missing, wrong, or could not be verified."""

    status_code = 422
    quiet = True


MISSING = N_("Please complete the captcha.")
FAILED = N_("The captcha check failed. Please try again.")
UNAVAILABLE = N_("The captcha could not be verified right now. Please try again in a minute.")


class CaptchaVerifier:
    """Verifies one submission's token with the configured provider."""

    def __init__(
        self,
        provider: CaptchaProvider,
        secret: SecretStr,
        *,
        hostname: str | None = None,
        min_score: float = 0.5,
        site_key: str | None = None,
    ) -> None:
        self.provider = provider
        self._secret = secret
        self.site_key = site_key
        self.hostname = hostname.lower() if hostname else None
        self.min_score = min_score

    @classmethod
    def from_settings(cls, settings: Settings) -> Self | None:
        """The verifier ``CAPTCHA_PROVIDER`` asks for, or ``None`` when there is none."""
        if settings.captcha_provider is None or settings.captcha_secret is None:
            return None
        return cls(
            PROVIDERS[settings.captcha_provider],
            settings.captcha_secret,
            hostname=settings.captcha_hostname,
            min_score=settings.captcha_min_score,
            site_key=settings.captcha_site_key,
        )

    @property
    def widget(self) -> CaptchaWidget | None:
        """The widget a page shows, when ``CAPTCHA_SITE_KEY`` says which site it is for."""
        return self.provider.widget if self.site_key else None

    def token(self, fields: Mapping[str, Any]) -> str:
        """The token from the provider's usual form field; 422 when there is none."""
        value = fields.get(self.provider.token_field)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TOKEN_LENGTH:
            count("captcha_rejected", "missing-input-response")
            raise CaptchaRejected(MISSING)
        return value.strip()

    async def verify(
        self, fields: Mapping[str, Any], remote_ip: str, client: httpx.AsyncClient
    ) -> None:
        """Return when the provider vouches for the token; else raise :class:`CaptchaRejected`."""
        token = self.token(fields)
        answer = await self._siteverify(token, remote_ip, client)
        codes = answer.get("error-codes")
        codes = [str(code) for code in codes] if isinstance(codes, list) else []
        if answer.get("success") is not True:
            reason = ",".join(codes) or "success-false"
            if _OPERATOR_ERRORS.intersection(codes):
                logger.error("%s rejects our CAPTCHA_SECRET (%s)", self.provider.name, reason)
            count("captcha_rejected", reason)
            raise CaptchaRejected(FAILED)
        if self.hostname is not None and str(answer.get("hostname", "")).lower() != self.hostname:
            count("captcha_rejected", "hostname-mismatch")
            raise CaptchaRejected(FAILED)
        if self.provider.scored and "score" in answer:
            score = answer["score"]
            if not isinstance(score, int | float) or score < self.min_score:
                count("captcha_rejected", "low-score")
                raise CaptchaRejected(FAILED)

    async def _siteverify(
        self, token: str, remote_ip: str, client: httpx.AsyncClient
    ) -> dict[str, Any]:
        form = {"secret": self._secret.get_secret_value(), "response": token}
        if is_ip_address(remote_ip):
            form["remoteip"] = remote_ip
        try:
            response = await client.post(self.provider.verify_url, data=form)
            response.raise_for_status()
            answer = parse_json(response.content)
        except (httpx.HTTPError, ValueError) as err:
            # The error names the URL at most; the form with the secret is never logged.
            logger.warning("%s siteverify failed: %s", self.provider.name, type(err).__name__)
            count("captcha_unavailable", type(err).__name__)
            raise CaptchaRejected(UNAVAILABLE) from err
        if not isinstance(answer, dict):
            count("captcha_unavailable", "not-an-object")
            raise CaptchaRejected(UNAVAILABLE)
        return answer
