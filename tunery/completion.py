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

__all__ = ["End", "decide", "goal_text", "has_goal", "reaches_goal"]


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
            "has been reached",
            TrialReason.EXPERIMENT_MAX_TRIALS_REACHED,
        )
    if nothing_to_suggest and counts.active == 0:
        return End(
            ExperimentCondition.SUCCEEDED,
            ExperimentReason.SUGGESTION_END_REACHED,
            "Experiment has succeeded because the algorithm has nothing more to suggest "
            "(the search space is exhausted or its schedule has ended)",
            TrialReason.EXPERIMENT_SUGGESTION_END_REACHED,
        )
    return None
