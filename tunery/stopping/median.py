"""Katib's ``medianstop`` early-stopping rule.

Settings, as Katib validates them (``pkg/earlystopping/v1beta1/medianstop/service.py``,
``validate_medianstop_setting`` and the defaults in ``MedianStopService.__init__``):

- ``min_trials_required``: an integer ``> 0``, default ``3``;
- ``start_step``: an integer ``>= 1``, default ``4``;
- any other setting name is refused ("unknown setting ... for algorithm medianstop").

The rule.  A *step* is an observation's ``step`` (the ``step=``/``epoch=`` the trial reported,
else the order of its lines).  The *running average* of a completed trial (Succeeded or
EarlyStopped) at step ``s`` is the mean of its objective values with ``step <= s``.  A Running
trial whose latest step is ``s >= start_step`` is stopped when its best objective value so far
(the largest for ``maximize``, the smallest for ``minimize``) is strictly worse than the median
of the running averages at ``s`` of the completed trials that have reached step ``s`` (reported
something at ``s`` or later), provided at least ``min_trials_required`` of them have.  Ties never
stop a trial; NaN/inf/None values are ignored everywhere.

How this differs from Katib.  Katib's service averages each *succeeded* trial's first
``start_step`` reports, takes the *mean* of those averages (it calls it the median), and hands
one fixed rule ("stop when the objective is worse than that value") to the metrics collector,
which applies it once ``start_step`` values have been reported.  tunery applies the real median
rule at every step from ``start_step`` on, each time against the completed trials' running
averages at that same step, and counts early-stopped trials as completed (only those that
reached the step, so stopped trials never drag the median down at later steps).
``start_step`` is compared with the ``step`` field: with 1-based epochs that is Katib's count of
reports; with 0-based line order a trial is judged from its ``start_step + 1``-th report on.
The rule is evaluated at the trial's latest step on each controller tick, so steps reported
between two ticks are judged together at the latest of them.

Long curves.  Past 10,000 reports of the objective the controller thins a trial's curve
(:mod:`tunery.thinning`: the first 5,000 points stay, then a uniform sample).  The best value so
far stays exact (it is the trial's metric summary, computed from every value); the latest step
is that of the last point kept, at most the stride (256 at a million reports) behind; a
completed trial's running averages past the first 5,000 points are those of the sample.

Several objectives.  With more than one objective the rule is
:mod:`tunery.stopping.median_pareto`'s (stopped when worse than the median on every objective
compared), each objective followed by one instance of this class.

Cost.  A completed trial's curve never changes, so its running averages are computed once and
cached by trial name; the sorted running averages of the completed trials at a step are built
the first time a running trial reaches that step and then kept up to date by insertion as
trials complete (at most :data:`MAX_CACHED_STEPS` steps are kept, least recently used first out).
A running trial's best value so far is updated from its new observations only.  A decision
therefore costs one pass over the trial list plus a few dictionary look-ups per running trial,
with 10 or 10,000 finished trials.  The stopper is deterministic and keeps no state that a
restarted controller needs: its caches are rebuilt from the history.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import ExperimentSpec, ObjectiveType, Observation, Trial
from tunery.settings import INTEGER
from tunery.stopping.base import register

if TYPE_CHECKING:
    from tunery.stopping.median_pareto import ParetoMedianStop

__all__ = [
    "DEFAULT_MIN_TRIALS_REQUIRED",
    "DEFAULT_START_STEP",
    "MAX_CACHED_STEPS",
    "MedianStop",
    "MedianStopSettings",
    "parse_settings",
    "validate",
]

#: Katib's default for ``min_trials_required``.
DEFAULT_MIN_TRIALS_REQUIRED = 3
#: Katib's default for ``start_step``.
DEFAULT_START_STEP = 4
#: How many steps' sorted running averages are kept at most.
MAX_CACHED_STEPS = 1024

_PATH = "spec.earlyStopping.algorithmSettings"


@dataclass(frozen=True)
class MedianStopSettings:
    """The validated settings of ``medianstop``."""

    min_trials_required: int = DEFAULT_MIN_TRIALS_REQUIRED
    start_step: int = DEFAULT_START_STEP


def _integer(index: int, name: str, value: str, rule: str, example: str) -> int:
    """An integer setting ``>= 1`` (both medianstop settings are), as Katib checks it."""
    text = value.strip()
    if not INTEGER.match(text):
        raise SpecError(
            f"{_PATH}[{index}].value",
            f"failed to validate {name}({value}): not an integer",
            f'give a whole number, e.g. value: "{example}"',
        )
    number = int(text)
    if number < 1:
        raise SpecError(
            f"{_PATH}[{index}].value",
            f"{name} must be {rule}, not {value!r}",
            f'e.g. value: "{example}"',
        )
    return number


def parse_settings(spec: ExperimentSpec) -> MedianStopSettings:
    """The spec's ``medianstop`` settings with Katib's defaults; a SpecError names a bad one."""
    es = spec.early_stopping
    if es is None:
        return MedianStopSettings()
    values: dict[str, int] = {}
    for i, setting in enumerate(es.algorithm_settings):
        if setting.name in values:
            raise SpecError(
                f"{_PATH}[{i}].name",
                f"duplicate setting {setting.name!r}",
                "give each setting once",
            )
        if setting.name == "min_trials_required":
            values[setting.name] = _integer(
                i, setting.name, setting.value, "greater than zero (>0)", "3"
            )
        elif setting.name == "start_step":
            values[setting.name] = _integer(
                i, setting.name, setting.value, "greater or equal than one (>=1)", "4"
            )
        else:
            raise SpecError(
                f"{_PATH}[{i}].name",
                f"unknown setting {setting.name!r} for algorithm medianstop",
                "medianstop knows min_trials_required (default 3) and start_step (default 4)",
            )
    return MedianStopSettings(**values)


def validate(spec: ExperimentSpec) -> None:
    """Katib's ``validate_medianstop_setting``: raises a SpecError naming the bad setting."""
    parse_settings(spec)


@dataclass(frozen=True)
class _Completed:
    """A completed trial's running averages: ``averages[i]`` is the mean up to ``steps[i]``."""

    steps: tuple[int, ...]
    averages: tuple[float, ...]
    #: The largest step the trial reported anything at (None: it reported nothing).
    reached: int | None
    #: How many observations the cache was built from (a changed curve is rebuilt).
    size: int

    def average_at(self, step: int) -> float | None:
        """The running average at ``step``, or None if it has not reached it / has no value."""
        if self.reached is None or self.reached < step:
            return None
        i = bisect.bisect_right(self.steps, step) - 1
        return self.averages[i] if i >= 0 else None


def _completed(curve: Sequence[Observation], metric: str) -> _Completed:
    # By step only (stable): a step may hold a missing value beside a number, and the running
    # average at the end of a step does not depend on the order of its values.
    points = sorted(
        ((o.step, o.value) for o in curve if o.metric_name == metric), key=lambda p: p[0]
    )
    reached = points[-1][0] if points else None
    steps: list[int] = []
    averages: list[float] = []
    total = 0.0
    count = 0
    for step, value in points:
        if value is None or not math.isfinite(value):
            continue
        total += value
        count += 1
        if steps and steps[-1] == step:
            averages[-1] = total / count
        else:
            steps.append(step)
            averages.append(total / count)
    return _Completed(tuple(steps), tuple(averages), reached, len(curve))


@dataclass
class _Progress:
    """A running trial's curve as read so far: how much of it, its best value, latest step."""

    size: int = 0
    best: float | None = None
    step: int | None = None
    #: The last observation read (the curve is read on from it while it stays in place).
    last: Observation | None = None


class MedianStop:
    """Stops a running trial whose best value so far is worse than the completed trials' median.

    See the module docstring for the rule.  ``decide`` may be called on every controller tick.
    """

    def __init__(
        self, spec: ExperimentSpec, *, metric: str | None = None, maximize: bool | None = None
    ) -> None:
        """``metric``/``maximize``: another metric than the objective's (one of several)."""
        self.settings = parse_settings(spec)
        self.metric = spec.objective.objective_metric_name if metric is None else metric
        self.maximize = (
            spec.objective.type is ObjectiveType.MAXIMIZE if maximize is None else maximize
        )
        self._completed: dict[str, _Completed] = {}
        #: step -> sorted running averages at that step of the completed trials that reached it.
        self._by_step: OrderedDict[int, list[float]] = OrderedDict()
        self._progress: dict[str, _Progress] = {}

    # ------------------------------------------------------------------ the protocol

    def decide(self, history: History) -> dict[str, str]:
        """``{trial name: reason}`` for the running trials to stop now."""
        curves = history.curves
        for entry in history.completed:
            self.take_completed(entry.trial.name, curves.get(entry.trial.name, ()))
        decisions: dict[str, str] = {}
        progress: dict[str, _Progress] = {}
        for trial in history.running_trials:
            state = self._advance(
                self._progress.get(trial.name) or _Progress(), curves.get(trial.name, ())
            )
            progress[trial.name] = state
            reason = self._judge(state, self._best(trial, state.best))
            if reason is not None:
                decisions[trial.name] = reason
        self._progress = progress
        return decisions

    # ------------------------------------------------------------------ the rule

    def median_at(self, step: int) -> tuple[float, int] | None:
        """The median of the completed trials' running averages at ``step`` and their number.

        None when no completed trial has a running average there.
        """
        values = self._averages_at(step)
        n = len(values)
        if n == 0:
            return None
        mid = n // 2
        median = values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2.0
        return median, n

    def _best(self, trial: Trial, best: float | None) -> float | None:
        """The better of the curve's best and the trial's summary (exact, thinned curve or not)."""
        summary = trial.metrics.get(self.metric)
        exact = None if summary is None else (summary.max if self.maximize else summary.min)
        if exact is None or not math.isfinite(exact):
            return best
        if best is None or (exact > best if self.maximize else exact < best):
            return exact
        return best

    def _judge(self, state: _Progress, best: float | None) -> str | None:
        step = state.step
        if step is None or best is None or step < self.settings.start_step:
            return None
        got = self.median_at(step)
        if got is None:
            return None
        median, n = got
        if n < self.settings.min_trials_required:
            return None
        worse = best < median if self.maximize else best > median
        if not worse:
            return None
        side = "below" if self.maximize else "above"
        trials = "trial's running average" if n == 1 else "trials' running averages"
        return (
            f"at step {step} the best {self.metric} so far {best:.6g} is {side} the median "
            f"{median:.6g} of {n} completed {trials}"
        )

    # ------------------------------------------------------------------ caches

    def _advance(self, state: _Progress, curve: Sequence[Observation]) -> _Progress:
        """Fold a running trial's new observations into its best value and latest step."""
        if len(curve) < state.size or (state.size and curve[state.size - 1] is not state.last):
            state = _Progress()  # not append-only (a long curve thinned): start over
        best, step = state.best, state.step
        for obs in curve[state.size :]:
            if obs.metric_name != self.metric:
                continue
            if step is None or obs.step > step:
                step = obs.step
            value = obs.value
            if value is None or not math.isfinite(value):
                continue
            if best is None or (value > best if self.maximize else value < best):
                best = value
        return _Progress(len(curve), best, step, curve[-1] if curve else None)

    def take_completed(self, name: str, curve: Sequence[Observation]) -> None:
        """Know a completed trial's curve (computed again only when it changed)."""
        cached = self._completed.get(name)
        if cached is None or cached.size != len(curve):
            self._add_completed(name, curve)

    def _add_completed(self, name: str, curve: Sequence[Observation]) -> None:
        old = self._completed.get(name)
        new = _completed(curve, self.metric)
        self._completed[name] = new
        for step, values in self._by_step.items():
            if old is not None:
                before = old.average_at(step)
                if before is not None:
                    del values[bisect.bisect_left(values, before)]
            after = new.average_at(step)
            if after is not None:
                bisect.insort(values, after)

    def _averages_at(self, step: int) -> list[float]:
        values = self._by_step.get(step)
        if values is not None:
            self._by_step.move_to_end(step)
            return values
        found = (c.average_at(step) for c in self._completed.values())
        values = sorted(v for v in found if v is not None)
        self._by_step[step] = values
        if len(self._by_step) > MAX_CACHED_STEPS:
            self._by_step.popitem(last=False)
        return values


def create(spec: ExperimentSpec) -> MedianStop | ParetoMedianStop:
    """Katib's rule, or with several objectives its Pareto-aware form."""
    if spec.objective.is_multi:
        from tunery.stopping.median_pareto import ParetoMedianStop

        return ParetoMedianStop(spec)
    return MedianStop(spec)


register("medianstop", create, validate)
