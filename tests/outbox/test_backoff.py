"""The retry schedule: first retry within 30 s, doubling to at most an hour, dead at max age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.outbox.backoff import (
    FIRST_RETRY_SECONDS,
    MAX_RETRY_SECONDS,
    next_attempt_at,
    retry_delay,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
MAX_AGE = timedelta(hours=72)


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
def test_first_retry_comes_within_30_seconds(draw: float) -> None:
    delay = retry_delay(1, rng=lambda: draw)
    assert FIRST_RETRY_SECONDS / 2 <= delay <= FIRST_RETRY_SECONDS


def test_ceiling_doubles_per_attempt_until_one_hour() -> None:
    ceilings = [retry_delay(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert ceilings[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert ceilings[8:] == [MAX_RETRY_SECONDS] * 3


def test_jitter_spreads_waits_over_the_upper_half() -> None:
    low = retry_delay(4, rng=lambda: 0.0)
    high = retry_delay(4, rng=lambda: 1.0)
    assert (low, high) == (120.0, 240.0)


def test_huge_attempt_counts_stay_capped() -> None:
    assert retry_delay(10_000, rng=lambda: 1.0) == MAX_RETRY_SECONDS


def test_provider_hint_is_honoured_up_to_the_cap() -> None:
    assert retry_delay(1, rng=lambda: 0.0, hint=90.0) == 90.0
    assert retry_delay(1, rng=lambda: 0.0, hint=5.0) == 15.0
    assert retry_delay(1, rng=lambda: 0.0, hint=99_999.0) == MAX_RETRY_SECONDS


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        retry_delay(0)


def test_next_attempt_is_now_plus_the_delay() -> None:
    now = START + timedelta(minutes=5)
    when = next_attempt_at(2, queued_at=START, now=now, max_age=MAX_AGE, rng=lambda: 1.0)
    assert when == now + timedelta(seconds=60)


def test_last_attempt_is_scheduled_at_the_deadline() -> None:
    now = START + MAX_AGE - timedelta(minutes=10)
    when = next_attempt_at(20, queued_at=START, now=now, max_age=MAX_AGE, rng=lambda: 1.0)
    assert when == START + MAX_AGE


def test_gives_up_once_max_age_is_reached() -> None:
    at_deadline = START + MAX_AGE
    assert next_attempt_at(20, queued_at=START, now=at_deadline, max_age=MAX_AGE) is None
    later = at_deadline + timedelta(seconds=1)
    assert next_attempt_at(3, queued_at=START, now=later, max_age=MAX_AGE) is None


def test_a_whole_schedule_stays_within_the_bounds() -> None:
    now, attempts, waits = START, 0, []
    while True:
        attempts += 1
        when = next_attempt_at(attempts, queued_at=START, now=now, max_age=MAX_AGE)
        if when is None:
            break
        waits.append((when - now).total_seconds())
        now = when
    assert waits[0] <= FIRST_RETRY_SECONDS
    assert max(waits) <= MAX_RETRY_SECONDS
    assert now == START + MAX_AGE
    # 72 h at (at most) an hour apart, after the ramp-up: roughly 75 to 150 attempts.
    assert 70 < attempts < 160
