"""UUIDv7: valid UUIDs of version 7, time first, unique."""

from __future__ import annotations

import time
import uuid

from service.ids import uuid7, uuid7_hex


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
