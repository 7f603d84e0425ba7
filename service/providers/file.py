"""The ``file`` provider: each email becomes a complete RFC 5322 ``.eml`` file.

The embedded default in development: nothing leaves the machine, and any mail
client opens the files. Files are written to a temporary name and renamed, so a
reader never sees half an email.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Self

from service.config import ConfigError
from service.providers.base import Provider, SendResult
from service.providers.catalog.file import FileSettings
from service.providers.errors import ProviderUnavailable, SendError

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail

__all__ = ["FileProvider"]


class FileProvider(Provider):
    """Writes ``<timestamp>-<kind>-<id>.eml`` files under ``EMAIL_FILE_DIR``."""

    declaration = FileSettings

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> Self:
        options: FileSettings = settings.provider_group(cls.name)  # type: ignore[assignment]
        return cls(options.directory)

    async def open(self) -> None:
        try:
            await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        except OSError as err:
            # The folder is the setting's to get right: one line at startup, not a send error.
            raise ConfigError(
                f"EMAIL_FILE_DIR: cannot create {self.directory}: {err.strerror or err}"
            ) from err

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        local_id = email.message_id.strip("<>").split("@", 1)[0]
        stem = f"{email.date:%Y%m%dT%H%M%S}-{email.kind}-{local_id}"
        await asyncio.to_thread(self._write, stem, email.to_bytes())
        return SendResult(provider=self.name, message_id=stem)

    async def probe(self) -> str:
        await asyncio.to_thread(self._try_writing)
        return f"{self.directory} is writable"

    def _try_writing(self) -> None:
        # Permissions alone do not say it (read-only mounts, full disks): write a file.
        with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".check-"):
            pass

    def _write(self, stem: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".{stem}.tmp"
        partial.write_bytes(data)
        os.replace(partial, self.directory / f"{stem}.eml")

    def translate(self, error: Exception) -> SendError:
        if isinstance(error, ConfigError):
            # From open(), through `check`: a FAIL line there, one line at startup for serve.
            return ProviderUnavailable(str(error), provider=self.name, code=None)
        if isinstance(error, OSError):
            return ProviderUnavailable(
                f"cannot write to {self.directory}: {error.strerror or error}",
                provider=self.name,
                code=error.errno,
            )
        return super().translate(error)
