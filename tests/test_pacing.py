"""ReadPacer: a running trial is read at most once per poll interval."""

from __future__ import annotations

from tunery.pacing import ReadPacer


def test_a_new_trial_is_read_only_after_a_poll_interval() -> None:
    pacer = ReadPacer(0.5)
    pacer.started("t", 100.0)
    assert not pacer.due("t", 100.0)
    assert not pacer.due("t", 100.3)  # an early wake (another trial ended)
    assert pacer.due("t", 100.5)


def test_a_trial_never_seen_is_due_at_once() -> None:
    # e.g. after a controller restart: read it now, as before.
    assert ReadPacer(0.5).due("t", 0.0)


def test_a_complete_read_waits_and_a_cut_short_read_does_not() -> None:
    pacer = ReadPacer(1.0)
    pacer.read("t", 10.0, complete=True)
    assert not pacer.due("t", 10.5)
    assert pacer.due("t", 11.0)
    pacer.read("t", 11.0, complete=False)  # lines left: the next tick reads again
    assert pacer.due("t", 11.0)


def test_the_slack_covers_a_wake_timed_on_another_clock() -> None:
    pacer = ReadPacer(0.5)
    pacer.started("t", 0.0)
    assert pacer.due("t", 0.499)  # the wait ran a full interval on the monotonic clock
    assert not pacer.due("t", 0.4)
