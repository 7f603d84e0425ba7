"""The ``smtp`` provider: SMTP submission (Gmail first of all) through aiosmtplib.

Written against the aiosmtplib client and API reference
(https://aiosmtplib.readthedocs.io/en/stable/client.html and
https://aiosmtplib.readthedocs.io/en/stable/reference.html, read 2026-11-26 for
aiosmtplib 5.1.3), with reply codes as Google documents them in "Gmail SMTP
errors and codes" (https://support.google.com/a/answer/3726730, read 2026-11-26).

``SMTP_SECURITY`` picks how the session is protected:

* ``starttls`` (default, port 587): STARTTLS is required; a server that does not
  offer it fails, the session never continues in plaintext.
* ``tls`` (port 465): TLS from the first byte.
* ``none``: plaintext, only to a loopback host (a local mail catcher) and
  never with a password.

Certificates are always verified, against ``ssl.create_default_context()``
(which honours ``SSL_CERT_FILE``) unless a context is passed in. Connections
are pooled (:mod:`service.providers.smtp_pool`), so a burst of emails logs in
once per pooled connection. The login uses one mechanism once: aiosmtplib's
``login()`` would follow a 535 with a second mechanism, doubling failed logins.

:meth:`SmtpProvider.probe` (``python -m service check``) opens one connection
outside the pool as a send would (connect, STARTTLS, EHLO, one login), says
``NOOP``, then ``QUIT``: a rotated password is proven without sending mail.

Each email goes out with an explicit envelope: ``MAIL FROM`` the From address,
``RCPT TO`` each To address. When some recipients are refused and others
accepted, the accepted ones have the email and the send is a
:class:`~service.providers.errors.MessageRejected` naming the refused ones.
The commands are said by :mod:`service.providers.smtp_dialogue`, which spares
aiosmtplib's second parse of each address and its regular-expression passes
over a message that is already CRLF throughout.

How failures map onto :mod:`service.providers.errors`:

================================================  ======================
SMTP 4xx (421, 450, 451, 452, 454 4.7.0 ...)       TransientError
dropped connection, connect or read timeout        TransientError
530, 534, 535 and any other refused login          ProviderUnavailable
``5.4.5`` (Gmail's daily sending quota)            ProviderUnavailable
connection refused, unreachable, TLS failure       ProviderUnavailable
other 5xx on MAIL FROM (the account's sender)      ProviderUnavailable
5xx on RCPT TO or DATA; 552 on MAIL FROM           MessageRejected
================================================  ======================
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Self

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPConnectResponseError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)

from service.config import ConfigError
from service.providers.base import Provider, SendResult, redact
from service.providers.catalog.smtp import SmtpSettings
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.smtp_dialogue import data, data_payload, mail_from, rcpt_to
from service.providers.smtp_pool import Connection, Lease, OpenFailed, PoolClosed, SmtpPool

if TYPE_CHECKING:
    from pydantic import SecretStr

    from service.config import Settings
    from service.message import OutgoingEmail

__all__ = ["SmtpProvider", "SmtpSecurity"]

SmtpSecurity = Literal["starttls", "tls", "none"]

_ENHANCED_STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
_DAILY_QUOTA = "5.4.5"
_LOGIN_REFUSED = frozenset({530, 534, 535})
_MESSAGE_TOO_BIG = 552
_SERVER_CLOSING = 421
_REPLY_LIMIT = 200
_PROTECTION = {"starttls": "STARTTLS", "tls": "TLS", "none": "no TLS"}
_SEVERITY: tuple[type[SendError], ...] = (ProviderUnavailable, MessageRejected, TransientError)
_STAGES: tuple[tuple[type[SMTPResponseException], str], ...] = (
    (SMTPConnectResponseError, "greeting"),
    (SMTPHeloError, "EHLO"),
    (SMTPAuthenticationError, "AUTH"),
    (SMTPSenderRefused, "MAIL FROM"),
    (SMTPRecipientRefused, "RCPT TO"),
    (SMTPDataError, "DATA"),
)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _stage(error: SMTPResponseException) -> str:
    return next((name for kind, name in _STAGES if isinstance(error, kind)), "command")


def _classify(error: SMTPResponseException) -> tuple[type[SendError], str]:
    """The kind of failure a reply means, and why, per the table in the module docstring."""
    code = error.code
    status = _ENHANCED_STATUS.search(error.message)
    if status is not None and status.group() == _DAILY_QUOTA:
        return ProviderUnavailable, "daily sending quota exceeded"
    if 400 <= code < 500:
        return TransientError, "temporary failure"
    if code in _LOGIN_REFUSED or isinstance(error, SMTPAuthenticationError):
        return ProviderUnavailable, "login refused"
    if isinstance(error, SMTPRecipientRefused | SMTPDataError):
        return MessageRejected, "email refused"
    if isinstance(error, SMTPSenderRefused):
        if code == _MESSAGE_TOO_BIG:
            return MessageRejected, "email too big"
        return ProviderUnavailable, "sender refused"
    return ProviderUnavailable, "server refused"


def _server_dropped(error: Exception) -> bool:
    if isinstance(error, SMTPServerDisconnected):
        return True
    return isinstance(error, SMTPResponseException) and error.code == _SERVER_CLOSING


class SmtpProvider(Provider):
    """Sends through one SMTP server with a small pool of logged-in connections."""

    declaration = SmtpSettings

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: SmtpSecurity = "starttls",
        username: str | None = None,
        password: SecretStr | None = None,
        timeout: float = 15.0,
        pool_size: int = 2,
        pool_idle_seconds: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security == "none" and not _is_loopback(host):
            raise ConfigError(
                f"SMTP_SECURITY: 'none' sends in plaintext, so SMTP_HOST must be a loopback "
                f"address, not {host!r}; use starttls or tls"
            )
        if security == "none" and password is not None:
            raise ConfigError(
                "EMAIL_PASSWORD: never sent without TLS; unset it or use SMTP_SECURITY=starttls"
            )
        self.host = host
        self.port = port
        self.security = security
        self.timeout = timeout
        self._username = username or ""
        self._password = password
        self._ssl_context = ssl_context
        self._local_hostname: str | None = None
        self.pool = SmtpPool(
            self._connect, size=pool_size, idle_seconds=pool_idle_seconds, quit_timeout=timeout
        )

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> Self:
        options: SmtpSettings = settings.provider_group(cls.name)  # type: ignore[assignment]
        return cls(
            options.host,
            options.port,
            security=options.security,
            username=str(options.username) if options.username else None,
            password=options.password,
            timeout=options.timeout,
            pool_size=options.pool_size,
            pool_idle_seconds=options.pool_idle_seconds,
        )

    async def open(self) -> None:
        if self.security != "none":
            await self._tls_context()

    async def close(self) -> None:
        await self.pool.close()

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        recipients = [address.addr_spec for address in email.to]
        if not recipients:
            raise MessageRejected("the email has no recipient", provider=self.name)
        message = email.to_bytes()
        async with self.pool.lease() as lease:
            refused = await self._transaction(lease, email.sender.addr_spec, recipients, message)
        if refused:
            details = "; ".join(f"{addr} ({self._reply(err)})" for addr, err in refused.items())
            raise MessageRejected(
                f"{len(refused)} of {len(recipients)} recipients refused, "
                f"the others accepted the email: {details}",
                provider=self.name,
                code=next(iter(refused.values())).code,
            )
        return SendResult(provider=self.name, message_id=email.message_id)

    async def probe(self) -> str:
        connection = await self._connect()
        try:
            await connection.smtp.noop()
            # QUIT is a courtesy: the login and NOOP already answered the question.
            with contextlib.suppress(SMTPException, OSError):
                await connection.smtp.quit()
        finally:
            connection.hang_up()
        done = "login accepted by" if self._password is not None else "connected to"
        return f"{done} {self.host}:{self.port} ({_PROTECTION[self.security]})"

    def secrets(self) -> Iterable[str]:
        return (self._password.get_secret_value(),) if self._password is not None else ()

    def translate(self, error: Exception) -> SendError:
        if isinstance(error, OpenFailed) and isinstance(error.__cause__, Exception):
            return self.translate(error.__cause__)
        if isinstance(error, PoolClosed):
            return ProviderUnavailable("the provider is closed", provider=self.name)
        if isinstance(error, SMTPRecipientsRefused):
            return self._all_refused(error)
        if isinstance(error, SMTPResponseException):
            return self._reply_error(error)
        if isinstance(error, TimeoutError):
            return TransientError(
                f"{self.host}:{self.port} did not answer within {self.timeout:g} s",
                provider=self.name,
            )
        tls_error = next((e for e in (error, error.__cause__) if isinstance(e, ssl.SSLError)), None)
        if tls_error is not None:
            reason = (
                getattr(tls_error, "verify_message", None)
                or getattr(tls_error, "reason", None)
                or "handshake failed"
            )
            return ProviderUnavailable(
                f"TLS with {self.host}:{self.port} failed: {reason}", provider=self.name
            )
        if isinstance(error, SMTPServerDisconnected):
            return TransientError(
                f"{self.host}:{self.port} closed the connection", provider=self.name
            )
        if isinstance(error, SMTPConnectError | ConnectionRefusedError):
            return ProviderUnavailable(
                f"cannot connect to {self.host}:{self.port}: {self._scrub(str(error))}",
                provider=self.name,
            )
        if isinstance(error, ConnectionError):
            return TransientError(
                f"connection to {self.host}:{self.port} lost: {type(error).__name__}",
                provider=self.name,
            )
        if isinstance(error, SMTPException | OSError):
            return ProviderUnavailable(self._scrub(str(error)), provider=self.name)
        return super().translate(error)

    async def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # Reads the trust store from disk, so off the event loop.
            self._ssl_context = await asyncio.to_thread(ssl.create_default_context)
        return self._ssl_context

    async def _connect(self) -> Connection:
        smtp = SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            local_hostname=self._local_hostname,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            tls_context=await self._tls_context() if self.security != "none" else None,
        )
        await smtp.connect()
        connection = Connection(smtp)
        try:
            # After STARTTLS the server's extensions must be asked for again (RFC 3207).
            await smtp.ehlo()
            if self._password is not None:
                await self._login(smtp, self._password.get_secret_value())
        except BaseException:
            connection.hang_up()
            raise
        self._local_hostname = smtp.local_hostname
        return connection

    async def _login(self, smtp: SMTP, password: str) -> None:
        if "plain" in smtp.server_auth_methods:
            await smtp.auth_plain(self._username, password)
        elif "login" in smtp.server_auth_methods:
            await smtp.auth_login(self._username, password)
        else:
            raise SMTPException("the server offers neither AUTH PLAIN nor AUTH LOGIN")

    async def _transaction(
        self, lease: Lease, sender: str, recipients: list[str], message: bytes
    ) -> dict[str, SMTPRecipientRefused]:
        try:
            await mail_from(lease.smtp, sender, message)
        except (SMTPServerDisconnected, SMTPResponseException) as err:
            # A server closes connections it finds idle (Gmail says 421 and hangs
            # up). Nothing was accepted yet, so a fresh connection may take over.
            if not (lease.reused and _server_dropped(err)):
                raise
            await lease.reconnect()
            await mail_from(lease.smtp, sender, message)
        refused: dict[str, SMTPRecipientRefused] = {}
        for recipient in recipients:
            try:
                await rcpt_to(lease.smtp, recipient)
            except SMTPRecipientRefused as err:
                refused[recipient] = err
        if len(refused) == len(recipients):
            raise SMTPRecipientsRefused(list(refused.values()))
        # OutgoingEmail.to_bytes ends every line in CRLF and has no other CR or LF.
        await data(lease.smtp, data_payload(message, crlf=True))
        return refused

    def _reply_error(self, error: SMTPResponseException) -> SendError:
        kind, reason = _classify(error)
        where = f"{_stage(error)} answered {self._reply(error)}"
        return kind(f"{reason}; {where}", provider=self.name, code=error.code)

    def _all_refused(self, error: SMTPRecipientsRefused) -> SendError:
        verdicts = [(*_classify(refusal), refusal.code) for refusal in error.recipients]
        # Nothing was accepted, so the refusal that leaves the least hope decides.
        kind, reason, code = min(verdicts, key=lambda verdict: _SEVERITY.index(verdict[0]))
        details = "; ".join(f"{r.recipient} ({self._reply(r)})" for r in error.recipients)
        return kind(f"{reason}; every recipient refused: {details}", provider=self.name, code=code)

    def _reply(self, error: SMTPResponseException) -> str:
        text = " ".join(error.message.split())
        return self._scrub(f"{error.code} {text}")[:_REPLY_LIMIT]

    def _scrub(self, text: str) -> str:
        # Before any cut to length, so no part of the password survives it.
        return redact(text, self.secrets())
