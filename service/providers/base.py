"""What a provider is: a declaration (light) and an implementation (imported when used).

A provider is declared by one :class:`ProviderSettings` subclass in
``service/providers/catalog/<name>.py`` and implemented by one :class:`Provider`
subclass in ``service/providers/<name>.py``:

* The declaration says everything configuration needs: the provider's
  ``name``, its settings (the fields: types, defaults, validation; each read
  from one environment variable, ``SecretStr`` for a secret), which of them it
  cannot work without (``credentials``, or :meth:`ProviderSettings.missing_credential`
  for a rule), where its implementation lives, and (for issue 15) which field
  holds its webhook secret. It imports nothing but pydantic.
* :mod:`service.providers.catalog` finds every declaration module; the
  registry (``EMAIL_PROVIDERS`` names, :func:`~service.providers.registry.build_providers`),
  ``Settings.provider_settings`` (one typed group per provider), the secret
  sources (``<NAME>_FILE``, Key Vault), the startup refusal of missing
  credentials and the check of the README's provider table all come from it.
* The implementation is imported by the registry only when its provider is
  built, so configuration, ``check`` of other providers and a ``file`` chain
  never import aiosmtplib (or botocore, azure-identity...). That is why the two
  halves are two modules: a declaration that imported its implementation
  would load every provider's library at startup.

A provider is built from settings once per worker (:meth:`Provider.from_settings`,
no I/O), opened in ``before_server_start`` (:meth:`Provider.open`), used for
many emails (:meth:`Provider.send`), and closed in ``after_server_stop``
(:meth:`Provider.close`).

:meth:`Provider.send` is a template method: subclasses implement
:meth:`Provider.deliver` and may let any exception escape it; ``send``
translates whatever escapes into the :mod:`~service.providers.errors` tree with
:meth:`Provider.translate`, so the chain never meets an exception type it does
not expect. Anything a subclass does not recognise counts as
:class:`~service.providers.errors.ProviderUnavailable`. Every error leaving
``send`` or ``check`` has each of :meth:`Provider.secrets` replaced by
``[redacted]``, whatever echoed it.

:meth:`Provider.check` (``python -m service check``) is the same kind of
template around :meth:`Provider.probe`: it proves the provider could send
(credentials accepted, directory writable) without sending anything, and a
failure reads exactly as a failed send would (``unavailable [535]: ...``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

from pydantic import SecretStr

from service.providers.errors import ProviderUnavailable, SendError
from service.settings_groups import SettingsGroup

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail

__all__ = ["REDACTED", "Provider", "ProviderSettings", "SendResult", "redact"]

REDACTED = "[redacted]"


class ProviderSettings(SettingsGroup):
    """A provider's declaration: name, settings (the fields), credentials, implementation.

    Fields are read from ``<NAME>_<FIELD>`` (``env_prefix`` defaults to the
    name in upper case plus ``_``) unless an :class:`~service.settings_groups.Env`
    marker names the variable. Subclasses set the class variables below.
    """

    #: The name in ``EMAIL_PROVIDERS``; also the module's name under ``catalog/``.
    name: ClassVar[str]
    #: ``"module:Class"`` of the :class:`Provider` subclass, imported when it is built.
    implementation: ClassVar[str]
    #: Fields the provider cannot work without; startup refuses when one is unset.
    credentials: ClassVar[tuple[str, ...]] = ()
    #: The field holding the secret that signs the provider's webhooks (issue 15), if any.
    webhook_secret: ClassVar[str | None] = None
    #: ``"module:Class"`` of its :class:`~service.webhooks.base.ProviderWebhook`, if any.
    webhook: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "env_prefix" not in cls.__dict__:
            cls.env_prefix = f"{cls.name.upper()}_"

    def webhook_key(self) -> SecretStr | None:
        """The value of the ``webhook_secret`` field when declared and set, else ``None``.

        A provider's webhook route exists only when this is set (issue 15). Being a
        ``SecretStr`` field, it gets ``<NAME>_FILE``, Key Vault and redaction like any secret.
        """
        if self.webhook_secret is None:
            return None
        value: SecretStr | None = getattr(self, self.webhook_secret)
        return value if value is not None and value.get_secret_value() else None

    def secret(self, field: str) -> str:
        """The value of secret ``field`` ("" when unset: startup refuses a missing credential)."""
        value: SecretStr | None = getattr(self, field)
        return value.get_secret_value() if value is not None else ""

    def missing_credential(self) -> str | None:
        """The variable of the first credential that is not set, else ``None``.

        Override for a rule (SMTP needs no password without TLS).
        """
        for field in self.credentials:
            value = getattr(self, field)
            if value is None or value == "" or (isinstance(value, SecretStr) and not value):
                return self.variable(field)
        return None


@dataclass(frozen=True, slots=True)
class SendResult:
    """A provider accepted the email: its name and its own id for the message.

    The chain adds which ``attempt`` of that provider was accepted and how many
    ``seconds`` it took (``None`` when the provider was called directly).
    """

    provider: str
    message_id: str | None
    attempt: int = 1
    seconds: float | None = None


class Provider(ABC):
    """One way of sending email. Subclasses set ``declaration`` and implement :meth:`deliver`.

    ``name`` comes from the declaration (a test double may set ``name`` instead).
    """

    name: ClassVar[str]
    declaration: ClassVar[type[ProviderSettings]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "declaration" in cls.__dict__:
            cls.name = cls.declaration.name

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, **shared: object) -> Self:
        """Build the provider from settings without any I/O.

        ``shared`` carries clients owned by the app, e.g. ``http_client``.
        """

    async def open(self) -> None:  # noqa: B027 - most providers have nothing to open
        """Acquire resources (connections, directories). Called once per worker."""

    async def close(self) -> None:  # noqa: B027 - most providers have nothing to close
        """Release what :meth:`open` acquired. Called once per worker at shutdown."""

    async def send(self, email: OutgoingEmail) -> SendResult:
        """Send one email, raising only :class:`~service.providers.errors.SendError`."""
        try:
            return await self.deliver(email)
        except SendError as err:
            self.redacted(err)
            raise
        except Exception as err:
            raise self.redacted(self.translate(err)) from err

    @abstractmethod
    async def deliver(self, email: OutgoingEmail) -> SendResult:
        """Hand the email to the provider. May raise anything; :meth:`translate` sorts it."""

    async def check(self) -> str:
        """Test the provider without sending; return what was proven, in a few words.

        Raises only :class:`~service.providers.errors.SendError`, translated by
        :meth:`translate` as for :meth:`send`. Call it between :meth:`open` and
        :meth:`close`.
        """
        try:
            return await self.probe()
        except SendError as err:
            self.redacted(err)
            raise
        except Exception as err:
            raise self.redacted(self.translate(err)) from err

    async def probe(self) -> str:
        """The cheapest action that proves sending would work (a login, a read-only call).

        May raise anything; :meth:`check` sorts it. By default there is nothing to check.
        """
        return "nothing to check"

    def secrets(self) -> Iterable[str]:
        """Every secret this provider holds (keys, passwords); none by default."""
        return ()

    def redacted(self, error: SendError) -> SendError:
        """``error`` with each of :meth:`secrets` replaced by ``[redacted]`` in its message."""
        text = Exception.__str__(error)
        clean = redact(text, self.secrets())
        if clean != text:
            error.args = (clean, *error.args[1:])
        return error

    def translate(self, error: Exception) -> SendError:
        """Map an exception that escaped :meth:`deliver` to one kind of :class:`SendError`.

        Subclasses extend this for their library's errors and call ``super()``
        for the rest, which are treated as the provider being unavailable.
        """
        return ProviderUnavailable(
            f"unexpected {type(error).__name__}", provider=self.name, code=None
        )


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``[redacted]``, longest first."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
