"""The provider base class: a small async lifecycle around one ``send``.

A provider is built from settings once per worker (:meth:`Provider.from_settings`,
no I/O), opened in ``before_server_start`` (:meth:`Provider.open`), used for
many emails (:meth:`Provider.send`), and closed in ``after_server_stop``
(:meth:`Provider.close`).

:meth:`Provider.send` is a template method: subclasses implement
:meth:`Provider.deliver` and may let any exception escape it; ``send``
translates whatever escapes into the :mod:`~service.providers.errors` tree with
:meth:`Provider.translate`, so the chain never meets an exception type it does
not expect. Anything a subclass does not recognise counts as
:class:`~service.providers.errors.ProviderUnavailable`.

:meth:`Provider.check` (``python -m service check``) is the same kind of
template around :meth:`Provider.probe`: it proves the provider could send
(credentials accepted, directory writable) without sending anything, and a
failure reads exactly as a failed send would (``unavailable [535]: ...``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

from service.providers.errors import ProviderUnavailable, SendError

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail

__all__ = ["Provider", "SendResult"]


@dataclass(frozen=True, slots=True)
class SendResult:
    """A provider accepted the email: its name and its own id for the message."""

    provider: str
    message_id: str | None


class Provider(ABC):
    """One way of sending email. Subclasses set ``name`` and implement :meth:`deliver`."""

    name: ClassVar[str]

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
        except SendError:
            raise
        except Exception as err:
            raise self.translate(err) from err

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
        except SendError:
            raise
        except Exception as err:
            raise self.translate(err) from err

    async def probe(self) -> str:
        """The cheapest action that proves sending would work (a login, a read-only call).

        May raise anything; :meth:`check` sorts it. By default there is nothing to check.
        """
        return "nothing to check"

    def translate(self, error: Exception) -> SendError:
        """Map an exception that escaped :meth:`deliver` to one kind of :class:`SendError`.

        Subclasses extend this for their library's errors and call ``super()``
        for the rest, which are treated as the provider being unavailable.
        """
        return ProviderUnavailable(
            f"unexpected {type(error).__name__}", provider=self.name, code=None
        )
