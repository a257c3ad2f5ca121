"""Deleting an experiment from the UI (``DELETE /api/experiments/{name}``).

What is removed is what ``tunery delete`` removes: the experiment's row with its trials,
observations, algorithm state, lease and intents (``Store.delete_experiment``); the trial
directories stay on disk.  Like ``tunery delete``, an experiment a live controller runs is
refused; so is one with trials still active and no controller (deleting it would leave their
processes running, out of every command's sight).  With ``force`` it is stopped first, the
way ``tunery stop`` stops it: a stop intent for the live controller, which kills the trials and
gives the lease back (waited for, at most ``STOP_WAIT`` seconds); with no controller, this
process takes the lease and kills the trials itself through the executor their handles name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tunery.clock import Clock
from tunery.model import IntentKind, TrialCondition
from tunery.storage import Store
from tunery.ui import queries

#: How long a forced delete waits for a live controller to stop the experiment, in seconds
#: (its next tick, plus the kill's grace period of the trials that ignore SIGTERM).
STOP_WAIT = 30.0


class StillRunning(Exception):
    """The experiment runs (a controller, or active trials): the one-line reason, for 409."""


@dataclass(frozen=True)
class Removed:
    """What a delete did: the experiment, whether it was stopped first, where its trial
    directories stay (None: nowhere recorded)."""

    name: str
    stopped: bool
    runs_dir: str | None


def live_owner(store: Store, name: str, now: float) -> str | None:
    """The ``host:pid`` of the controller holding ``name``'s lease, when it is alive (the
    test of ``tunery delete``: an unexpired lease whose owner is not a dead local process)."""
    from tunery.ledger import owner_is_dead

    lease = store.lease_owner(name)
    if lease is None or lease[1] <= now or owner_is_dead(lease[0]):
        return None
    return lease[0]


def active_trials(store: Store, name: str) -> int:
    """How many of ``name``'s trials are Created or Running."""
    counts = queries.trial_counts(store, name)
    return sum(counts.get(c.value, 0) for c in TrialCondition if c.is_active)


def running_reason(store: Store, name: str, now: float) -> str | None:
    """Why ``name`` counts as running (None: it does not)."""
    owner = live_owner(store, name, now)
    if owner is not None:
        return f"a controller ({owner}) is running it"
    active = active_trials(store, name)
    if active:
        return f"{active} of its trials are still active"
    return None


def delete_experiment(
    store: Store, name: str, clock: Clock, *, force: bool = False, wait: float = STOP_WAIT
) -> Removed:
    """Delete ``name`` (NotFoundError when there is none); StillRunning when it runs and not
    ``force``, or when ``force`` could not stop it within ``wait`` seconds."""
    exp = store.get_experiment(name)
    reason = running_reason(store, name, clock.now())
    if reason is not None:
        if not force:
            raise StillRunning(
                f"name: experiment {name!r} is running ({reason}); stop it first, or delete "
                "with force=true to stop it and then delete it"
            )
        _stop(store, name, clock, wait)
    store.delete_experiment(name)
    return Removed(name=name, stopped=reason is not None, runs_dir=exp.runs_dir)


def _stop(store: Store, name: str, clock: Clock, wait: float) -> None:
    """Stop ``name`` as ``tunery stop`` does, and wait until nothing of it runs."""
    from tunery.controller import Controller
    from tunery.errors import LeaseHeldError
    from tunery.execute import open_executor, reopen_url

    store.add_intent(name, IntentKind.STOP_EXPERIMENT, None, clock.now())
    if live_owner(store, name, clock.now()) is None:
        # No controller: this process kills the trials, through the executor their handles
        # name (a Dask scheduler), or locally.
        urls = (
            reopen_url(t.handle) for t in store.list_trials(name) if t.status.is_active and t.handle
        )
        controller = Controller(
            store, name, open_executor(next((u for u in urls if u != "local"), None)), clock=clock
        )
        try:
            controller.start()
        except LeaseHeldError:
            pass  # a controller started meanwhile: it obeys the intent; waited for below
        else:
            try:
                controller.tick()
            finally:
                controller.release()
    deadline = time.monotonic() + wait
    while True:
        reason = running_reason(store, name, clock.now())
        if reason is None:
            return
        if time.monotonic() >= deadline:
            raise StillRunning(
                f"name: experiment {name!r} was asked to stop but still runs after {wait:g} s "
                f"({reason}); try again once it has stopped"
            )
        time.sleep(0.1)
