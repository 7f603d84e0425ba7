"""UUIDv7: valid UUIDs of version 7, time first, unique."""

from __future__ import annotations

import os
import time
import uuid

from service.ids import random_bytes, uuid7, uuid7_hex


def test_a_uuid7_is_a_version_7_rfc_9562_uuid_that_starts_with_the_time() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(uuid7())
    after = time.time_ns() // 1_000_000

    assert (value.version, value.variant) == (7, uuid.RFC_4122)
    assert before <= value.int >> 80 <= after
    assert str(value) == str(value).lower()


def test_later_ids_sort_after_earlier_ones_and_none_repeats() -> None:
    first = [uuid7_hex() for _ in range(1000)]
    time.sleep(0.002)
    second = [uuid7_hex() for _ in range(1000)]

    assert max(first) < min(second)
    assert len(set(first + second)) == 2000
    assert all(len(h) == 32 and int(h, 16) >= 0 for h in first)
    # 74 random bits: ids made in the same millisecond differ beyond the time.
    assert len({h[12:] for h in first}) == 1000


def test_pooled_random_bytes_never_repeat_and_a_forked_child_gets_its_own() -> None:
    taken = [random_bytes(10) for _ in range(2000)]  # several pools' worth
    assert len(set(taken)) == 2000
    assert all(len(each) == 10 for each in taken)

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: writes what it would hand out next, and exits
        os.write(writer, random_bytes(16))
        os._exit(0)
    os.close(writer)
    child = os.read(reader, 16)
    os.close(reader)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != random_bytes(16)
