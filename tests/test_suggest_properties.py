"""Property tests (hypothesis) of every registered search algorithm.

For random small search spaces of all four parameter types (doubles with and without step, on
linear, log and normal scales; ints with and without step; discrete and categorical lists) and
random histories (finished with values, running, created, failed, killed, metrics unavailable,
early stopped; assignments in typed and in Katib's string form), over a few rounds of
``suggest`` calls whose trials then finish:

- every suggestion lies in the feasible space, typed and on its step;
- none repeats a configuration of the history (whatever its status) or of its own batch, and a
  finite space gives exactly ``min(count, configurations left)``: all of them until it is
  exhausted, then none;
- the same seed and the same history give the same suggestions;
- ``dump_state`` (through JSON) into a new suggester's ``load_state`` continues identically.

The algorithms come from the registry, so new ones are included.  Where an algorithm cannot take
a space, or a property does not apply, :data:`ADAPTERS` and the contract suite's exemptions
(``tunery.testing.suggest.EXEMPTIONS``, by the contract check of the same property) say why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import (
    NAS_ALGORITHMS,
    Assignment,
    Distribution,
    ExperimentSpec,
    MetricSummary,
    ParameterSpec,
    ParameterType,
    ParamValue,
    Trial,
    TrialCondition,
)
from tunery.space import SearchSpace
from tunery.suggest import Suggester, available, create_suggester
from tunery.testing import suggest as contract
from tunery.testing.suggest import (
    OBJECTIVE_METRIC,
    assert_feasible,
    categorical_param,
    discrete_param,
    double_param,
    int_param,
    make_spec,
)

#: The hyperparameter algorithms (enas and darts search spec.nasConfig, tested on their own).
ALGORITHMS = [a for a in available() if a not in NAS_ALGORITHMS]

# --------------------------------------------------------------------------- per algorithm


def _grid(algorithm: str, params: Sequence[ParameterSpec]) -> ExperimentSpec:
    """Katib's grid needs a step on every double: a double without one gets a third of its range."""
    stepped = []
    for p in params:
        fs = p.feasible_space
        if p.parameter_type is ParameterType.DOUBLE and fs.step is None:
            assert fs.min is not None and fs.max is not None
            step = (Decimal(fs.max) - Decimal(fs.min)) / 3 or Decimal(1)
            stepped.append(double_param(p.name, fs.min, fs.max, str(step), fs.distribution))
        else:
            stepped.append(p)
    return make_spec(stepped, algorithm)


def _settings(**values: str) -> Callable[[str, Sequence[ParameterSpec]], ExperimentSpec]:
    """Settings that let the model-based search run on the short histories drawn here."""

    def factory(algorithm: str, params: Sequence[ParameterSpec]) -> ExperimentSpec:
        return make_spec(params, algorithm, values)

    return factory


#: How each algorithm gets its spec (and why, where it is not the default).
ADAPTERS: dict[str, Callable[[str, Sequence[ParameterSpec]], ExperimentSpec]] = {
    **contract.SPEC_FACTORIES,  # required settings or parameter kinds (hyperband, cmaes, ...)
    "grid": _grid,
    # Both TPE names run the joint model by default: multivariate-tpe covers it, and tpe here
    # covers the other model (one per parameter).
    "tpe": _settings(n_startup_trials="3", multivariate="false"),
    "multivariate-tpe": _settings(n_startup_trials="3"),
    "bayesianoptimization": _settings(n_initial_points="3"),
    # A small population, so that the short histories drawn here breed generations.
    "nsga2": _settings(population_size="3"),
}

#: Examples per algorithm (the Gaussian process is the slow one).
EXAMPLES: dict[str, int] = {"bayesianoptimization": 10}
DEFAULT_EXAMPLES = 40


def _exempt(algorithm: str, check: str) -> str | None:
    return contract.EXEMPTIONS.get((algorithm, check))


def _spec(algorithm: str, params: Sequence[ParameterSpec]) -> ExperimentSpec:
    return ADAPTERS.get(algorithm, contract.default_spec_factory)(algorithm, params)


# --------------------------------------------------------------------------- spaces

_DISTRIBUTIONS = st.sampled_from([None, Distribution.UNIFORM, Distribution.NORMAL])
_LOG_DISTRIBUTIONS = st.sampled_from([Distribution.LOG_UNIFORM, Distribution.LOG_NORMAL])
_STEPS = st.sampled_from(["0.1", "0.25", "0.5", "1", "2.5"])


@st.composite
def _double(draw: st.DrawFn, name: str) -> ParameterSpec:
    log = draw(st.booleans())
    stepped = draw(st.booleans())
    if log:
        low = Decimal(draw(st.sampled_from(["0.001", "0.1", "1", "3"])))
        dist = draw(_LOG_DISTRIBUTIONS)
    else:
        low = Decimal(draw(st.integers(-20, 20))) / 4
        dist = draw(_DISTRIBUTIONS)
    if stepped:
        step = Decimal(draw(_STEPS))
        n = draw(st.integers(1, 5))
        high = low + step * (n - 1) + draw(st.sampled_from([Decimal(0), step / 3]))
        return double_param(name, str(low), str(high), str(step), dist)
    width = Decimal(draw(st.sampled_from(["0.5", "1", "7", "100"])))
    return double_param(name, str(low), str(low * (10 if log else 1) + width), None, dist)


@st.composite
def _int(draw: st.DrawFn, name: str) -> ParameterSpec:
    step = draw(st.sampled_from([None, 1, 2, 3]))
    n = draw(st.integers(1, 6))
    log = draw(st.booleans())
    low = draw(st.integers(1, 4)) if log else draw(st.integers(-5, 5))
    high = low + (n - 1) * (step or 1) + draw(st.integers(0, (step or 1) - 1))
    dist = draw(_LOG_DISTRIBUTIONS) if log else draw(_DISTRIBUTIONS)
    return int_param(name, str(low), str(high), None if step is None else str(step), dist)


@st.composite
def _discrete(draw: st.DrawFn, name: str) -> ParameterSpec:
    pool = ["1", "2", "3", "4.5", "-1", "0.25", "10", "2.0"]  # "2.0" is "2" again
    values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
    return discrete_param(name, values)


@st.composite
def _categorical(draw: st.DrawFn, name: str) -> ParameterSpec:
    pool = ["a", "b", "sgd", "adam", "relu", "1"]
    values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
    return categorical_param(name, values)


@st.composite
def spaces(draw: st.DrawFn) -> list[ParameterSpec]:
    kinds = draw(
        st.lists(st.sampled_from([_double, _int, _discrete, _categorical]), min_size=1, max_size=4)
    )
    return [draw(kind(f"p{i}")) for i, kind in enumerate(kinds)]


# --------------------------------------------------------------------------- histories

_STATUSES = [
    TrialCondition.SUCCEEDED,
    TrialCondition.SUCCEEDED,
    TrialCondition.RUNNING,
    TrialCondition.CREATED,
    TrialCondition.FAILED,
    TrialCondition.KILLED,
    TrialCondition.METRICS_UNAVAILABLE,
    TrialCondition.EARLY_STOPPED,
]


def _trial(
    index: int,
    params: Mapping[str, Any],
    status: TrialCondition,
    value: float | None,
    labels: Mapping[str, str] | None = None,
) -> Trial:
    finished = status in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED)
    objective = value if finished else None
    metrics = (
        {OBJECTIVE_METRIC: MetricSummary(objective, objective, objective)}
        if objective is not None
        else {}
    )
    return Trial(
        name=f"prop-{index:05d}",
        experiment="prop",
        index=index,
        parameters=dict(params),
        status=status,
        labels=dict(labels or {}),
        metrics=metrics,
        objective=objective,
    )


def _katib_form(params: Mapping[str, ParamValue], style: int) -> dict[str, Any]:
    """Typed values (0), Katib's strings (1), or ints written as floats (2)."""
    if style == 1:
        return {k: str(v) for k, v in params.items()}
    if style == 2:
        return {k: float(v) if isinstance(v, int) else v for k, v in params.items()}
    return dict(params)


def make_history(space: SearchSpace, seed: int, size: int) -> list[Trial]:
    """``size`` trials of random configurations (repeats possible), statuses and values."""
    rng = np.random.default_rng(seed)
    trials = []
    for index, params in enumerate(space.sample(rng, size), start=1):
        status = _STATUSES[int(rng.integers(len(_STATUSES)))]
        value = float(rng.normal()) if rng.random() > 0.05 else None
        style = int(rng.integers(3))
        trials.append(_trial(index, _katib_form(params, style), status, value))
    return trials


def _finish(trials: list[Trial], seed: int) -> list[Trial]:
    """Running trials mostly succeed (a toy objective), some fail, are killed or run on."""
    rng = np.random.default_rng(seed)
    out = []
    for t in trials:
        if t.status is TrialCondition.RUNNING:
            roll = rng.random()
            if roll < 0.7:
                value = contract.toy_objective(t.parameters) + 0.01 * float(rng.normal())
                t = _trial(t.index, t.parameters, TrialCondition.SUCCEEDED, value, t.labels)
            elif roll < 0.8:
                t = _trial(t.index, t.parameters, TrialCondition.FAILED, None, t.labels)
            elif roll < 0.9:
                t = _trial(t.index, t.parameters, TrialCondition.KILLED, None, t.labels)
        out.append(t)
    return out


Plan = list[tuple[int, int]]  # per round: (count, seed of the outcomes before it)


def play(
    suggester: Suggester,
    spec: ExperimentSpec,
    history: Sequence[Trial],
    plan: Plan,
    on_round: Callable[[int, list[Trial], list[Assignment]], None] | None = None,
    states: list[Any] | None = None,
) -> tuple[list[list[Trial]], list[list[dict[str, ParamValue]]]]:
    """Rounds of suggest; each round's suggestions run, then finish before the next round."""
    trials = list(history)
    seen: list[list[Trial]] = []
    batches: list[list[dict[str, ParamValue]]] = []
    for i, (count, seed) in enumerate(plan):
        trials = _finish(trials, seed)
        if states is not None:
            states.append(json.loads(json.dumps(suggester.dump_state(), allow_nan=False)))
        batch = suggester.suggest(History.from_spec(spec, trials), count)
        if on_round is not None:
            on_round(i, list(trials), batch)
        seen.append(list(trials))
        batches.append([dict(a.parameters) for a in batch])
        start = max((t.index for t in trials), default=0) + 1
        trials += [
            _trial(start + j, a.parameters, TrialCondition.RUNNING, None, a.labels)
            for j, a in enumerate(batch)
        ]
    return seen, batches


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[ParameterSpec], int, int, Plan, int]:
    """(parameters, history seed, history size, plan, suggester seed)."""
    params = draw(spaces())
    plan = draw(
        st.lists(st.tuples(st.integers(1, 5), st.integers(0, 1 << 16)), min_size=2, max_size=5)
    )
    return (
        params,
        draw(st.integers(0, 1 << 16)),
        draw(st.integers(0, 10)),
        plan,
        draw(st.integers(0, 1 << 30)),
    )


def _run_settings(algorithm: str) -> Callable[[Any], Any]:
    return settings(
        max_examples=EXAMPLES.get(algorithm, DEFAULT_EXAMPLES),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _prepare(algorithm: str, params: list[ParameterSpec]) -> tuple[ExperimentSpec, SearchSpace]:
    try:
        spec = _spec(algorithm, params)
        create_suggester(spec, 0)
    except SpecError as exc:  # a space the algorithm refuses (its adapter should prevent it)
        raise AssertionError(f"{algorithm} refused a generated space: {exc.one_line()}") from exc
    return spec, SearchSpace.from_spec(spec)


# --------------------------------------------------------------------------- the properties


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_suggestions_are_feasible_new_and_exhaust_finite_spaces(algorithm: str) -> None:
    feasible_why = _exempt(algorithm, "check_feasible")
    new_why = _exempt(algorithm, "check_no_duplicates")
    exhaust_why = _exempt(algorithm, "check_exhausts")
    if feasible_why and new_why and exhaust_why:
        pytest.skip(f"{feasible_why}; {new_why}; {exhaust_why}")

    @_run_settings(algorithm)
    @given(scenarios())
    def check(scenario: tuple[list[ParameterSpec], int, int, Plan, int]) -> None:
        params, history_seed, history_size, plan, seed = scenario
        spec, space = _prepare(algorithm, params)
        history = make_history(space, history_seed, history_size)
        size = space.size()

        def on_round(i: int, trials: list[Trial], batch: list[Assignment]) -> None:
            count = plan[i][0]
            assert len(batch) <= count, f"round {i}: {len(batch)} > {count} suggestions"
            if not feasible_why:
                for assignment in batch:
                    assert_feasible(space, assignment)
            tried = space.history_keys(trials)
            keys = [space.canonical(a.parameters) for a in batch]
            if not new_why:
                assert len(set(keys)) == len(keys), f"round {i}: a batch repeats itself"
                again = [a.parameters for a, k in zip(batch, keys, strict=True) if k in tried]
                assert not again, f"round {i}: {again} was already tried"
            if not exhaust_why:
                left = math.inf if size is None else size - len(tried)
                assert len(batch) == min(count, left), (
                    f"round {i}: {len(batch)} suggestions of {count} with {left} left"
                )

        play(create_suggester(spec, seed), spec, history, plan, on_round)

    check()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_seed_and_history_same_suggestions_and_resume_continues(algorithm: str) -> None:
    deterministic_why = _exempt(algorithm, "check_deterministic")
    resume_why = _exempt(algorithm, "check_state_roundtrip")
    if deterministic_why and resume_why:
        pytest.skip(f"{deterministic_why}; {resume_why}")

    @_run_settings(algorithm)
    @given(scenarios(), st.integers(0, 4))
    def check(scenario: tuple[list[ParameterSpec], int, int, Plan, int], cut: int) -> None:
        params, history_seed, history_size, plan, seed = scenario
        spec, space = _prepare(algorithm, params)
        history = make_history(space, history_seed, history_size)
        states: list[Any] = []
        seen, batches = play(create_suggester(spec, seed), spec, history, plan, states=states)
        if not deterministic_why:
            replay = create_suggester(spec, seed)
            again = [
                [dict(a.parameters) for a in replay.suggest(History.from_spec(spec, h), n)]
                for h, (n, _) in zip(seen, plan, strict=True)
            ]
            assert again == batches, "same seed and history, other suggestions"
        if not resume_why:
            cut_at = min(cut, len(plan) - 1)
            restored = create_suggester(spec, seed)
            if states[cut_at] is not None:
                restored.load_state(states[cut_at])
            resumed = [
                [dict(a.parameters) for a in restored.suggest(History.from_spec(spec, h), n)]
                for h, (n, _) in zip(seen[cut_at:], plan[cut_at:], strict=True)
            ]
            assert resumed == batches[cut_at:], f"resumed at round {cut_at}, diverged"

    check()
