"""``medianstop`` for experiments with several objectives: stop what the median point dominates.

:mod:`tunery.stopping.median` builds this rule instead of Katib's when the spec has more than
one objective.  Each objective is followed exactly as the single-objective rule follows its one
(the same settings, steps, running averages, caches and best-so-far values, per metric); what
changes is the decision:

A Running trial whose latest step ``s`` (the largest step at which it reported any objective)
is ``>= start_step`` is stopped when, on **every** objective compared, its best value so far is
strictly worse than the median of the completed trials' running averages of that objective at
``s``.  An objective is *compared* when the trial has a finite value of it so far and at least
``min_trials_required`` completed trials have a running average of it at ``s`` (reported it at
``s`` or later, with a value at or before ``s``); a trial with no objective compared is not
judged.  So a trial that reports only some objectives is compared on those only, and an
objective reported only at the end (a model's size, a latency measured once) takes no part
while trials train.

Why this rule.  It is Pareto-aware: the median point (each objective's median) dominating the
trial strictly, in every coordinate, is the one case in which no weighting of the objectives
could prefer the trial to a typical completed one; a trial better than the median on any
objective is a trade-off that may join the Pareto front, and is kept.  It is Katib's rule on
one objective, ties never stop a trial, and it needs no reference point or scale across
objectives.  A rule counting the completed trials that dominate the trial would depend on how
the completed trials happen to spread along their front; this one depends on each objective's
median only.  Constraints take no part in ``medianstop`` (a constraint value while a trial
trains rarely says whether it ends feasible); ``asha`` uses them at its rungs.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunery.history import History
from tunery.model import ExperimentSpec, ObjectiveType, Trial
from tunery.stopping.median import MedianStop, _Progress, parse_settings

__all__ = ["ParetoMedianStop"]


class ParetoMedianStop:
    """Stops a running trial that each objective's median beats on every objective compared."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.settings = parse_settings(spec)
        #: One single-objective rule per objective: its caches and its best-so-far values.
        self.parts = tuple(
            MedianStop(spec, metric=t.metric, maximize=t.type is ObjectiveType.MAXIMIZE)
            for t in spec.objective.terms
        )

    def decide(self, history: History) -> dict[str, str]:
        """``{trial name: reason}`` for the running trials to stop now."""
        curves = [history.curves_of(part.metric) for part in self.parts]
        for entry in history.completed:
            name = entry.trial.name
            for part, by_trial in zip(self.parts, curves, strict=True):
                part.take_completed(name, by_trial.get(name, ()))
        decisions: dict[str, str] = {}
        progress: list[dict[str, _Progress]] = [{} for _ in self.parts]
        for trial in history.running_trials:
            states = []
            for part, by_trial, kept in zip(self.parts, curves, progress, strict=True):
                state = part._advance(
                    part._progress.get(trial.name) or _Progress(), by_trial.get(trial.name, ())
                )
                kept[trial.name] = state
                states.append((part, state))
            reason = self._judge(trial, states)
            if reason is not None:
                decisions[trial.name] = reason
        for part, kept in zip(self.parts, progress, strict=True):
            part._progress = kept
        return decisions

    def _judge(
        self,
        trial: Trial,
        states: Sequence[tuple[MedianStop, _Progress]],
    ) -> str | None:
        steps = [state.step for _, state in states if state.step is not None]
        if not steps:
            return None
        step = max(steps)
        if step < self.settings.start_step:
            return None
        compared: list[str] = []
        for part, state in states:
            best = part._best(trial, state.best)
            if best is None:
                continue
            got = part.median_at(step)
            if got is None or got[1] < self.settings.min_trials_required:
                continue
            median, n = got
            worse = best < median if part.maximize else best > median
            if not worse:
                return None
            side = "<" if part.maximize else ">"
            compared.append(f"{part.metric} {best:.6g} {side} {median:.6g} ({n} trials)")
        if not compared:
            return None
        return (
            f"at step {step} the best so far of every objective compared is worse than the "
            f"median of the completed trials' running averages: {', '.join(compared)}"
        )
