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
import time

__all__ = ["uuid7", "uuid7_hex"]

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RANDOM_A = (1 << 12) - 1
_RANDOM_B = (1 << 62) - 1


def uuid7_hex() -> str:
    """A new UUIDv7 as 32 lowercase hex digits (the shape ``uuid4().hex`` has)."""
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10))
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
