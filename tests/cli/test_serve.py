"""``python -m service`` that cannot start: one line on stderr naming the setting, exit 2.

Each case runs the real command. Some are found before Sanic starts a worker
(settings, providers' settings, the database URL, the port); the rest only a
worker finds when it opens the database, and must end the same way instead of
a traceback and Sanic killing its own process group (exit 137).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from service.outbox import open_store
from tests.process import free_port, run_command

pytestmark = pytest.mark.slow

PLAINTEXT_SMTP = {
    "EMAIL_PROVIDERS": "smtp",
    "EMAIL_ADDRESS": "me@example.com",
    "SMTP_SECURITY": "none",
}


def serve(
    cwd: Path, env: dict[str, str], prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """``python -m service`` on a free port, with ``env``; returns once it has exited."""
    return run_command(cwd, {"PORT": str(free_port()), **env}, prefix=prefix)


def assert_one_line(result: subprocess.CompletedProcess[str], reason: str) -> None:
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"service: cannot start: {reason}"), line


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {**PLAINTEXT_SMTP, "SMTP_HOST": "127.0.0.1", "EMAIL_PASSWORD": "secret"},
            "EMAIL_PASSWORD: never sent without TLS",
        ),
        ({**PLAINTEXT_SMTP, "SMTP_HOST": "smtp.example.com"}, "SMTP_SECURITY: 'none' sends in"),
        ({"DATABASE_URL": "sqlite:///"}, "DATABASE_URL: the outbox needs a file"),
        ({"EMAIL_FROM_NAME": "Example\r\nBcc: x@example.net"}, "EMAIL_FROM_NAME: must be a single"),
        ({"HOST": "no-such-host.invalid"}, "HOST: cannot listen on 'no-such-host.invalid'"),
    ],
    ids=["smtp-password", "smtp-remote-host", "sqlite-no-file", "from-name-crlf", "unknown-host"],
)
def test_a_setting_that_cannot_work_is_one_line_before_any_worker(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    assert_one_line(serve(tmp_path, env), reason)


def test_a_port_in_use_is_one_line_naming_the_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_command(tmp_path, {"HOST": "127.0.0.1", "PORT": str(port)})
    assert_one_line(result, f"PORT: cannot listen on port {port}: Address already in use")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_file_that_is_not_a_database_is_one_line_from_the_worker(
    tmp_path: Path, workers: str
) -> None:
    not_a_database = tmp_path / "outbox.db"
    not_a_database.write_text("name,email\nZoe,zoe@example.org\n")
    result = serve(tmp_path, {"DATABASE_URL": f"sqlite:///{not_a_database}", "WORKERS": workers})
    assert_one_line(result, f"DATABASE_URL: cannot use {not_a_database}: file is not a database")


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1:{port}", "[Errno 111] Connection refused"),
        ("no-such-host.invalid", ""),
    ],
    ids=["refused", "unknown-host"],
)
def test_an_unreachable_postgresql_is_one_line_from_the_worker(
    tmp_path: Path, host: str, reason: str
) -> None:
    url = f"postgresql://postgres@{host.format(port=free_port())}/test"
    result = serve(tmp_path, {"DATABASE_URL": url})
    assert_one_line(result, f"DATABASE_URL: cannot connect to PostgreSQL: {reason}")


def test_the_delivery_process_that_cannot_open_the_outbox_is_one_line(tmp_path: Path) -> None:
    # ``python -m service worker`` serves in one process: no pipe, no manager.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    result = run_command(tmp_path, {"PORT": str(free_port()), "DATABASE_URL": url}, "worker")
    assert_one_line(result, "DATABASE_URL: cannot connect to PostgreSQL: [Errno 111]")


def test_an_email_folder_that_cannot_be_created_is_one_line_from_the_worker(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("")
    result = serve(tmp_path, {"EMAIL_FILE_DIR": str(tmp_path / "a-file" / "mail")})
    assert_one_line(result, f"EMAIL_FILE_DIR: cannot create {tmp_path / 'a-file' / 'mail'}")


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], list[str]]]:
    """Makes a folder read-only to the service; returns the prefix to run the service with.

    As root, permissions do not stop a write: the folder is bind-mounted
    read-only in a user and mount namespace of the command's own.
    """
    changed: list[Path] = []

    def make(folder: Path) -> list[str]:
        if os.geteuid() != 0:
            folder.chmod(0o555)
            changed.append(folder)
            return []
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
        prefix = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script]
        prefix.append(str(folder))
        if shutil.which("unshare") is None or subprocess.run([*prefix, "true"]).returncode:
            pytest.skip("cannot mount a read-only folder here")
        return prefix

    yield make
    for folder in changed:
        folder.chmod(0o755)


async def create_outbox(url: str) -> None:
    async with open_store(url):
        pass


@pytest.mark.parametrize("existing", [False, True], ids=["new-database", "existing-database"])
def test_a_read_only_database_folder_is_one_line_from_the_worker(
    tmp_path: Path, read_only: Callable[[Path], list[str]], existing: bool
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    url = f"sqlite:///{folder / 'outbox.db'}"
    if existing:
        # Made before the folder became read-only (a volume remounted, a restored backup).
        asyncio.run(create_outbox(url))
    result = serve(tmp_path, {"DATABASE_URL": url}, prefix=read_only(folder))
    assert_one_line(result, "DATABASE_URL: cannot ")
