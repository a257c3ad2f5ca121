"""Injected time."""

from __future__ import annotations

import time

from tunery.clock import FakeClock, SystemClock


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(100.0)
    assert clock.now() == 100.0
    clock.sleep(5)
    clock.advance(1.5)
    clock.sleep(-3)
    assert clock.now() == 106.5


def test_system_clock_is_the_wall_clock() -> None:
    before = time.time()
    assert before - 1 <= SystemClock().now() <= time.time() + 1
