"""An experiment's budget (maxTrialCount, parallelTrialCount, maxFailedTrialCount) and the rules
for extending a completed experiment, used by :meth:`tunery.client.Client.resume` and
:meth:`tunery.client.Client.edit_experiment_budget`.

Katib extends a completed experiment only when its ``resumePolicy`` is ``LongRunning`` or
``FromVolume``: the policy says whether the algorithm's service (its state) outlives the
experiment.  Locally the algorithm state, the trials and their History live in the database
whatever the policy, so tunery extends an experiment under every policy.  It refuses only where
more trials could not continue the search:

* the experiment's trials get checkpoint directories (pbt's ``suggestion_trial_dir``) and every
  one of them was deleted: new trials would start from nothing (:func:`checkpoints_gone`);
* it ended because a trial reached the goal, and the goal is unchanged: it would end at once
  (raise or remove the goal);
* it failed with ``maxFailedTrialCount`` failures, and that count is not raised;
* its algorithm had nothing more to suggest (a grid or a hyperband schedule exhausted);
* it is an ask/tell experiment (its ``Optimizer`` holds the budget);
* the new ``maxTrialCount`` is not above the trials it has completed;
* it ended on its time budget (``maxExperimentDuration``) and the budget is not above the time
  it was driven (:mod:`tunery.deadline`).

A stopped experiment (``tunery stop``) is extended only by a new ``maxTrialCount``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tunery.completion import goal_text, has_goal, reaches_goal
from tunery.errors import UserInputError
from tunery.model import (
    Experiment,
    ExperimentReason,
    ExperimentSpec,
    Trial,
    is_interrupted,
    is_seed,
)

if TYPE_CHECKING:
    # The ledger pulls the launch builder and the executors: `import tunery` must not.
    from tunery.ledger import Counts

__all__ = [
    "BUDGET_FIELDS",
    "Refusal",
    "checkpoints_gone",
    "extension_refusal",
    "too_few",
    "trial_counts",
    "whole_number",
    "with_budget",
]

#: The budget's fields: the spec's attribute, the Katib field, the CLI option.
BUDGET_FIELDS = {
    "max_trial_count": ("maxTrialCount", "--max-trials"),
    "parallel_trial_count": ("parallelTrialCount", "--parallel"),
    "max_failed_trial_count": ("maxFailedTrialCount", "--max-failed"),
    "max_experiment_duration": ("maxExperimentDuration", "--max-duration"),
    "experiment_duration_policy": ("experimentDurationPolicy", "--duration-policy"),
}

#: Why an experiment cannot be extended: (message, hint), a UserInputError's parts.
Refusal = tuple[str, str]


def whole_number(value: Any, field: str, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``; UserInputError naming ``field`` otherwise."""
    katib, option = BUDGET_FIELDS.get(field, (field, field))
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise UserInputError(
                f"{katib} must be a whole number, not {value!r}",
                f"e.g. {field}={max(minimum, 1) * 10} ({option} on the command line)",
            )
    if value < minimum:
        raise UserInputError(
            f"{katib} must be at least {minimum}, not {value}",
            f"e.g. {field}={max(minimum, 1) * 10} ({option} on the command line)",
        )
    return int(value)


def with_budget(spec: ExperimentSpec, **budget: int | None) -> ExperimentSpec:
    """``spec`` with the budget fields given (None: unchanged), validated again as a document
    would be (e.g. parallelTrialCount above maxTrialCount is a SpecError naming the field)."""
    from tunery.spec import parse_document, to_document

    changes = {k: v for k, v in budget.items() if v is not None}
    unknown = set(changes) - set(BUDGET_FIELDS)
    if unknown:
        raise TypeError(f"not budget fields: {sorted(unknown)}")
    if not changes:
        return spec
    changed: ExperimentSpec = replace(spec, **changes)  # type: ignore[arg-type]
    return parse_document(to_document(changed))


def trial_counts(trials: Iterable[Trial]) -> Counts:
    """How many trials are in each status, as a controller's ledger counts them (interrupted
    trials are not completed: they use no budget)."""
    from tunery.ledger import Counts

    counts = Counts()
    for trial in trials:
        counts.by_status[trial.status] += 1
        counts.interrupted += is_interrupted(trial)
        counts.seeded += is_seed(trial)
    return counts


def checkpoints_gone(experiment: Experiment, trials: Iterable[Trial]) -> str | None:
    """The experiment's checkpoint directory when its trials have checkpoints (pbt's
    ``suggestion_trial_dir``) and not one of the started trials' checkpoints is left; else
    None.  Then the search cannot go on: pbt's next generation copies its parents'."""
    from tunery.launch import checkpoint_dir, checkpoint_setting, experiment_dir

    if checkpoint_setting(experiment.spec) is None or experiment.runs_dir is None:
        return None
    root = experiment_dir(experiment.runs_dir, experiment.name)
    started = [t for t in trials if t.start_time is not None or t.handle]
    if not started:
        return None
    if any(os.path.isdir(checkpoint_dir(root, t.name)) for t in started):
        return None
    return os.path.join(root, "checkpoints")


def _goal_trial(spec: ExperimentSpec, trials: Iterable[Trial]) -> Trial | None:
    if not has_goal(spec.objective):
        return None
    for trial in trials:
        if not is_seed(trial) and reaches_goal(spec.objective, trial):
            return trial
    return None


def too_few(name: str, max_trials: int, completed: int, *, cli_hint: bool = True) -> Refusal:
    """The refusal of a maxTrialCount that is not above the trials completed."""
    return (
        f"maxTrialCount {max_trials} is not above the {completed} trials experiment {name!r} "
        "has completed",
        f"give a larger one, e.g. --max-trials {completed + 10}"
        if cli_hint
        else f"give a larger one, e.g. max_trial_count={completed + 10}",
    )


def extension_refusal(
    existing: Experiment,
    spec: ExperimentSpec,
    trials: list[Trial],
    *,
    cli_hint: bool = True,
    driven: float | None = None,
) -> Refusal | None:
    """Why completed experiment ``existing`` cannot go on under ``spec`` (its new budget), or
    None when it can.  The rules are the module's; ``cli_hint``: hints name CLI commands;
    ``driven``: the seconds it was driven (:func:`tunery.deadline.driven_seconds`)."""
    name = existing.name
    counts = trial_counts(trials)
    reason = existing.reason
    if existing.runs_dir is None or reason == ExperimentReason.FINISHED:
        return (
            f"experiment {name!r} is an ask/tell experiment: its budget is its Optimizer's",
            "open it again with tunery.Optimizer(..., max_trial_count=N, storage=...)",
        )
    if reason == ExperimentReason.GOAL_REACHED:
        reached = _goal_trial(spec, trials)
        if reached is not None:
            return (
                f"experiment {name!r} ended because trial {reached.name} reached its goal "
                f"({goal_text(spec.objective)}): more trials would end it at once",
                "raise or remove the goal (spec.objective.goal in the file for `tunery run "
                "FILE`, goal= in tune()), then run it again",
            )
    if reason == ExperimentReason.MAX_FAILED_TRIALS_REACHED:
        limit = spec.max_failed_trial_count
        if limit is not None and counts.failed >= limit:
            fix = (
                f"`tunery edit {name} --max-failed N`"
                if cli_hint
                else "edit_experiment_budget(name, max_failed_trial_count=N)"
            )
            return (
                f"experiment {name!r} failed because {counts.failed} trials failed "
                f"(maxFailedTrialCount {limit}): more trials would end it at once",
                f"raise maxFailedTrialCount above {counts.failed}: {fix}",
            )
    if reason == ExperimentReason.SUGGESTION_END_REACHED:
        return (
            f"experiment {name!r} ended because its algorithm "
            f"{spec.algorithm.algorithm_name} has nothing more to suggest (its search space "
            "or schedule is exhausted)",
            "widen the search space and run it under a new name",
        )
    if reason == ExperimentReason.TIME_BUDGET_REACHED:
        limit_s = spec.max_experiment_duration
        if limit_s is not None and driven is not None and limit_s <= driven:
            from tunery.spec.katib import format_duration

            used = format_duration(round(driven))
            more = format_duration(max(3600, round(driven / 3600 + 1) * 3600))
            fix = (
                f"`tunery edit {name} --max-duration {more}`"
                if cli_hint
                else f'edit_experiment_budget(name, max_duration="{more}")'
            )
            return (
                f"experiment {name!r} used its time budget: it was driven for {used} "
                f"(maxExperimentDuration {format_duration(limit_s)})",
                f"raise maxExperimentDuration above {used}: {fix}",
            )
    if spec.max_trial_count is not None and spec.max_trial_count <= counts.completed:
        return too_few(name, spec.max_trial_count, counts.completed, cli_hint=cli_hint)
    if reason == ExperimentReason.STOPPED and spec.max_trial_count == existing.spec.max_trial_count:
        return (
            f"experiment {name!r} was stopped by the user (tunery stop)",
            f"extend it with a new maxTrialCount, e.g. `tunery resume {name} --max-trials "
            f"{counts.completed + 10}`",
        )
    gone = checkpoints_gone(existing, trials)
    if gone is not None:
        return (
            f"the trial checkpoints of experiment {name!r} were deleted ({gone}): new trials "
            "would start from nothing",
            "run the search again under a new name",
        )
    return None
