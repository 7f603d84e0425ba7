"""MAIL FROM, RCPT TO and DATA on an open aiosmtplib session, for messages we wrote ourselves.

aiosmtplib 5.1's ``mail()`` and ``rcpt()`` parse each address again with
``email.utils.parseaddr`` (about 25 us each), and its ``data()`` runs two
regular expressions over the whole message, one turning lone CR and LF into
CRLF and one doubling each line's leading dot (about 0.3 ms each for a 25 kB
message). :meth:`~service.message.OutgoingEmail.to_bytes` already writes CRLF
line endings only, and the addresses were validated long before; so here:

* a plain ``local@domain`` address goes on the command line as it is, and any
  other through aiosmtplib's own ``quote_address`` (its parsing and its checks);
* :func:`data_payload` checks the line endings with C-speed ``bytes.count``
  and only then dot-stuffs with ``bytes.replace``; a message with a lone CR or
  LF is normalised as aiosmtplib would (slowly), so none ever reaches the wire.
  The check (three passes over the message, about 35 us for 25 kB) is skipped
  for bytes written by :meth:`~service.message.OutgoingEmail.to_bytes`, whose
  every line ends in CRLF by construction (``crlf=True``);
* each command is written with the protocol's ``write`` and its reply read with
  ``read_response``, the calls ``SMTP.execute_command`` ends in, without its
  two layers of coroutines and its lock (a pooled connection carries one send
  at a time); as it does, a lost connection or a read timeout closes the
  session, and so does a 421. :func:`data` sends the payload the same way, as
  ``SMTPProtocol.execute_data_command`` does.

Replies and exceptions are those of aiosmtplib's own methods, so
:meth:`~service.providers.smtp.SmtpProvider.translate` reads them the same way.
"""

from __future__ import annotations

import re

from aiosmtplib import (
    SMTP,
    SMTPDataError,
    SMTPRecipientRefused,
    SMTPResponse,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPStatus,
    SMTPTimeoutError,
)
from aiosmtplib.email import quote_address

__all__ = ["data", "data_payload", "envelope_address", "mail_from", "rcpt_to"]

# Dot-atoms around one "@", ASCII only: what validated addresses are. Nothing in
# it can end a command or start an ESMTP parameter (no space, "<", ">" or control).
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
_LINE_ENDING = re.compile(rb"\r\n|\r|\n")
# What aiosmtplib refuses in a command's arguments (its COMMAND_INJECTION_REGEX).
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_RECIPIENT_ACCEPTED = frozenset({SMTPStatus.completed, SMTPStatus.will_forward})


def envelope_address(address: str) -> bytes:
    """``<local@domain>`` for MAIL FROM or RCPT TO.

    Anything but a plain ASCII address goes through aiosmtplib's parser, which
    raises :class:`ValueError` for what cannot be sent on a command line (and
    :class:`UnicodeEncodeError` for non-ASCII: the messages are 7-bit, no SMTPUTF8).
    """
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>".encode("ascii")
    return quote_address(address).encode("ascii")


async def mail_from(smtp: SMTP, sender: str, message: bytes) -> None:
    """``MAIL FROM`` with ``SIZE`` (an oversized message is refused before it is uploaded).

    ``BODY=8BITMIME`` only for a message that is not 7-bit, which
    :meth:`~service.message.OutgoingEmail.to_bytes` never writes.
    """
    options: list[bytes] = []
    if smtp.supports_extension("size"):
        options.append(b"SIZE=%d" % len(message))
    if not message.isascii() and smtp.supports_extension("8bitmime"):
        options.append(b"BODY=8BITMIME")
    response = await _command(smtp, b"MAIL", b"FROM:" + envelope_address(sender), *options)
    if response.code != SMTPStatus.completed:
        raise SMTPSenderRefused(response.code, response.message, sender)


async def rcpt_to(smtp: SMTP, recipient: str) -> None:
    """``RCPT TO``; raises :class:`SMTPRecipientRefused` unless it is 250 or 251."""
    response = await _command(smtp, b"RCPT", b"TO:" + envelope_address(recipient))
    if response.code not in _RECIPIENT_ACCEPTED:
        raise SMTPRecipientRefused(response.code, response.message, recipient)


def data_payload(message: bytes, *, crlf: bool = False) -> bytes:
    """``message`` as it follows ``DATA``: CRLF line endings, dot-stuffed, ending ``.CRLF``.

    ``crlf``: the caller knows that every CR and LF of ``message`` is part of a CRLF.
    """
    if not crlf:
        pairs = message.count(b"\r\n")
        if message.count(b"\r") != pairs or message.count(b"\n") != pairs:
            message = _LINE_ENDING.sub(b"\r\n", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def data(smtp: SMTP, payload: bytes) -> None:
    """``DATA``, then ``payload`` from :func:`data_payload`; raises :class:`SMTPDataError`."""
    start = await _command(smtp, b"DATA")
    if start.code != SMTPStatus.start_input:
        raise SMTPDataError(start.code, start.message)
    response = await _exchange(smtp, payload)
    if response.code != SMTPStatus.completed:
        raise SMTPDataError(response.code, response.message)


async def _command(smtp: SMTP, *args: bytes) -> SMTPResponse:
    """One command and its reply, as ``SMTP.execute_command`` says it (see module doc)."""
    for arg in args:
        if _CONTROL.search(arg):
            raise ValueError("Command arg contains a prohibited control character")
    response = await _exchange(smtp, b" ".join(args) + b"\r\n")
    if response.code == SMTPStatus.domain_unavailable:
        # As aiosmtplib: a server that says it is closing the session is left.
        smtp.close()
    return response


async def _exchange(smtp: SMTP, data: bytes) -> SMTPResponse:
    """Write ``data`` and read the reply; a lost or out-of-step connection is closed."""
    protocol = smtp.protocol
    if protocol is None:
        raise SMTPServerDisconnected("Server not connected")
    try:
        # No await between the write and read_response, which expects the
        # answer before any of it can arrive (as execute_command does).
        protocol.write(data)
        return await protocol.read_response(timeout=smtp.timeout)
    except (SMTPServerDisconnected, SMTPTimeoutError):
        # As SMTP.execute_command: a connection out of step with its replies is closed.
        smtp.close()
        raise
