"""The experiment's time budget (``maxExperimentDuration``): the time it was driven, its end.

The budget counts the wall time the experiment was *driven*: from a controller's ``start`` to
its last tick, summed over every controller that ran it (a crash, Ctrl-C, ``tunery resume``,
an extension), never the time it sat interrupted with no controller.  The controller keeps
the sum in the experiment's algorithm state blob under :data:`DRIVEN_SECONDS_KEY` (no schema
change; the algorithm never sees it), written at most every :data:`SAVE_INTERVAL` seconds
while a time budget is set and when the controller stops, so a ``kill -9`` of the controller
loses at most about a second of it.  Time driven while no budget was set is counted only
from the start of the controller that sees the budget (a budget added with ``tunery edit``).

At the deadline the controller creates no more trials and, by ``experimentDurationPolicy``:

* ``KillRunning`` (the default: a time budget is a promise about when the experiment ends)
  kills the running trials (Killed, reason ``ExperimentTimeBudgetReached``) and ends;
* ``LetFinish`` lets them finish (however long that takes), then ends.

It ends ``Succeeded``, reason ``ExperimentTimeBudgetReached``: a budget, like Katib's
``maxTrialCount``, which ends an experiment ``Succeeded`` whatever its trials did (the rule of
:mod:`tunery.completion`; only ``maxFailedTrialCount`` fails one).  When no trial that ran has a
result (warm-start seeds never ran), its message says so (:func:`~tunery.completion.
no_result_note`), as at every other ending.  The other completion rules (goal,
maxFailedTrialCount, maxTrialCount) come first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tunery.completion import End, no_result_note
from tunery.errors import TuneryError, UserInputError
from tunery.model import (
    DRIVEN_SECONDS_KEY,
    ExperimentCondition,
    ExperimentReason,
    ExperimentSpec,
    TrialReason,
)
from tunery.spec.timebudget import DurationPolicy

if TYPE_CHECKING:
    from tunery.ledger import Counts, TrialLedger
    from tunery.storage.base import BaseStore

log = logging.getLogger(__name__)

__all__ = [
    "SAVE_INTERVAL",
    "DrivenTime",
    "budget_seconds",
    "driven_seconds",
    "out_of_time",
    "policy_of",
    "time_budget_json",
    "time_budget_text",
    "time_end",
    "time_left_text",
]

#: Seconds between two writes of the driven time while a time budget is set.
SAVE_INTERVAL = 1.0


def policy_of(spec: ExperimentSpec) -> DurationPolicy:
    """The spec's ``experimentDurationPolicy`` (default ``KillRunning``)."""
    return DurationPolicy(spec.experiment_duration_policy or DurationPolicy.KILL_RUNNING)


class DrivenTime:
    """The time a controller's experiment was driven: the stored sum plus this controller's.

    :meth:`start` (with the ledger's state loaded) starts counting; :meth:`advance` counts and
    stores; :meth:`save` stores at a controller's stop and never raises.
    """

    def __init__(self, ledger: TrialLedger, now: float | None = None) -> None:
        self.ledger = ledger
        #: Seconds driven so far, this controller's included (up to the last :meth:`advance`).
        self.total = 0.0
        self._mark = self._saved_at = 0.0
        self._spec: ExperimentSpec | None = None
        if now is not None:
            self.start(now)

    def start(self, now: float) -> None:
        """Count from ``now``, on top of the seconds stored (``ledger.load_state`` read them)."""
        self.total = self.ledger.driven
        self._mark = self._saved_at = now

    def advance(self, now: float, spec: ExperimentSpec, *, save: bool = False) -> float:
        """Count the time since the last call; stored when a budget is set (every
        :data:`SAVE_INTERVAL`, or now with ``save``).  Returns the total."""
        self._spec = spec
        self.total += max(0.0, now - self._mark)
        self._mark = now
        if spec.max_experiment_duration is not None and (
            save or now - self._saved_at >= SAVE_INTERVAL
        ):
            self.ledger.save_driven(self.total)
            self._saved_at = now
        return self.total

    def save(self, now: float) -> None:
        """Count and store the time at a controller's stop (a failure is only logged)."""
        if self._spec is None:
            return  # never counted: nothing to store
        try:
            self.advance(now, self._spec, save=True)
        except TuneryError as exc:
            log.warning("could not store the time driven: %s", exc)

    def remaining(self, spec: ExperimentSpec) -> float | None:
        """Seconds left of the budget (0 once it is used), None without one."""
        if spec.max_experiment_duration is None:
            return None
        return max(0.0, spec.max_experiment_duration - self.total)

    def wait(self, spec: ExperimentSpec, poll: float) -> float:
        """How long a controller may wait for its trials: ``poll``, or less near the deadline."""
        left = self.remaining(spec)
        return poll if left is None else min(poll, left + 0.01)


def time_end(spec: ExperimentSpec, counts: Counts) -> End | None:
    """How an experiment ends on its used time budget; None while ``LetFinish`` waits for its
    running trials."""
    from tunery.spec.katib import format_duration

    assert spec.max_experiment_duration is not None
    if counts.active and policy_of(spec) is DurationPolicy.LET_FINISH:
        return None
    limit = format_duration(spec.max_experiment_duration)
    return End(
        ExperimentCondition.SUCCEEDED,
        ExperimentReason.TIME_BUDGET_REACHED,
        f"Experiment has succeeded because its time budget (maxExperimentDuration {limit}) "
        f"was reached{no_result_note(counts)}",
        TrialReason.EXPERIMENT_TIME_BUDGET_REACHED,
    )


def budget_seconds(value: str | float, name: str) -> float:
    """A time budget given as an argument (``"2h"``, ``"90m"``, seconds) in seconds; a
    SpecError naming ``name`` and the format otherwise."""
    from tunery.spec.timebudget import parse_duration

    return parse_duration(value, name)


def out_of_time(spec: ExperimentSpec, driven: float) -> UserInputError:
    """What ``Optimizer.ask()`` raises once its ``max_duration`` is used."""
    from tunery.spec.katib import format_duration

    assert spec.max_experiment_duration is not None
    return UserInputError(
        f"ask(): the time budget max_duration={format_duration(spec.max_experiment_duration)} "
        f"is used (driven for {_clock(driven)})",
        "tell() the running suggestions, or create the Optimizer again with a larger "
        "max_duration (another name); ask(n) returns [] instead of raising",
    )


def driven_seconds(store: BaseStore, key: str) -> float:
    """The seconds experiment ``key`` was driven, as stored (0 when never recorded)."""
    state = store.load_algorithm_state(key) or {}
    try:
        return float(state.get(DRIVEN_SECONDS_KEY) or 0.0)
    except (TypeError, ValueError):
        return 0.0


def time_budget_json(spec: ExperimentSpec, driven: float) -> dict[str, Any] | None:
    """The wire's ``timeBudget`` (None without a budget): seconds allowed, driven, left."""
    if spec.max_experiment_duration is None:
        return None
    return {
        "maxSeconds": spec.max_experiment_duration,
        "drivenSeconds": round(driven, 3),
        "remainingSeconds": round(max(0.0, spec.max_experiment_duration - driven), 3),
        "policy": policy_of(spec).value,
    }


def time_budget_text(spec: ExperimentSpec, driven: float) -> str | None:
    """``time budget: 1h30m of 2h driven, 30m left (KillRunning)`` (None without a budget)."""
    if spec.max_experiment_duration is None:
        return None
    limit = spec.max_experiment_duration
    return (
        f"time budget: {_clock(driven)} of {_clock(limit)} driven, "
        f"{_clock(max(0.0, limit - driven))} left ({policy_of(spec).value})"
    )


def time_left_text(spec: ExperimentSpec, driven: float) -> str:
    """``30m00s of 2h00m`` (``tunery list``'s cell); ``-`` without a budget."""
    if spec.max_experiment_duration is None:
        return "-"
    limit = spec.max_experiment_duration
    return f"{_clock(max(0.0, limit - driven))} of {_clock(limit)}"


def _clock(seconds: float) -> str:
    """``1h05m``, ``12m30s``, ``45s``: a duration for people."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
