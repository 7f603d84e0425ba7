"""Stored email bodies, compressed against a sample of their kind: 0.1-0.4 kB, not 15-24.

A contact-form email is mostly its template: the notification's HTML is 22 kB
of compiled MJML around a few hundred bytes of submission, and the store kept
all of it for every email until retention (about 42 kB per lead). So each
email's payload (its :meth:`~service.message.OutgoingEmail.to_dict` JSON) is
stored as a Zstandard frame compressed against a *dictionary*: the same kind of
email rendered with sample data, which the app passes in as ``samples``. What
the email shares with the sample costs almost nothing: a notification takes
about 0.4 kB and a confirmation 0.13 kB, and the exact email (same bytes, same
Message-ID) comes back for every attempt, re-queue and resend, without the
templates. Compressing without a dictionary leaves 2.7 kB; zlib with the same
dictionary is as small but takes about 0.2 ms per email on the answer path,
Zstandard about 15 µs (``compression.zstd``, or its backport before 3.14).

Each dictionary is stored once, in ``email_dictionaries``, under the hash of its
bytes, and an email names the one it needs: it stays readable by every process
and after the templates change. A sample holds no visitor's data (the templates'
sample submission), so dictionaries are not personal data and are never purged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

try:  # Python 3.14 and later
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:
    from backports import zstd

from service.outbox.models import dump_json_bytes, load_json

if TYPE_CHECKING:
    from service.message import OutgoingEmail

__all__ = ["PackedEmail", "Packer", "StoredEmail", "dictionary_id"]

# Level 1: against a dictionary, higher levels save a few dozen bytes for 3x the time.
LEVEL = 1


def dictionary_id(data: bytes) -> str:
    """The name a dictionary is stored under: a hash of its bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class PackedEmail:
    """What the store writes for one email: the compressed payload and its dictionary's id."""

    data: bytes
    dictionary_id: str | None


@dataclass(frozen=True, slots=True)
class StoredEmail:
    """One stored email as read back: decoded only when it is sent.

    ``data`` is a Zstandard frame (with ``dictionary`` when it was compressed
    against one), or, for an email stored before bodies were compressed, its
    JSON text with ``packed`` false.
    """

    data: bytes | str
    dictionary: zstd.ZstdDict | None = None
    packed: bool = True

    def email(self) -> OutgoingEmail:
        """The email exactly as it was rendered; raises if the stored bytes are damaged."""
        from service.message import OutgoingEmail

        payload = self.data
        if self.packed:
            payload = zstd.decompress(payload, zstd_dict=self.dictionary)
        return OutgoingEmail.from_dict(load_json(payload))


class Packer:
    """Compresses payloads against their kind's sample; decompresses with any known dictionary.

    ``samples`` maps a kind (``notification``...) to an email of that kind;
    a kind without one is compressed alone. Dictionaries read back from the
    database are added with :meth:`learn`.
    """

    def __init__(self, samples: Mapping[str, OutgoingEmail] | None = None) -> None:
        self.dictionaries: dict[str, zstd.ZstdDict] = {}
        self._compressors: dict[str, tuple[str, zstd.ZstdCompressor]] = {}
        for kind, sample in (samples or {}).items():
            data = dump_json_bytes(sample.to_dict())
            name = self.learn(dictionary_id(data), data)
            compressor = zstd.ZstdCompressor(
                level=LEVEL, zstd_dict=self.dictionaries[name].as_digested_dict
            )
            self._compressors[kind] = (name, compressor)
        self._plain = zstd.ZstdCompressor(level=LEVEL)

    @property
    def samples(self) -> dict[str, bytes]:
        """Every dictionary the samples made, by id, for the store to keep."""
        names = [name for name, _ in self._compressors.values()]
        return {name: self.dictionaries[name].dict_content for name in names}

    def learn(self, name: str, data: bytes) -> str:
        """Know the dictionary ``data`` (stored as ``name``) from now on."""
        if name not in self.dictionaries:
            self.dictionaries[name] = zstd.ZstdDict(data, is_raw=True)
        return name

    def pack(self, email: OutgoingEmail) -> PackedEmail:
        """``email``'s payload, compressed against its kind's sample if there is one."""
        name, compressor = self._compressors.get(email.kind, (None, self._plain))
        payload = dump_json_bytes(email.to_dict())
        return PackedEmail(compressor.compress(payload, zstd.ZstdCompressor.FLUSH_FRAME), name)

    def stored(self, data: bytes, name: str | None) -> StoredEmail:
        """A packed body read back; :meth:`learn` its dictionary first (``KeyError`` if unknown)."""
        return StoredEmail(bytes(data), None if name is None else self.dictionaries[name])
