"""The suggester contract suite, and helpers to build specs and histories in tests.

Every algorithm registered in :mod:`tunery.suggest.base` must pass these checks; they are plain
functions so that a test module can parametrize them over :func:`tunery.suggest.available`
(algorithms added later included).  Each takes an algorithm name and a :data:`SpecFactory` that
builds a valid spec for that algorithm from a list of parameters (so algorithms with required
settings, such as hyperband's ``resource_name``, pass their own factory), and raises
``AssertionError`` with a message when the contract is broken:

- :func:`check_feasible`: every suggestion lies in the feasible space, typed and on its step;
- :func:`check_no_duplicates`: nothing equal (canonically) to a trial of the history, whatever
  its status, or to another suggestion of the same batch;
- :func:`check_deterministic`: same seed and same history give the same suggestions;
- :func:`check_state_roundtrip`: ``dump_state`` (through JSON) into a new instance's
  ``load_state`` continues identically;
- :func:`check_exhausts`: a tiny finite space ends: ``[]`` once every configuration is tried;
- :func:`check_rejects_unknown_setting`: an unknown setting is a SpecError naming it;
- :func:`check_conditional` (algorithms registered ``conditional=True``): on a tree of
  parameters, every suggestion names exactly its active parameters and lies in the space.

:func:`run_contract` runs them all.  Histories are simulated: each round's suggestions become
trials; the trials of earlier rounds have succeeded with a deterministic objective, the last
round's are still running.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import (
    AlgorithmSetting,
    AlgorithmSpec,
    Assignment,
    Distribution,
    ExperimentSpec,
    FeasibleSpace,
    MetricSummary,
    Objective,
    ObjectiveType,
    ParameterSpec,
    ParameterType,
    ParamValue,
    Trial,
    TrialCondition,
    TrialTemplate,
)
from tunery.space import SearchSpace
from tunery.suggest.base import Suggester, create_suggester

__all__ = [
    "EXEMPTIONS",
    "OBJECTIVE_METRIC",
    "SPEC_FACTORIES",
    "SpecFactory",
    "categorical_param",
    "check_conditional",
    "check_deterministic",
    "check_exhausts",
    "check_feasible",
    "check_no_duplicates",
    "check_rejects_unknown_setting",
    "check_state_roundtrip",
    "cmaes_spec_factory",
    "conditional_parameters",
    "default_parameters",
    "default_spec_factory",
    "discrete_param",
    "double_param",
    "enas_spec_factory",
    "hyperband_spec_factory",
    "int_param",
    "make_spec",
    "make_trials",
    "pbt_spec_factory",
    "run_contract",
    "simulate",
    "tiny_conditional_parameters",
    "tiny_parameters",
    "toy_objective",
]

OBJECTIVE_METRIC = "loss"

#: Builds a valid spec for an algorithm (by name) over the given parameters.
SpecFactory = Callable[[str, Sequence[ParameterSpec]], ExperimentSpec]


# --------------------------------------------------------------------------- building specs


def double_param(
    name: str,
    min: str,
    max: str,
    step: str | None = None,
    distribution: Distribution | str | None = None,
) -> ParameterSpec:
    return ParameterSpec(
        name,
        ParameterType.DOUBLE,
        FeasibleSpace(min=min, max=max, step=step, distribution=_dist(distribution)),
    )


def int_param(
    name: str,
    min: str,
    max: str,
    step: str | None = None,
    distribution: Distribution | str | None = None,
) -> ParameterSpec:
    return ParameterSpec(
        name,
        ParameterType.INT,
        FeasibleSpace(min=min, max=max, step=step, distribution=_dist(distribution)),
    )


def discrete_param(name: str, values: Sequence[str]) -> ParameterSpec:
    return ParameterSpec(name, ParameterType.DISCRETE, FeasibleSpace(list=tuple(values)))


def categorical_param(name: str, values: Sequence[str]) -> ParameterSpec:
    return ParameterSpec(name, ParameterType.CATEGORICAL, FeasibleSpace(list=tuple(values)))


def _dist(distribution: Distribution | str | None) -> Distribution | None:
    return None if distribution is None else Distribution(distribution)


def make_spec(
    parameters: Sequence[ParameterSpec],
    algorithm: str = "random",
    settings: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    max_trial_count: int | None = None,
    *,
    name: str = "contract",
    objective_type: ObjectiveType = ObjectiveType.MINIMIZE,
    parallel_trial_count: int = 3,
    objective: Objective | None = None,
) -> ExperimentSpec:
    """A native ExperimentSpec with the given parameters and algorithm (a test helper);
    ``objective`` replaces the single ``objective_type`` objective (several objectives,
    constraints)."""
    pairs = list(settings.items()) if isinstance(settings, Mapping) else list(settings or ())
    if objective is None:
        objective = Objective(type=objective_type, objective_metric_name=OBJECTIVE_METRIC)
    return ExperimentSpec(
        name=name,
        objective=objective,
        algorithm=AlgorithmSpec(
            algorithm_name=algorithm,
            algorithm_settings=tuple(AlgorithmSetting(k, v) for k, v in pairs),
        ),
        parameters=tuple(parameters),
        trial_template=TrialTemplate(command=("true",)),
        parallel_trial_count=parallel_trial_count,
        max_trial_count=max_trial_count,
        source_format="native",
    )


def default_spec_factory(algorithm: str, parameters: Sequence[ParameterSpec]) -> ExperimentSpec:
    """:func:`make_spec` with no settings."""
    return make_spec(parameters, algorithm)


def hyperband_spec_factory(algorithm: str, parameters: Sequence[ParameterSpec]) -> ExperimentSpec:
    """A spec for ``hyperband``: the parameters plus an int ``epochs`` resource (1 to 9, R = 9)."""
    resource = int_param("hb_epochs", "1", "9")
    return make_spec(
        [*parameters, resource],
        algorithm,
        {"resource_name": "hb_epochs", "r_l": "9", "eta": "3"},
    )


def cmaes_spec_factory(algorithm: str, parameters: Sequence[ParameterSpec]) -> ExperimentSpec:
    """A spec for ``cmaes``: small int parameters added until it has the two double/int it needs."""
    numeric = sum(p.parameter_type in (ParameterType.DOUBLE, ParameterType.INT) for p in parameters)
    extra = [int_param(f"cma_{i}", "0", str(i + 1)) for i in range(max(0, 2 - numeric))]
    return make_spec([*parameters, *extra], algorithm)


def pbt_spec_factory(algorithm: str, parameters: Sequence[ParameterSpec]) -> ExperimentSpec:
    """A spec for ``pbt``: its required settings, a population of 5."""
    settings = {
        "suggestion_trial_dir": "/var/log/katib/checkpoints/",
        "n_population": "5",
        "truncation_threshold": "0.4",
    }
    return make_spec(parameters, algorithm, settings)


#: Spec factories of the algorithms that need settings or parameters the default lacks.
def enas_spec_factory(algorithm: str, parameters: Sequence[ParameterSpec]) -> ExperimentSpec:
    """A spec for ``enas``: a neural architecture search of 3 layers over 6 operations (the
    parameters are ignored: it has none), with a small, quickly trained controller."""
    from dataclasses import replace

    from tunery.model import GraphConfig, NasConfig, NasOperation

    spec = make_spec(
        [],
        algorithm,
        {"controller_hidden_size": "8", "controller_train_steps": "3"},
    )
    nas = NasConfig(
        graph_config=GraphConfig(num_layers=3, input_sizes=(8, 8, 1), output_sizes=(2,)),
        operations=(
            NasOperation("convolution", (categorical_param("filter_size", ["3", "5"]),)),
            NasOperation("reduction", (int_param("pool_size", "2", "5"),)),
        ),
    )
    return replace(spec, nas_config=nas)


SPEC_FACTORIES: dict[str, SpecFactory] = {
    "hyperband": hyperband_spec_factory,
    "cmaes": cmaes_spec_factory,
    "pbt": pbt_spec_factory,
    "enas": enas_spec_factory,
}

#: ``(algorithm, check name) -> reason`` for contract checks that do not apply to an algorithm.
EXEMPTIONS: dict[tuple[str, str], str] = {
    ("pbt", "check_no_duplicates"): "PBT continues members with their values across generations",
    ("pbt", "check_exhausts"): "PBT runs generations until maxTrialCount, reusing values",
    ("hyperband", "check_exhausts"): (
        "hyperband ends after its bracket schedule, not when the space is exhausted"
    ),
    ("enas", "check_feasible"): "enas assigns architectures (strings), not parameters",
    ("enas", "check_no_duplicates"): "enas samples architectures from its controller, as Katib",
    ("enas", "check_exhausts"): "enas samples architectures until maxTrialCount, as Katib",
}


def default_parameters() -> list[ParameterSpec]:
    """A mixed space of all four types, steps and distributions (finite, so grid runs it)."""
    return [
        double_param("lr", "0.001", "0.1", step="0.001", distribution="logUniform"),
        double_param("momentum", "0.5", "0.99", step="0.01", distribution="normal"),
        int_param("layers", "1", "8"),
        int_param("units", "16", "256", step="16", distribution="logUniform"),
        discrete_param("batch", ["16", "32", "64"]),
        categorical_param("optimizer", ["sgd", "adam", "rmsprop"]),
    ]


def tiny_parameters() -> list[ParameterSpec]:
    """Six configurations: a categorical of two and an int of three."""
    return [categorical_param("c", ["p", "q"]), int_param("n", "1", "3")]


def conditional_parameters() -> list[ParameterSpec]:
    """A tree of parameters (finite, so grid runs it): ``model`` chooses ``C`` and ``kernel``
    (svm; ``degree`` under kernel poly) or ``depth`` (rf), or nothing (knn); ``seed_k`` is
    always active."""
    return [
        categorical_param("model", ["svm", "rf", "knn"]),
        _when(
            double_param("C", "0.01", "10", step="0.01", distribution="logUniform"), "model", "svm"
        ),
        _when(categorical_param("kernel", ["rbf", "poly"]), "model", "svm"),
        _when(int_param("degree", "2", "5"), "kernel", "poly"),
        _when(int_param("depth", "2", "12"), "model", "rf"),
        int_param("seed_k", "1", "3"),
    ]


def tiny_conditional_parameters() -> list[ParameterSpec]:
    """Six configurations in a tree: ``c`` p with ``n`` from 1 to 4, or q with ``m`` 1 or 2."""
    return [
        categorical_param("c", ["p", "q"]),
        _when(int_param("n", "1", "4"), "c", "p"),
        _when(int_param("m", "1", "2"), "c", "q"),
    ]


def _when(param: ParameterSpec, parent: str, *values: str) -> ParameterSpec:
    return ParameterSpec(
        param.name, param.parameter_type, param.feasible_space, ((parent, tuple(values)),)
    )


# --------------------------------------------------------------------------- histories


def toy_objective(params: Mapping[str, ParamValue]) -> float:
    """A deterministic objective of any configuration (a test helper)."""
    total = 0.0
    for _, value in sorted(params.items()):
        if isinstance(value, str):
            total += (sum(map(ord, value)) % 7) / 7.0
        else:
            number = float(value)
            total += (number - 0.3) ** 2 if abs(number) < 1e6 else 1e12
    return total


def make_trials(
    assignments: Sequence[Mapping[str, ParamValue] | Assignment],
    *,
    start: int = 1,
    status: TrialCondition = TrialCondition.SUCCEEDED,
    objective: Callable[[Mapping[str, ParamValue]], float] = toy_objective,
    experiment: str = "contract",
) -> list[Trial]:
    """Trials for the given assignments; succeeded ones carry the objective's value."""
    trials: list[Trial] = []
    for offset, item in enumerate(assignments):
        params = dict(item.parameters if isinstance(item, Assignment) else item)
        labels = dict(item.labels) if isinstance(item, Assignment) else {}
        index = start + offset
        value = objective(params) if status is TrialCondition.SUCCEEDED else None
        metrics = {} if value is None else {OBJECTIVE_METRIC: MetricSummary(value, value, value)}
        trials.append(
            Trial(
                name=f"{experiment}-{index:05d}",
                experiment=experiment,
                index=index,
                parameters=params,
                status=status,
                labels=labels,
                metrics=metrics,
                objective=value,
            )
        )
    return trials


def _finish(trial: Trial) -> Trial:
    value = toy_objective(trial.parameters)
    return Trial(
        name=trial.name,
        experiment=trial.experiment,
        index=trial.index,
        parameters=trial.parameters,
        status=TrialCondition.SUCCEEDED,
        labels=trial.labels,
        metrics={OBJECTIVE_METRIC: MetricSummary(value, value, value)},
        objective=value,
    )


def simulate(
    suggester: Suggester,
    spec: ExperimentSpec,
    rounds: int,
    count: int,
    history: Sequence[Trial] = (),
    *,
    on_round: Callable[[int, list[Trial], list[Assignment]], None] | None = None,
) -> tuple[list[Trial], list[list[Assignment]]]:
    """Run ``rounds`` suggest calls: earlier trials succeed, the newest stay running.

    ``spec`` is the suggester's (its History is built from it).  Returns the final history
    and the suggestions of each round.  ``on_round(i, history,
    suggestions)`` is called after each round with the history the suggester saw.
    """
    trials = list(history)
    batches: list[list[Assignment]] = []
    for i in range(rounds):
        trials = [_finish(t) if t.status is TrialCondition.RUNNING else t for t in trials]
        batch = suggester.suggest(History.from_spec(spec, list(trials)), count)
        if on_round is not None:
            on_round(i, list(trials), batch)
        batches.append(batch)
        start = max((t.index for t in trials), default=0) + 1
        trials += make_trials(batch, start=start, status=TrialCondition.RUNNING)
    return trials, batches


def _params(batches: Sequence[Sequence[Assignment]]) -> list[list[dict[str, ParamValue]]]:
    return [[dict(a.parameters) for a in batch] for batch in batches]


# --------------------------------------------------------------------------- the checks


def _type_ok(param: ParameterSpec, value: object) -> bool:
    ptype = param.parameter_type
    if isinstance(value, bool):
        return False
    if ptype is ParameterType.DOUBLE:
        return isinstance(value, float) and math.isfinite(value)
    if ptype is ParameterType.INT:
        return isinstance(value, int)
    if ptype is ParameterType.CATEGORICAL:
        return isinstance(value, str)
    return isinstance(value, int | float)


def assert_feasible(space: SearchSpace, assignment: Assignment) -> None:
    """One suggestion: exactly the space's (active) names, typed, inside the space and on its
    step."""
    params = dict(assignment.parameters)
    names = set(space.names)
    if space.conditional:  # the active parameters only
        key = space.try_canonical(params)
        assert key is not None, f"{params} is not in the feasible space"
        names = {name for name, code in zip(space.names, key, strict=True) if code is not None}
    assert set(params) == names, f"names {sorted(params)} != {sorted(names)}"
    for param in space.parameters:
        if param.name not in names:
            continue
        value = params[param.name]
        assert _type_ok(param, value), (
            f"{param.name}={value!r} has the wrong type for {param.parameter_type.value}"
        )
    assert space.contains(params), f"{params} is not in the feasible space"
    assert space.normalize(params) == params, f"{params} is not canonical (rounded to its step)"


def check_feasible(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    parameters: Sequence[ParameterSpec] | None = None,
    *,
    seed: int = 7,
    rounds: int = 6,
    count: int = 4,
) -> None:
    """Every suggestion is feasible, typed and canonical."""
    spec = spec_factory(algorithm, parameters or default_parameters())
    space = SearchSpace.from_spec(spec)
    _, batches = simulate(create_suggester(spec, seed), spec, rounds, count)
    assert any(batches), f"{algorithm} suggested nothing"
    for batch in batches:
        assert len(batch) <= count, f"{algorithm} returned {len(batch)} > {count} suggestions"
        for assignment in batch:
            assert_feasible(space, assignment)


def check_no_duplicates(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    parameters: Sequence[ParameterSpec] | None = None,
    *,
    seed: int = 7,
    rounds: int = 8,
    count: int = 5,
) -> None:
    """No suggestion equals a history trial (any status) or another one of its batch."""
    params = parameters or [categorical_param("c", ["a", "b", "c"]), int_param("n", "0", "9")]
    spec = spec_factory(algorithm, params)
    space = SearchSpace.from_spec(spec)
    # A prior history of every status; one configuration written in string form (as Katib
    # passes assignments), one with ints written as floats.
    seeded: list[dict[str, ParamValue]] = space.sample(np.random.default_rng(0), 4)
    seeded[2] = {name: str(value) for name, value in seeded[2].items()}
    seeded[3] = {
        name: float(value) if isinstance(value, int) else value for name, value in seeded[3].items()
    }
    statuses = (
        TrialCondition.SUCCEEDED,
        TrialCondition.FAILED,
        TrialCondition.RUNNING,
        TrialCondition.CREATED,
    )
    history: list[Trial] = []
    for i, (status, cfg) in enumerate(zip(statuses, seeded, strict=True)):
        history += make_trials([cfg], start=i + 1, status=status)

    def on_round(i: int, seen: list[Trial], batch: list[Assignment]) -> None:
        keys = space.history_keys(seen)
        batch_keys = [space.canonical(a.parameters) for a in batch]
        assert len(set(batch_keys)) == len(batch_keys), f"round {i}: duplicates in {batch}"
        again = [a.parameters for a, k in zip(batch, batch_keys, strict=True) if k in keys]
        assert not again, f"round {i}: {again} already in the history"

    simulate(create_suggester(spec, seed), spec, rounds, count, history, on_round=on_round)


def check_deterministic(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    parameters: Sequence[ParameterSpec] | None = None,
    *,
    seed: int = 11,
    rounds: int = 5,
    count: int = 3,
) -> None:
    """Two fresh suggesters with the same seed, fed the same history, suggest the same."""
    spec = spec_factory(algorithm, parameters or default_parameters())
    seen: list[list[Trial]] = []
    _, first = simulate(
        create_suggester(spec, seed),
        spec,
        rounds,
        count,
        on_round=lambda _i, history, _batch: seen.append(history),
    )
    replay = create_suggester(spec, seed)
    second = [replay.suggest(History.from_spec(spec, history), count) for history in seen]
    assert _params(first) == _params(second), f"{algorithm} is not deterministic"


def check_state_roundtrip(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    parameters: Sequence[ParameterSpec] | None = None,
    *,
    seed: int = 13,
    rounds: int = 4,
    count: int = 3,
) -> None:
    """dump_state (through JSON) -> a new instance's load_state -> identical continuation."""
    spec = spec_factory(algorithm, parameters or default_parameters())
    original = create_suggester(spec, seed)
    history, _ = simulate(original, spec, rounds, count)
    for i in range(3):
        state = original.dump_state()
        restored = create_suggester(spec, seed)
        if state is not None:
            restored.load_state(json.loads(json.dumps(state)))
        history = [_finish(t) if t.status is TrialCondition.RUNNING else t for t in history]
        a = original.suggest(History.from_spec(spec, list(history)), count)
        b = restored.suggest(History.from_spec(spec, list(history)), count)
        assert _params([a]) == _params([b]), f"{algorithm}: restored state diverges at {i}"
        start = max((t.index for t in history), default=0) + 1
        history += make_trials(a, start=start, status=TrialCondition.RUNNING)


def check_exhausts(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    parameters: Sequence[ParameterSpec] | None = None,
    *,
    seed: int = 17,
    count: int = 4,
    max_rounds: int = 50,
) -> None:
    """A tiny finite space: every configuration once, then ``[]``."""
    params = parameters or tiny_parameters()
    spec = spec_factory(algorithm, params)
    space = SearchSpace.from_spec(spec)
    size = space.size()
    assert size is not None, "check_exhausts needs a finite space"
    suggester = create_suggester(spec, seed)
    trials: list[Trial] = []
    seen: set[tuple[int | float | None, ...]] = set()
    for _ in range(max_rounds):
        trials = [_finish(t) if t.status is TrialCondition.RUNNING else t for t in trials]
        batch = suggester.suggest(History.from_spec(spec, list(trials)), count)
        if not batch:
            break
        for assignment in batch:
            key = space.canonical(assignment.parameters)
            assert key not in seen, f"{assignment.parameters} suggested twice"
            seen.add(key)
        trials += make_trials(batch, start=len(trials) + 1, status=TrialCondition.RUNNING)
    else:
        raise AssertionError(f"{algorithm} never stopped on a space of {size} configurations")
    assert len(seen) == size, f"{algorithm} ended after {len(seen)} of {size} configurations"
    done = [_finish(t) for t in trials]
    assert suggester.suggest(History.from_spec(spec, done), count) == [], (
        f"{algorithm} suggests past the end"
    )


def check_conditional(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    parameters: Sequence[ParameterSpec] | None = None,
    *,
    seed: int = 19,
    rounds: int = 8,
    count: int = 4,
) -> None:
    """For an algorithm registered ``conditional=True``: on a tree of parameters every
    suggestion names exactly its active parameters (inactive ones absent), lies in the space,
    and nothing repeats; then a tiny conditional space is exhausted (unless exempt)."""
    spec = spec_factory(algorithm, parameters or conditional_parameters())
    space = SearchSpace.from_spec(spec)
    assert space.conditional, "check_conditional needs parameters with active_when"
    _, batches = simulate(create_suggester(spec, seed), spec, rounds, count)
    assert any(batches), f"{algorithm} suggested nothing on a conditional space"
    keys = []
    for batch in batches:
        for assignment in batch:
            assert_feasible(space, assignment)
            keys.append(space.canonical(assignment.parameters))
    assert len(set(keys)) == len(keys), f"{algorithm} repeated a configuration"
    if parameters is None and (algorithm, "check_exhausts") not in EXEMPTIONS:
        check_exhausts(algorithm, spec_factory, tiny_conditional_parameters(), seed=seed)


def check_rejects_unknown_setting(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    parameters: Sequence[ParameterSpec] | None = None,
) -> None:
    """An unknown algorithm setting is a SpecError naming ``spec.algorithm.algorithmSettings``."""
    spec = spec_factory(algorithm, parameters or default_parameters())
    settings = (*spec.algorithm.algorithm_settings, AlgorithmSetting("no_such_setting", "1"))
    bad = ExperimentSpec(
        **{
            **{f: getattr(spec, f) for f in spec.__dataclass_fields__},
            "algorithm": AlgorithmSpec(algorithm, settings),
        }
    )
    try:
        create_suggester(bad, 0)
    except SpecError as error:
        assert error.path.startswith("spec.algorithm.algorithmSettings"), error.path
        assert error.hint, "a SpecError needs a hint"
        return
    raise AssertionError(f"{algorithm} accepted an unknown setting")


def run_contract(
    algorithm: str,
    spec_factory: SpecFactory = default_spec_factory,
    **options: Any,
) -> None:
    """Every check of the suite, for one algorithm."""
    for check in (
        check_feasible,
        check_no_duplicates,
        check_deterministic,
        check_state_roundtrip,
        check_exhausts,
        check_rejects_unknown_setting,
    ):
        check(algorithm, spec_factory, **options)
