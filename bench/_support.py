"""What the benchmarks share: the SMTP server in a child process, CPU time and peak memory.

A module whose name starts with ``_``, so ``make bench`` does not run it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Self

import trustme

from tests.smtp_server import SmtpServer

__all__ = ["SmtpChild", "cpu_seconds", "cpu_split", "peak_rss_mb"]


def serve_smtp(certificate: trustme.LeafCert, delay: float, conn: Connection) -> None:
    """Child process: run the SMTP server, report its port, answer message counts until told."""
    # aiosmtpd logs a deprecation notice on every successful login.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    with SmtpServer(certificate, data_delay=delay) as server:
        conn.send(server.port)
        while conn.recv() == "count":
            conn.send(len(server.messages))


class SmtpChild:
    """The SMTP server in its own process; :meth:`count` asks how many messages it has."""

    def __init__(self, certificate: trustme.LeafCert, delay: float) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=serve_smtp, args=(certificate, delay, child), daemon=True
        )
        self.port = 0

    def __enter__(self) -> Self:
        self._process.start()
        self.port = self._conn.recv()
        return self

    @property
    def pid(self) -> int:
        """The server process, for its CPU time."""
        pid = self._process.pid
        if pid is None:
            raise RuntimeError("the SMTP server is not running")
        return pid

    def count(self) -> int:
        """Messages the server has accepted so far."""
        self._conn.send("count")
        return self._conn.recv()

    def __exit__(self, *exc_info: object) -> None:
        self._conn.send("stop")
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (``/proc/PID/stat``)."""
    user, system = cpu_split(pids)
    return user + system


def cpu_split(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds the processes have used so far, apart."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in pids:
        # After the command name in parentheses: state is field 3, utime 14, stime 15.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / ticks, system / ticks


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")
