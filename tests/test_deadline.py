"""REQUEST_DEADLINE_SECONDS: a client that trickles its request is cut off, however steadily.

Against a real ``python -m service`` over a raw socket: Sanic's own timeouts
restart with every byte, so a byte a quarter-second keeps them at bay forever.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import ServiceProcess, service_process

pytestmark = pytest.mark.slow

DEADLINE = 2.0
# How long past the deadline the answer may take on a busy machine.
SLACK = 3.0
BODY = b'{"name": "Zoe", "email": "zoe@example.org", "message": "Hello"}'
HEAD = (
    b"POST /api/contact HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY)
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder: Path = tmp_path_factory.mktemp("deadline")
    env = {"REQUEST_DEADLINE_SECONDS": str(DEADLINE), "CONTACT_RATE_LIMIT": "off"}
    with service_process(folder, env, timeout=60) as running:
        yield running


def trickle(port: int, prefix: bytes, data: bytes, pause: float) -> tuple[float, bytes]:
    """Send ``prefix`` at once, then ``data`` a byte every ``pause`` seconds until an answer.

    Returns the seconds from the first byte to the answer (or to giving up,
    past the deadline and its slack) and what was answered.
    """
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.settimeout(pause)
        started = time.monotonic()
        connection.sendall(prefix)
        for byte in data:
            try:
                connection.sendall(bytes([byte]))
                answer = connection.recv(65536)
            except TimeoutError:
                if time.monotonic() - started > DEADLINE + SLACK:
                    break
                continue
            except OSError:
                answer = b""
            return time.monotonic() - started, answer
        return time.monotonic() - started, b""


def test_a_head_trickled_a_byte_at_a_time_gets_a_408_at_the_deadline(
    service: ServiceProcess,
) -> None:
    elapsed, answer = trickle(service.port, b"", HEAD, pause=0.25)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"The request took too long to arrive." in answer
    assert DEADLINE <= elapsed < DEADLINE + SLACK


def test_a_body_trickled_a_byte_at_a_time_gets_a_408_at_the_deadline(
    service: ServiceProcess,
) -> None:
    elapsed, answer = trickle(service.port, HEAD, BODY, pause=0.25)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert DEADLINE <= elapsed < DEADLINE + SLACK


def test_the_deadline_counts_each_request_not_the_connection(service: ServiceProcess) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as connection:
        for _ in range(2):
            connection.sendall(HEAD + BODY)
            answer = connection.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            # Idle between requests on a kept-alive connection longer than the deadline.
            time.sleep(DEADLINE + 0.5)
