"""When an experiment is over: the completion rules of the controller, in Katib's order.

``decide(spec, counts, goal_trial, nothing_to_suggest)`` returns the experiment's end (its
condition, reason, message and the reason given to the trials still running, which are killed),
or None while it goes on:

1. goal: a finished trial reached the objective's goal (``goal_trial``, the first such trial, as
   the ledger saw them finish: :func:`reaches_goal`); with several objectives or constraints, a
   Succeeded feasible trial at or past every goal given;
2. max failed: ``maxFailedTrialCount`` trials failed;
3. max trials: ``maxTrialCount`` trials completed, none running;
4. suggestion end: the algorithm had nothing more to suggest and nothing runs.

The status follows Katib's experiment controller (``UpdateExperimentStatusCondition``): only
``maxFailedTrialCount`` makes an experiment ``Failed``; every other ending is ``Succeeded``,
even when no trial succeeded (Katib ends an experiment whose trials all failed ``Succeeded``,
reason ``ExperimentMaxTrialsReached``).  The time budget (:func:`tunery.deadline.time_end`)
is a budget like ``maxTrialCount`` and follows the same rule.  Whether the experiment learnt
anything is said apart from the status, the same way at every ending: when no trial that *ran*
has a result (``Counts.results``: Succeeded or EarlyStopped; warm-start seeds never ran, so
they are none, and they never reach the goal), the message ends with :func:`no_result_note`,
``tunery run`` exits 1 and the SDK warns (:mod:`tunery.outcome`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunery.model import (
    ExperimentCondition,
    ExperimentReason,
    ExperimentSpec,
    Objective,
    ObjectiveType,
    Trial,
    TrialCondition,
    TrialReason,
)
from tunery.objectives import goals_met

if TYPE_CHECKING:
    from tunery.ledger import Counts

__all__ = ["End", "decide", "goal_text", "has_goal", "no_result_note", "reaches_goal"]


@dataclass(frozen=True)
class End:
    """How an experiment ends."""

    status: ExperimentCondition
    reason: ExperimentReason
    message: str
    #: The reason given to the trials still running (they are killed).
    kill_reason: str


def has_goal(objective: Objective) -> bool:
    """Whether the experiment can end on its goal(s): some objective has one."""
    return any(t.goal is not None for t in objective.terms)


def reaches_goal(objective: Objective, trial: Trial) -> bool:
    """Whether a finished trial reaches the goal: Succeeded with a value at or past it.

    With several objectives or constraints: Succeeded, feasible, and at or past every goal
    given (:func:`tunery.objectives.goals_met`).
    """
    if trial.status is not TrialCondition.SUCCEEDED:
        return False
    if objective.is_multi or objective.constraints:
        return goals_met(objective, trial)
    return (
        objective.goal is not None
        and trial.objective is not None
        and objective.goal_reached(trial.objective)
    )


def goal_text(objective: Objective) -> str:
    """The goals as a reader says them: ``accuracy >= 0.95, latency_ms <= 20``."""
    return ", ".join(
        f"{t.metric} {'<=' if t.type is ObjectiveType.MINIMIZE else '>='} {t.goal:g}"
        for t in objective.terms
        if t.goal is not None
    )


def _goal_message(objective: Objective, goal_trial: str) -> str:
    if objective.is_multi:
        return (
            f"Experiment has succeeded because every objective goal ({goal_text(objective)}) "
            f"was reached by {goal_trial}"
        )
    feasible = " by a feasible trial" if objective.constraints else ""
    return (
        f"Experiment has succeeded because the objective goal "
        f"{objective.goal:g} was reached{feasible} by {goal_trial}"
    )


def no_result_note(counts: Counts) -> str:
    """What a budget ending's message adds when no trial that ran has a result: ``; no trial
    that ran succeeded (3 Failed; the 2 warm-start seeds were not run)``; ``""`` otherwise."""
    if counts.results:
        return ""
    ended = {s: n for s, n in counts.by_status.items() if s.is_completed}
    ended[TrialCondition.SUCCEEDED] -= counts.seeded
    # Ctrl-C's run again: not ended; the running ones are killed by the end being decided.
    ended[TrialCondition.KILLED] += counts.active - counts.interrupted
    done = [f"{n} {status.value}" for status, n in ended.items() if n > 0]
    what = ", ".join(done) if done else "none ran"
    if counts.seeded:
        seeds = "seed was" if counts.seeded == 1 else "seeds were"
        what += f"; the {counts.seeded} warm-start {seeds} not run"
    return f"; no trial that ran succeeded ({what})"


def decide(
    spec: ExperimentSpec, counts: Counts, goal_trial: str | None, nothing_to_suggest: bool
) -> End | None:
    """Katib's order: goal, then max failed, then max trials, then suggestion end."""
    if goal_trial is not None and has_goal(spec.objective):
        return End(
            ExperimentCondition.SUCCEEDED,
            ExperimentReason.GOAL_REACHED,
            _goal_message(spec.objective, goal_trial),
            TrialReason.EXPERIMENT_GOAL_REACHED,
        )
    max_failed = spec.max_failed_trial_count
    if max_failed is not None and counts.failed and counts.failed >= max_failed:
        return End(
            ExperimentCondition.FAILED,
            ExperimentReason.MAX_FAILED_TRIALS_REACHED,
            f"Experiment has failed because {counts.failed} trials failed "
            f"(maxFailedTrialCount is {max_failed})",
            TrialReason.EXPERIMENT_MAX_FAILED_TRIALS_REACHED,
        )
    if (
        spec.max_trial_count is not None
        and counts.completed >= spec.max_trial_count
        and counts.active == 0  # lowered under running trials (live): wait for them
    ):
        return End(
            ExperimentCondition.SUCCEEDED,
            ExperimentReason.MAX_TRIALS_REACHED,
            f"Experiment has succeeded because max trial count ({spec.max_trial_count}) "
            f"has been reached{no_result_note(counts)}",
            TrialReason.EXPERIMENT_MAX_TRIALS_REACHED,
        )
    if nothing_to_suggest and counts.active == 0:
        return End(
            ExperimentCondition.SUCCEEDED,
            ExperimentReason.SUGGESTION_END_REACHED,
            "Experiment has succeeded because the algorithm has nothing more to suggest "
            f"(the search space is exhausted or its schedule has ended){no_result_note(counts)}",
            TrialReason.EXPERIMENT_SUGGESTION_END_REACHED,
        )
    return None
