"""Time-ordered identifiers: UUIDv7 (RFC 9562, section 5.7) for rows and Message-IDs.

Submissions, emails and Message-IDs are keys of B-tree indexes. Random keys
(UUIDv4) land on a random leaf page each, so every stored submission dirtied
about seven pages all over the outbox's indexes, each written to the WAL at
the next commit and read back from disk once the indexes outgrow the cache.
Keys that start with the time land on the rightmost pages, which a batch of
submissions shares. The 74 random bits keep them unguessable and unique; the
time they reveal is the submission's, which its answer already implies.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["random_bytes", "uuid7", "uuid7_hex"]

_POOL_SIZE = 4096


class _RandomPool:
    """``os.urandom`` read 4 kB at a time: one system call for hundreds of ids, not one each.

    The bytes are the kernel's CSPRNG's all the same; each is handed out once
    (under a lock: the outbox's thread makes ids too), and a forked child
    starts with an empty pool, never with its parent's unused bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._at + count > len(self._pool):
                self._pool, self._at = os.urandom(max(_POOL_SIZE, count)), 0
            start = self._at
            self._at += count
            return self._pool[start : self._at]

    def forget(self) -> None:
        """In a forked child: a new lock (another thread may have held the old one) and no bytes."""
        self._lock = threading.Lock()
        self._pool, self._at = b"", 0


_random = _RandomPool()
os.register_at_fork(after_in_child=_random.forget)


def random_bytes(count: int) -> bytes:
    """``count`` bytes from the operating system's CSPRNG, as ``os.urandom`` (pooled)."""
    return _random.take(count)


_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RANDOM_A = (1 << 12) - 1
_RANDOM_B = (1 << 62) - 1


def uuid7_hex() -> str:
    """A new UUIDv7 as 32 lowercase hex digits (the shape ``uuid4().hex`` has)."""
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(random_bytes(10))
    value = (
        (milliseconds & 0xFFFF_FFFF_FFFF) << 80
        | _VERSION
        | (random >> 62 & _RANDOM_A) << 64
        | _VARIANT
        | random & _RANDOM_B
    )
    return f"{value:032x}"


def uuid7() -> str:
    """A new UUIDv7 in its canonical form (``8-4-4-4-12`` hex digits), as ``str(uuid4())``."""
    h = uuid7_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
