"""A real SMTP server for tests and benchmarks: aiosmtpd with TLS, AUTH and injectable faults.

The server runs in its own thread and event loop (aiosmtpd's ``Controller``) on
127.0.0.1 and a free port (or a given one). It speaks STARTTLS (required before
anything else), implicit TLS, or plaintext; it checks one username and password;
it records every message it accepts; and a test can make it refuse, stall, hang
up, take its time over each message, or hold its answers to DATA until released.

Use it from a conftest, e.g.::

    @pytest.fixture
    def smtp_server(smtp_certificate: trustme.LeafCert) -> Iterator[SmtpServer]:
        with SmtpServer(smtp_certificate) as server:
            yield server

and give clients ``ca_client_context(ca)`` (from trustme's CA) as their trust.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any, Literal, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = [
    "PASSWORD",
    "USERNAME",
    "Authenticator",
    "ReceivedMessage",
    "RecordingHandler",
    "SmtpServer",
    "ca_client_context",
    "server_context",
]

USERNAME = "owner@example.com"
PASSWORD = "abcdefghijklmnop"

ServerTls = Literal["starttls", "implicit", "none"]


def server_context(certificate: trustme.LeafCert) -> ssl.SSLContext:
    """A server-side TLS context presenting ``certificate``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    return context


def ca_client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts only ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted email: its envelope, the bytes after DATA and the MAIL FROM parameters."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...] = ()

    def parsed(self) -> EmailMessage:
        """The message parsed back with the standard library."""
        message = BytesParser(policy=default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message


class Authenticator:
    """Accepts one username and password and counts every AUTH attempt."""

    def __init__(self, username: str, password: str) -> None:
        self._expected = LoginPassword(username.encode(), password.encode())
        self.attempts = 0
        self.successes = 0

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator hook."""
        self.attempts += 1
        if auth_data == self._expected:
            self.successes += 1
            return AuthResult(success=True)
        # handled=False makes aiosmtpd answer "535 5.7.8" itself instead of waiting for us.
        return AuthResult(success=False, handled=False)


class RecordingHandler:
    """aiosmtpd handler: records accepted messages; replies, refuses or stalls on request.

    Configure it from the test's thread before sending; it runs in the server's thread.
    ``data_delay`` is how long each DATA takes before it is answered (a distant server).
    """

    def __init__(self, *, data_delay: float = 0.0) -> None:
        self.messages: list[ReceivedMessage] = []
        self.noops = 0
        self.quits = 0
        self.held = 0
        self.data_delay = data_delay
        self._replies: defaultdict[str, deque[str]] = defaultdict(deque)
        self._refused: dict[str, str] = {}
        self._stalled: set[str] = set()
        self._gate: asyncio.Event | None = None

    def reply_once(self, command: str, reply: str) -> None:
        """Answer the next ``command`` (``MAIL``, ``RCPT`` or ``DATA``) with ``reply``."""
        self._replies[command].append(reply)

    def refuse(self, address: str, reply: str) -> None:
        """Always answer ``RCPT TO:<address>`` with ``reply``."""
        self._refused[address] = reply

    def stall(self, command: str) -> None:
        """Never answer ``command``; the wait ends when the client or the server hangs up."""
        self._stalled.add(command)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept the sender unless told otherwise."""
        reply = await self._intervene("MAIL")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept the recipient unless told otherwise."""
        reply = await self._intervene("RCPT") or self._refused.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Record the message unless told otherwise; while held, withhold the answer."""
        reply = await self._intervene("DATA")
        if reply is not None:
            return reply
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        assert envelope.mail_from is not None
        assert isinstance(envelope.content, bytes)
        self.messages.append(
            ReceivedMessage(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                envelope.content,
                tuple(envelope.mail_options),
            )
        )
        gate = self._gate
        if gate is not None:
            # Recorded but unanswered: the client cannot know the message arrived.
            self.held += 1
            await gate.wait()
        return "250 2.0.0 OK queued"

    async def hold(self) -> None:
        """From now on, record each message but answer DATA only at :meth:`release`."""
        if self._gate is None:
            self._gate = asyncio.Event()

    async def release(self) -> None:
        """Answer every held DATA and stop holding."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    async def handle_NOOP(
        self, server: SMTP, session: Session, envelope: Envelope, arg: str
    ) -> str:
        """Count NOOPs (``check`` says one after logging in)."""
        self.noops += 1
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Count polite goodbyes."""
        self.quits += 1
        return "221 2.0.0 Bye"

    async def _intervene(self, command: str) -> str | None:
        if command in self._stalled:
            await asyncio.Event().wait()
        replies = self._replies[command]
        return replies.popleft() if replies else None


class _TrackedSMTP(SMTP):
    """aiosmtpd's protocol, reporting each closed connection to ``on_lost``."""

    def __init__(self, handler: RecordingHandler, on_lost: Callable[[], None], **kwargs: Any):
        super().__init__(handler, **kwargs)
        self._on_lost = on_lost

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._on_lost()


class _Controller(Controller):
    """Tracks each connection and binds a free port chosen by the OS."""

    def __init__(self, handler: RecordingHandler, *, port: int, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port, **kwargs)
        self.sessions: list[SMTP] = []
        self.closed = threading.Condition()
        self.disconnects = 0

    def factory(self) -> SMTP:
        session = _TrackedSMTP(self.handler, self._lost, **self.SMTP_kwargs)
        self.sessions.append(session)
        return session

    def _lost(self) -> None:
        with self.closed:
            self.disconnects += 1
            self.closed.notify_all()

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    async def hang_up(self, *, abort: bool) -> None:
        """Close every open connection (``abort``: without TLS close_notify); server loop only."""
        for session in self.sessions:
            if session.transport is not None:
                if abort:
                    session.transport.abort()
                else:
                    session.transport.close()
        # One turn of the loop lets the transports deliver connection_lost and free their sockets.
        await asyncio.sleep(0)


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 (see the module docstring); a context manager.

    ``port`` 0 lets the OS choose. ``data_delay`` seconds pass before each DATA is answered.
    """

    def __init__(
        self,
        certificate: trustme.LeafCert | None,
        *,
        tls: ServerTls = "starttls",
        auth: bool = True,
        username: str = USERNAME,
        password: str = PASSWORD,
        port: int = 0,
        data_delay: float = 0.0,
    ) -> None:
        if tls != "none" and certificate is None:
            raise ValueError("TLS needs a certificate")
        self.handler = RecordingHandler(data_delay=data_delay)
        self.authenticator = Authenticator(username, password)
        kwargs: dict[str, Any] = {"server_hostname": "mx.example.test"}
        if auth:
            kwargs["authenticator"] = self.authenticator
        if tls == "starttls":
            assert certificate is not None
            kwargs |= {
                "tls_context": server_context(certificate),
                "require_starttls": True,
                "auth_required": auth,
            }
        elif tls == "implicit":
            assert certificate is not None
            # aiosmtpd counts only STARTTLS as TLS for AUTH; here the socket is TLS from the start.
            kwargs |= {"ssl_context": server_context(certificate), "auth_require_tls": False}
        else:
            kwargs["auth_require_tls"] = False
        self._controller = _Controller(self.handler, port=port, **kwargs)
        self._first_session = 0
        self._first_disconnect = 0

    @property
    def host(self) -> str:
        """The address to connect to."""
        return self._controller.hostname

    @property
    def port(self) -> int:
        """The port the OS chose."""
        return self._controller.port

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every message accepted so far, in order."""
        return self.handler.messages

    @property
    def logins(self) -> int:
        """AUTH attempts so far, successful or not."""
        return self.authenticator.attempts

    @property
    def connections(self) -> int:
        """Connections accepted so far (the controller's own start-up probe excluded)."""
        return len(self._controller.sessions) - self._first_session

    def start(self) -> None:
        """Listen; returns when the server answers."""
        self._controller.start()
        # start() opens one probe connection; wait for it to end so counts start clean.
        if not self.wait_for_disconnects(1, timeout=5):
            raise RuntimeError("the SMTP server's start-up probe connection did not end")
        self._first_session = len(self._controller.sessions)
        self._first_disconnect = self._controller.disconnects

    def stop(self) -> None:
        """Hang up on every client and stop the server's thread."""
        self._run_in_server(self._controller.hang_up(abort=True))
        self._controller.stop()

    @property
    def held(self) -> int:
        """Messages recorded while holding, whose DATA was not answered when they came."""
        return self.handler.held

    def hold(self) -> None:
        """Record messages but keep their DATA unanswered until :meth:`release`."""
        self._run_in_server(self.handler.hold())

    def release(self) -> None:
        """Answer the held DATA commands and stop holding."""
        self._run_in_server(self.handler.release())

    def drop_connections(self) -> None:
        """Hang up on every client now, as a server closing idle connections does."""
        self._run_in_server(self._controller.hang_up(abort=False))

    def wait_for_disconnects(self, count: int, *, timeout: float) -> bool:
        """Block until ``count`` connections have ended (since start); False on timeout."""
        controller = self._controller
        with controller.closed:
            return controller.closed.wait_for(
                lambda: controller.disconnects - self._first_disconnect >= count, timeout
            )

    def _run_in_server(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._controller.loop).result(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
