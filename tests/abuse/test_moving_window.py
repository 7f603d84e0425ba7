"""Moving-window counters in memory: the limits library's rule, and keys swept once expired."""

from __future__ import annotations

import pytest

from service.abuse.moving_window import MovingWindows


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        """Set the time, in seconds after the start."""
        self.now = 1000.0 + seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_hit_past_the_amount_is_refused_until_the_oldest_hit_leaves(clock: Clock) -> None:
    windows = MovingWindows(clock=clock)
    for second in (0, 10, 20):
        clock.at(second)
        assert windows.hit("k", 3, 60) is None
    clock.at(30)
    assert windows.hit("k", 3, 60) == 30


def test_the_window_moves_and_refused_hits_do_not_count(clock: Clock) -> None:
    windows = MovingWindows(clock=clock)
    for second in (0, 10):
        clock.at(second)
        assert windows.hit("k", 2, 60) is None
    clock.at(59.5)
    assert windows.hit("k", 2, 60) == 0.5
    clock.at(60)
    assert windows.hit("k", 2, 60) is None
    # Now the hits of 10 s and 60 s are in the window.
    assert windows.hit("k", 2, 60) == 10
    clock.at(70)
    assert windows.hit("k", 2, 60) is None


def test_one_hit_a_period_is_counted_every_period(clock: Clock) -> None:
    windows = MovingWindows(clock=clock)
    answers = []
    for second in range(0, 301, 30):
        clock.at(second)
        answers.append(windows.hit("k", 1, 100))
    assert answers == [None, 70, 40, 10, None, 70, 40, 10, None, 70, 40]


def test_keys_are_counted_apart(clock: Clock) -> None:
    windows = MovingWindows(clock=clock)
    assert windows.hit("a", 1, 60) is None
    assert windows.hit("b", 1, 60) is None
    assert windows.hit("a", 1, 60) == 60
    assert windows.hit("b", 1, 60) == 60
    assert windows.hit("c", 1, 60) is None


def test_the_sweep_drops_expired_keys_when_due_and_keeps_live_ones(clock: Clock) -> None:
    windows = MovingWindows(clock=clock, sweep_interval=10)
    windows.hit("short", 1, 5)
    windows.hit("long", 1, 100)
    windows.hit("twice", 2, 8)
    clock.at(4)
    windows.hit("twice", 2, 8)
    clock.at(9)
    windows.hit("late", 1, 5)
    # "short" expired at 5 s, but the sweep is not due before 10 s.
    assert len(windows) == 4
    clock.at(10)
    windows.hit("later", 1, 5)
    # Gone: "short". Kept: "long", "late", and "twice" for its hit of 4 s (not of 0 s).
    assert len(windows) == 4
    assert windows.hit("long", 1, 100) == 90
    assert windows.hit("late", 1, 5) == 4
    assert windows.hit("twice", 2, 8) is None
    assert windows.hit("twice", 2, 8) == 2


def test_memory_is_bounded_by_the_keys_of_one_window(clock: Clock) -> None:
    windows = MovingWindows(clock=clock, sweep_interval=60)
    for round_ in range(3):
        clock.at(round_ * 120)
        for n in range(5000):
            assert windows.hit(f"{round_}-{n}", 1, 60) is None
        # Only this round's keys: the sweep at its first hit dropped the last round's.
        assert len(windows) == 5000


def test_a_zero_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MovingWindows().hit("k", 0, 60)
