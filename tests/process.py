"""Run ``python -m service`` as a real process for end-to-end tests and benchmarks.

The service runs in a session of its own, so that :meth:`ServiceProcess.kill`
can ``kill -9`` Sanic's main process and its worker processes at once (as the
OOM killer or ``systemctl kill -s KILL`` would), and so that no worker outlives
the test. It imports ``service`` from this checkout, whatever is installed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

import httpx

__all__ = [
    "ROOT",
    "Launch",
    "ServiceProcess",
    "free_port",
    "run_command",
    "running_service",
    "service_process",
    "wait_for",
]

ROOT = Path(__file__).resolve().parent.parent
"""The checkout the service under test is imported from."""


def run_command(
    cwd: Path,
    env: Mapping[str, str],
    *args: str,
    timeout: float = 120,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m service ARGS`` from this checkout, with only ``env`` set; never raises.

    ``prefix`` runs it through another command (``unshare ...``). The command
    gets a session of its own: Sanic kills its process group when a worker dies
    at startup, which must not be the test's.
    """
    return subprocess.run(
        [*prefix, sys.executable, "-m", "service", *args],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=True,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """One ``python -m service`` in ``cwd``, logging to ``cwd/service.log`` (appended).

    ``env`` is the whole environment besides ``PATH``, ``HOST`` and ``PORT``:
    nothing leaks in from the developer's shell. ``arguments`` replace
    ``-m service`` to run another server that answers ``GET /api/health``.
    """

    def __init__(
        self,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        *,
        arguments: Sequence[str] = ("-m", "service"),
    ) -> None:
        self.cwd = cwd
        self.arguments = list(arguments)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            **(env or {}),
        }
        self.log_path = cwd / "service.log"
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The main (Sanic manager) process id."""
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self, *, timeout: float = 30.0) -> None:
        """Start the service; return once ``/api/health`` answers 200.

        On failure the process is left for :meth:`stop`, which the caller owes anyway.
        """
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, *self.arguments],
            cwd=self.cwd,
            env=self.environment,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"service exited: {self.log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        """The Sanic worker processes: children of the main process that serve requests."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        workers = []
        for child in children:
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            # Sanic names each worker in its environment; its shared-state manager
            # and the multiprocessing resource tracker are children too, unnamed.
            if any(item.startswith(b"SANIC_WORKER_NAME=Sanic-Server-") for item in environ):
                workers.append(int(child))
        return workers

    def kill(self) -> None:
        """``kill -9`` the main process and every worker at once; nothing gets to clean up."""
        if self._process is None:
            return
        self._kill_group()

    def stop(self, *, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (Sanic's graceful shutdown); then kill whatever is left.

        Returns the main process's exit code (``None`` if it had to be killed).
        """
        if self._process is None:
            return None
        code: int | None = None
        if self._process.poll() is None:
            self._process.terminate()
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        # A worker must never outlive its test, even if the main process died first.
        self._kill_group()
        return code

    def _kill_group(self) -> None:
        assert self._process is not None
        with suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self._close_log()

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()


Launch = Callable[[Path, Mapping[str, str]], ServiceProcess]
"""Starts a :class:`ServiceProcess` in a directory with an environment (a fixture's factory)."""


@contextmanager
def service_process(
    cwd: Path, env: Mapping[str, str] | None = None, *, timeout: float = 30.0
) -> Iterator[ServiceProcess]:
    """A started :class:`ServiceProcess`, stopped (and its group killed) on exit."""
    service = ServiceProcess(cwd, env)
    try:
        service.start(timeout=timeout)
        yield service
    finally:
        service.stop()


@contextmanager
def running_service(
    cwd: Path, env: Mapping[str, str] | None = None, *, timeout: float = 30.0
) -> Iterator[str]:
    """Start ``python -m service`` in ``cwd``; yield its base URL once /api/health answers."""
    with service_process(cwd, env, timeout=timeout) as service:
        yield service.base_url


def wait_for(
    condition: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
