"""``asha``: asynchronous successive halving as an early-stopping rule (not in Katib).

Use it with any search algorithm as the sampler::

    algorithm:
      algorithmName: tpe            # or random, bayesianoptimization, ...
    earlyStopping:
      algorithmName: asha
      algorithmSettings:
        - {name: min_resource, value: "1"}
        - {name: reduction_factor, value: "3"}

Every trial is started with the full budget (its command's epochs) and reports its objective at
each step (``epoch=3`` or the order of its lines, as for ``medianstop``).  The *rungs* are the
steps ``min_resource * reduction_factor ** (k + min_early_stopping_rate)`` for k = 0, 1, ...
(below ``max_resource`` when that is set).  When a trial first reports a step at or past a rung,
its value there (the objective reported at that step) joins the rung, and the trial is judged
at once: it goes on only if its value is among the best ``max(1, n // reduction_factor)`` of the
``n`` values the rung holds at that moment, itself included; otherwise it is stopped
(``EarlyStopped``, with the rung, its value and its rank as the reason).  Nobody waits for a
rung to fill, so parallel workers never idle: this is ASHA (Li et al., 2020), as Optuna's
``SuccessiveHalvingPruner`` also implements it.

Settings (all optional):

- ``min_resource``: integer ``>= 1``, default ``1``; the step of the first rung;
- ``reduction_factor``: integer ``>= 2``, default ``3``; a rung keeps one in this many;
- ``min_early_stopping_rate``: integer ``>= 0``, default ``0``; skips the first rungs;
- ``max_resource``: integer ``>= 1``, no default; rungs at or past it never stop a trial (a
  trial that has reached its full budget is about to finish anyway).

Values that are NaN, infinite or unavailable never enter a rung.  A trial judged at a rung is
not judged there again.  The rungs live in memory and are rebuilt from the stored learning
curves when a controller restarts: finished trials' rung values are re-entered first, then each
running trial is judged, once, at the rungs it has reached, against everything recorded so far
(so a decision may differ from what an uninterrupted controller would have decided, never in
a way that stops a trial for a rung it has not reached).

A trial that reports its objective more than 10,000 times has its curve thinned by the
controller (:mod:`tunery.thinning`): past that, the value entering a rung is the first one
*kept* at or past the rung's step, at most the stride (256 at a million reports) later.

With several objectives, or with constraints, the rungs rank trials by feasibility,
non-dominated rank and crowding distance instead: :mod:`tunery.stopping.asha_pareto`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import ExperimentSpec, ObjectiveType, Observation
from tunery.settings import INTEGER
from tunery.stopping.base import register

if TYPE_CHECKING:
    from tunery.stopping.asha_pareto import ParetoAsha

__all__ = ["Asha", "AshaSettings", "create", "parse_settings", "validate"]

_PATH = "spec.earlyStopping.algorithmSettings"
_SETTINGS = {
    "min_resource": (1, "1"),
    "reduction_factor": (2, "3"),
    "min_early_stopping_rate": (0, "0"),
    "max_resource": (1, "50"),
}


@dataclass(frozen=True)
class AshaSettings:
    """The validated settings of ``asha``."""

    min_resource: int = 1
    reduction_factor: int = 3
    min_early_stopping_rate: int = 0
    max_resource: int | None = None

    def rung_step(self, k: int) -> int:
        """The step of rung ``k`` (0-based)."""
        return self.min_resource * self.reduction_factor ** (k + self.min_early_stopping_rate)

    def judged(self, k: int) -> bool:
        """Whether rung ``k`` can stop a trial (it lies below ``max_resource``)."""
        return self.max_resource is None or self.rung_step(k) < self.max_resource


def parse_settings(spec: ExperimentSpec) -> AshaSettings:
    """The spec's ``asha`` settings with defaults; a SpecError names a bad one."""
    es = spec.early_stopping
    values: dict[str, int] = {}
    for i, setting in enumerate(es.algorithm_settings if es else ()):
        if setting.name in values:
            raise SpecError(
                f"{_PATH}[{i}].name",
                f"duplicate setting {setting.name!r}",
                "give each setting once",
            )
        rule = _SETTINGS.get(setting.name)
        if rule is None:
            raise SpecError(
                f"{_PATH}[{i}].name",
                f"unknown setting {setting.name!r} for early stopping asha",
                "asha knows min_resource, reduction_factor, min_early_stopping_rate and "
                "max_resource",
            )
        low, example = rule
        text = setting.value.strip()
        if not INTEGER.match(text) or int(text) < low:
            raise SpecError(
                f"{_PATH}[{i}].value",
                f"{setting.name} must be an integer >= {low}, not {setting.value!r}",
                f'e.g. value: "{example}"',
            )
        values[setting.name] = int(text)
    return AshaSettings(**values)


def validate(spec: ExperimentSpec) -> None:
    """Raise a SpecError naming the first bad ``asha`` setting."""
    parse_settings(spec)


@dataclass
class _Seen:
    """How much of a trial's curve has been read, and how many rungs it has entered."""

    size: int = 0
    rungs: int = 0
    #: Stopped at a rung: what it reports afterwards enters no rung.
    stopped: bool = False
    #: The last observation read (the curve is read on from it while it stays in place).
    last: Observation | None = None


class Asha:
    """Asynchronous successive halving over the trials' reported steps."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.settings = parse_settings(spec)
        self.metric = spec.objective.objective_metric_name
        self.maximize = spec.objective.type is ObjectiveType.MAXIMIZE
        #: rung index -> sorted scores (higher is better) of the trials that entered it.
        self._rungs: list[list[float]] = []
        self._seen: dict[str, _Seen] = {}

    def decide(self, history: History) -> dict[str, str]:
        """``{trial name: reason}`` for the running trials to stop now."""
        curves = history.curves
        for entry in history.entries:
            if entry.trial.status.is_completed:  # finished: enters rungs, judged no more
                self._advance(entry.trial.name, curves.get(entry.trial.name, ()), judge=False)
        decisions: dict[str, str] = {}
        for trial in history.running_trials:
            reason = self._advance(trial.name, curves.get(trial.name, ()), judge=True)
            if reason is not None:
                decisions[trial.name] = reason
        return decisions

    def rung_sizes(self) -> list[int]:
        """How many trials entered each rung so far."""
        return [len(r) for r in self._rungs]

    def _advance(self, name: str, curve: Sequence[Observation], *, judge: bool) -> str | None:
        seen = self._seen.get(name)
        if seen is None:
            seen = self._seen[name] = _Seen()
        if len(curve) < seen.size or (seen.size and curve[seen.size - 1] is not seen.last):
            # Not append-only (a long curve thinned): read it again, without re-entering.
            seen.size = 0
        stop: str | None = None
        for obs in curve[seen.size :]:
            if seen.stopped:
                break
            if obs.metric_name != self.metric or obs.value is None:
                continue
            if not math.isfinite(obs.value):
                continue
            score = obs.value if self.maximize else -obs.value
            while obs.step >= self.settings.rung_step(seen.rungs):
                k = seen.rungs
                seen.rungs += 1
                if not self.settings.judged(k):
                    break
                while len(self._rungs) <= k:
                    self._rungs.append([])
                rung = self._rungs[k]
                bisect.insort(rung, score)
                if judge:
                    stop = self._judge(k, rung, score, obs.value)
                    if stop is not None:
                        seen.stopped = True
                        break
        seen.size = len(curve)
        seen.last = curve[-1] if curve else None
        return stop

    def _judge(self, k: int, rung: list[float], score: float, value: float) -> str | None:
        n = len(rung)
        keep = max(1, n // self.settings.reduction_factor)
        better = n - bisect.bisect_right(rung, score)
        if better < keep:
            return None
        step = self.settings.rung_step(k)
        return (
            f"at rung {k} (step {step}) {self.metric}={value:.6g} ranks {better + 1} of {n}; "
            f"only the best {keep} go on (reduction_factor {self.settings.reduction_factor})"
        )


def create(spec: ExperimentSpec) -> Asha | ParetoAsha:
    """The single-objective rule, or with several objectives or constraints the Pareto one."""
    objective = spec.objective
    if objective.is_multi or objective.constraints:
        from tunery.stopping.asha_pareto import ParetoAsha

        return ParetoAsha(spec)
    return Asha(spec)


register("asha", create, validate)
