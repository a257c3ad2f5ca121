"""Multi-objective and constrained test problems, and a loop that tunes them (tests, benchmarks).

A :class:`Problem` is a named function from a configuration to its metrics (every objective's
and every constraint's), with its parameters, objectives, constraints and the fixed reference
point its hypervolume is measured against.  :func:`run` tunes one with a registered algorithm
through the same :class:`~tunery.history.History` the controller builds, in batches, and returns
the trials; :func:`hypervolume_of` measures them (feasible trials only).

The problems (every objective minimised):

- ``zdt1(n)``, ``zdt2(n)``, ``zdt3(n)``: Zitzler, Deb and Thiele's two-objective problems over
  ``n`` doubles in ``[0, 1]`` (convex, concave and disconnected fronts).
- ``dtlz2(n)``: Deb et al.'s three-objective problem (a spherical front) over ``n`` doubles.
- ``constrained_zdt1(n)``: ``zdt1`` with the constraint ``x0 + x1 + x2 <= 0.6`` on a metric
  ``load`` (about 3.6% of the space is feasible).
- ``constrained_sphere(n)``: one objective, ``sum((x - 0.7)^2)``, under ``sum(x) <= 0.5 n``
  (half of the space is feasible; the unconstrained optimum is not).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tunery.history import History
from tunery.model import (
    AlgorithmSetting,
    AlgorithmSpec,
    Constraint,
    ExperimentSpec,
    MetricStrategyType,
    MetricSummary,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    ParameterSpec,
    ParamValue,
    Trial,
    TrialCondition,
    TrialTemplate,
)
from tunery.pareto import constrained_front, hypervolume
from tunery.suggest.base import create_suggester
from tunery.testing.suggest import double_param

__all__ = [
    "Problem",
    "constrained_sphere",
    "constrained_zdt1",
    "dtlz2",
    "feasible",
    "hypervolume_of",
    "losses_of",
    "make_spec",
    "run",
    "trial_of",
    "values_of",
    "violations_of",
    "zdt1",
    "zdt2",
    "zdt3",
]

Metrics = Mapping[str, float]


@dataclass(frozen=True)
class Problem:
    """A test problem: parameters, objectives (all minimised), constraints, reference point."""

    name: str
    parameters: tuple[ParameterSpec, ...]
    objectives: tuple[str, ...]
    constraints: tuple[Constraint, ...]
    reference: tuple[float, ...]
    #: The metrics of a configuration.
    metrics: Callable[[Mapping[str, ParamValue]], dict[str, float]]
    #: Objectives maximised instead (for tests that mirror a problem; the scores here assume
    #: every objective minimised).
    maximize: tuple[str, ...] = ()

    def violations(self, metrics: Metrics) -> tuple[float, ...]:
        """Signed constraint values (``<= 0``: satisfied), min bound first."""
        out: list[float] = []
        for c in self.constraints:
            value = metrics[c.metric]
            if c.min is not None:
                out.append(c.min - value)
            if c.max is not None:
                out.append(value - c.max)
        return tuple(out)


def _unit_params(n: int) -> tuple[ParameterSpec, ...]:
    return tuple(double_param(f"x{i}", "0", "1") for i in range(n))


def _vector(
    n: int, f: Callable[[Sequence[float]], dict[str, float]]
) -> Callable[[Mapping[str, ParamValue]], dict[str, float]]:
    """``f`` of the doubles ``x0 .. x{n-1}``."""

    def metrics(params: Mapping[str, ParamValue]) -> dict[str, float]:
        return f([float(params[f"x{i}"]) for i in range(n)])

    return metrics


def _zdt(name: str, n: int, h: Callable[[float, float], float]) -> Problem:
    def evaluate(x: Sequence[float]) -> dict[str, float]:
        g = 1.0 + 9.0 * sum(x[1:]) / max(1, n - 1)
        return {"f1": x[0], "f2": g * h(x[0], g)}

    return Problem(name, _unit_params(n), ("f1", "f2"), (), (1.1, 11.0), _vector(n, evaluate))


def zdt1(n: int = 5) -> Problem:
    return _zdt("zdt1", n, lambda f1, g: 1.0 - math.sqrt(f1 / g))


def zdt2(n: int = 5) -> Problem:
    return _zdt("zdt2", n, lambda f1, g: 1.0 - (f1 / g) ** 2)


def zdt3(n: int = 5) -> Problem:
    return _zdt(
        "zdt3",
        n,
        lambda f1, g: 1.0 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10.0 * math.pi * f1),
    )


def dtlz2(n: int = 6) -> Problem:
    def evaluate(x: Sequence[float]) -> dict[str, float]:
        g = sum((v - 0.5) ** 2 for v in x[2:])
        a, b = 0.5 * math.pi * x[0], 0.5 * math.pi * x[1]
        r = 1.0 + g
        return {
            "f1": r * math.cos(a) * math.cos(b),
            "f2": r * math.cos(a) * math.sin(b),
            "f3": r * math.sin(a),
        }

    return Problem(
        "dtlz2", _unit_params(n), ("f1", "f2", "f3"), (), (2.5, 2.5, 2.5), _vector(n, evaluate)
    )


def constrained_zdt1(n: int = 5) -> Problem:
    base = zdt1(n)

    def metrics(params: Mapping[str, ParamValue]) -> dict[str, float]:
        load = sum(float(params[f"x{i}"]) for i in range(3))
        return {**base.metrics(params), "load": load}

    return Problem(
        "constrained-zdt1",
        base.parameters,
        base.objectives,
        (Constraint("load", max=0.6),),
        base.reference,
        metrics,
    )


def constrained_sphere(n: int = 4) -> Problem:
    def evaluate(x: Sequence[float]) -> dict[str, float]:
        return {"loss": sum((v - 0.7) ** 2 for v in x), "total": sum(x)}

    return Problem(
        "constrained-sphere",
        _unit_params(n),
        ("loss",),
        (Constraint("total", max=0.5 * n),),
        (float(n),),
        _vector(n, evaluate),
    )


# --------------------------------------------------------------------------- tuning


def make_spec(
    problem: Problem,
    algorithm: str,
    settings: Mapping[str, str] | None = None,
    *,
    parallel_trial_count: int = 1,
    max_trial_count: int | None = None,
) -> ExperimentSpec:
    """The experiment spec of a problem: its objectives (minimised unless in ``maximize``) and
    constraints."""
    terms = tuple(
        ObjectiveTerm(
            m,
            ObjectiveType.MAXIMIZE if m in problem.maximize else ObjectiveType.MINIMIZE,
            None,
            MetricStrategyType.LATEST,
        )
        for m in problem.objectives
    )
    return ExperimentSpec(
        name=problem.name,
        objective=Objective(
            type=terms[0].type,
            objective_metric_name=problem.objectives[0],
            terms=terms,
            constraints=problem.constraints,
        ),
        algorithm=AlgorithmSpec(
            algorithm_name=algorithm,
            algorithm_settings=tuple(AlgorithmSetting(k, v) for k, v in (settings or {}).items()),
        ),
        parameters=problem.parameters,
        trial_template=TrialTemplate(command=("true",)),
        parallel_trial_count=parallel_trial_count,
        max_trial_count=max_trial_count,
        source_format="native",
    )


def trial_of(problem: Problem, index: int, params: Mapping[str, ParamValue]) -> Trial:
    """A succeeded trial of ``params`` with the problem's metrics."""
    metrics = problem.metrics(params)
    return Trial(
        name=f"{problem.name}-{index:05d}",
        experiment=problem.name,
        index=index,
        parameters=dict(params),
        status=TrialCondition.SUCCEEDED,
        metrics={k: MetricSummary(v, v, v) for k, v in metrics.items()},
        objective=metrics[problem.objectives[0]],
    )


def run(
    problem: Problem,
    algorithm: str,
    evaluations: int,
    seed: int,
    *,
    batch: int = 1,
    settings: Mapping[str, str] | None = None,
) -> list[Trial]:
    """Tune ``problem`` for ``evaluations`` trials (its ``maxTrialCount``), ``batch``
    suggestions per call."""
    spec = make_spec(
        problem, algorithm, settings, parallel_trial_count=batch, max_trial_count=evaluations
    )
    suggester = create_suggester(spec, seed)
    trials: list[Trial] = []
    while len(trials) < evaluations:
        history = History.from_spec(spec, trials)
        assignments = suggester.suggest(history, min(batch, evaluations - len(trials)))
        if not assignments:
            break
        for assignment in assignments:
            trials.append(trial_of(problem, len(trials) + 1, assignment.parameters))
    return trials


def losses_of(problem: Problem, trials: Sequence[Trial]) -> np.ndarray:
    """The objective values of ``trials``, shape ``(n, objectives)``."""
    return np.array(
        [[t.metrics[m].latest for m in problem.objectives] for t in trials], dtype=np.float64
    ).reshape(-1, len(problem.objectives))


def feasible(problem: Problem, trials: Sequence[Trial]) -> list[bool]:
    """Whether each trial satisfies every constraint."""
    return [all(v <= 0 for v in problem.violations(values_of(t))) for t in trials]


def violations_of(problem: Problem, trial: Trial) -> tuple[float, ...]:
    """A trial's signed constraint values (``<= 0``: satisfied)."""
    return problem.violations(values_of(trial))


def values_of(trial: Trial) -> dict[str, float]:
    """A trial's latest value of each metric."""
    return {k: s.latest for k, s in trial.metrics.items() if s.latest is not None}


def hypervolume_of(problem: Problem, trials: Sequence[Trial]) -> float:
    """The hypervolume of the feasible trials' front against the problem's reference point."""
    losses = losses_of(problem, trials)
    ok = feasible(problem, trials)
    violations = [() if f else (1.0,) for f in ok] if problem.constraints else None
    front = constrained_front(losses.tolist(), violations)
    return hypervolume(losses[front].tolist(), problem.reference)
