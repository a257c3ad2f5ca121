"""Tests of the ``cmaes`` suggester (CMA-ES on the ``cmaes`` package)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunery
from tunery.errors import SpecError
from tunery.history import History
from tunery.model import (
    Assignment,
    ExperimentSpec,
    ObjectiveType,
    ParameterSpec,
    ParameterType,
    ParamValue,
    Trial,
    TrialCondition,
)
from tunery.space import SearchSpace
from tunery.suggest import Suggester, available, create_suggester
from tunery.suggest.base import validate_algorithm
from tunery.suggest.cmaes import DEFAULT_SIGMA, CMAESSuggester
from tunery.testing import suggest as contract
from tunery.testing.suggest import (
    assert_feasible,
    categorical_param,
    default_parameters,
    discrete_param,
    double_param,
    int_param,
    make_spec,
    make_trials,
)

ALGORITHM = "cmaes"
Objective = Callable[[Mapping[str, ParamValue]], float]
PLANE = [double_param("x", "-5", "5"), double_param("y", "-5", "5")]
PLANE_SPEC = make_spec(PLANE, ALGORITHM)


def sphere(p: Mapping[str, ParamValue]) -> float:
    return (float(p["x"]) - 1.0) ** 2 + (float(p["y"]) + 2.0) ** 2


def padded_factory(
    settings: Mapping[str, str] | None = None,
) -> Callable[[str, Sequence[ParameterSpec]], ExperimentSpec]:
    """Contract specs with int parameters added until cmaes has the two it needs."""

    def factory(algorithm: str, parameters: Sequence[ParameterSpec]) -> ExperimentSpec:
        params = list(parameters)
        numeric = sum(p.parameter_type in (ParameterType.DOUBLE, ParameterType.INT) for p in params)
        params += [int_param(f"pad{i}", "0", "1") for i in range(max(0, 2 - numeric))]
        return make_spec(params, algorithm, settings)

    return factory


def run(
    suggester: Suggester,
    spec: ExperimentSpec,
    objective: Objective,
    budget: int,
    batch: int = 1,
    history: Sequence[Trial] = (),
) -> list[Trial]:
    """Ask/tell loop: every batch is evaluated before the next call."""
    trials = list(history)
    while len(trials) < budget:
        history_now = History.from_spec(spec, trials)
        assignments = suggester.suggest(history_now, min(batch, budget - len(trials)))
        if not assignments:
            break
        trials += make_trials(assignments, start=len(trials) + 1, objective=objective)
    return trials


def generation(suggester: Suggester) -> int:
    assert isinstance(suggester, CMAESSuggester)
    return int(suggester._cma().generation)


# --------------------------------------------------------------------------- settings


def test_registered_under_its_katib_name() -> None:
    assert ALGORITHM in available()
    assert isinstance(create_suggester(make_spec(PLANE, ALGORITHM), 0), CMAESSuggester)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"restart_strategy": "ipop", "sigma": "0.1", "random_state": "10"},  # Katib's test
        {"restart_strategy": "None"},
        {"restart_strategy": "none", "sigma": "0"},
        {"restart_strategy": "bipop", "sigma": "2"},
    ],
)
def test_katib_settings_are_accepted(settings: dict[str, str]) -> None:
    params = [int_param("param-1", "1", "5"), int_param("param-2", "9", "10")]
    spec = make_spec(params, ALGORITHM, settings)
    suggester = create_suggester(spec, 0)
    assert isinstance(suggester, CMAESSuggester)
    assert len(suggester.suggest(History.from_spec(spec, []), 3)) == 3


def test_sigma_defaults_and_zero_means_default() -> None:
    default = create_suggester(make_spec(PLANE, ALGORITHM), 0)
    zero = create_suggester(make_spec(PLANE, ALGORITHM, {"sigma": "0"}), 0)
    set_ = create_suggester(make_spec(PLANE, ALGORITHM, {"sigma": "0.3"}), 0)
    assert isinstance(default, CMAESSuggester)
    assert isinstance(zero, CMAESSuggester)
    assert isinstance(set_, CMAESSuggester)
    assert default.sigma0 == zero.sigma0 == DEFAULT_SIGMA
    assert set_.sigma0 == 0.3


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("restart_strategy", "invalid", "restart_strategy invalid is not supported"),
        ("restart_strategy", "", "is not supported in CMAES optimization"),
        ("sigma", "-10", "sigma should be greater than or equal to zero"),
        ("sigma", "big", r"failed to validate sigma\(big\)"),
        ("sigma", "inf", "not a finite number"),
        ("random_state", "-20", "random_state should be greater than or equal to zero"),
        ("random_state", "1.5", "failed to validate random_state"),
        ("invalid", "invalid", "unknown setting invalid for algorithm cmaes"),
        ("popsize", "10", "unknown setting popsize for algorithm cmaes"),
    ],
)
def test_bad_settings_name_their_path(name: str, value: str, message: str) -> None:
    spec = make_spec(PLANE, ALGORITHM, [("sigma", "0.1"), (name, value)])
    with pytest.raises(SpecError, match=message) as info:
        create_suggester(spec, 0)
    assert info.value.path == "spec.algorithm.algorithmSettings[1]"
    assert info.value.hint


@pytest.mark.parametrize(
    "params",
    [
        [int_param("param-1", "1", "5")],
        [double_param("x", "0", "1"), categorical_param("c", ["a", "b"])],
        [double_param("x", "0", "1"), discrete_param("d", ["1", "2", "3"])],
    ],
)
def test_needs_two_double_or_int_parameters(params: list[ParameterSpec]) -> None:
    with pytest.raises(SpecError, match="two or more dimensional continuous") as info:
        validate_algorithm(make_spec(params, ALGORITHM))
    assert info.value.path == "spec.parameters"
    assert info.value.hint


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize(
    "settings",
    [{"restart_strategy": "ipop", "sigma": "0.3"}, {"restart_strategy": "bipop"}],
)
def test_contract_with_settings(settings: dict[str, str]) -> None:
    contract.run_contract(ALGORITHM, padded_factory(settings))


def test_every_parameter_type_stays_feasible_in_batches() -> None:
    params = default_parameters()
    space = SearchSpace(params)
    spec = make_spec(params, ALGORITHM)
    suggester = create_suggester(spec, 3)

    def objective(p: Mapping[str, ParamValue]) -> float:
        return (
            (math.log10(float(p["lr"])) + 2) ** 2
            + float(p["layers"]) / 8
            + (p["optimizer"] == "adam") * -1.0
            + float(p["batch"]) / 64
        )

    trials = run(suggester, spec, objective, 60, batch=4)
    assert len(trials) == 60
    for trial in trials:
        assert_feasible(space, Assignment(trial.parameters))
    assert len(space.history_keys(trials)) == 60
    assert generation(suggester) >= 5


def test_a_small_finite_space_is_exhausted_without_duplicates() -> None:
    params = [
        int_param("a", "0", "2"),
        int_param("b", "0", "2"),
        categorical_param("c", ["p", "q"]),
    ]
    space = SearchSpace(params)
    spec = make_spec(params, ALGORITHM)
    suggester = create_suggester(spec, 0)
    trials = run(suggester, spec, lambda p: float(p["a"]) + float(p["b"]), 100, batch=4)
    assert len(trials) == 18
    assert len(space.history_keys(trials)) == 18
    assert suggester.suggest(History.from_spec(spec, trials), 3) == []


def test_stepped_doubles_round_and_never_repeat_as_sigma_shrinks() -> None:
    params = [double_param("x", "0", "1", step="0.1"), int_param("n", "0", "20", step="5")]
    space = SearchSpace(params)
    spec = make_spec(params, ALGORITHM, {"sigma": "0.01"})
    suggester = create_suggester(spec, 5)

    def objective(p: Mapping[str, ParamValue]) -> float:
        return (float(p["x"]) - 0.5) ** 2 + (float(p["n"]) - 10) ** 2

    trials = run(suggester, spec, objective, 55, batch=2)
    assert len(trials) == 55 == len(space.history_keys(trials))
    for trial in trials:
        assert_feasible(space, Assignment(trial.parameters))


# --------------------------------------------------------------------------- generations


def test_a_generation_is_told_once_all_its_members_finished() -> None:
    spec = make_spec(PLANE, ALGORITHM)
    suggester = create_suggester(spec, 1)
    assert isinstance(suggester, CMAESSuggester)
    popsize = suggester.popsize0
    assert popsize == 6  # 4 + floor(3 ln 2)
    trials = run(suggester, spec, sphere, popsize - 1)
    suggester.suggest(History.from_spec(spec, trials), 1)
    assert generation(suggester) == 0
    trials = run(suggester, spec, sphere, popsize)
    assert generation(suggester) == 0
    trials = run(suggester, spec, sphere, popsize + 1, history=trials)
    assert generation(suggester) == 1


def test_population_covers_the_parallel_trials() -> None:
    spec = make_spec(PLANE, ALGORITHM, parallel_trial_count=10)
    suggester = create_suggester(spec, 0)
    assert isinstance(suggester, CMAESSuggester)
    assert suggester.popsize0 == 10


def test_more_slots_than_members_get_extra_members() -> None:
    spec = make_spec(PLANE, ALGORITHM)
    suggester = create_suggester(spec, 2)
    first = suggester.suggest(History.from_spec(spec, []), 9)
    assert len(first) == 9
    running = make_trials(first, status=TrialCondition.RUNNING)
    # Six finish; the generation is told although three extras still run.
    done = make_trials(first[:6], objective=sphere) + running[6:]
    second = suggester.suggest(History.from_spec(spec, done), 2)
    assert len(second) == 2
    assert generation(suggester) == 1


def test_failed_members_count_and_killed_members_are_replaced() -> None:
    spec = make_spec(PLANE, ALGORITHM)
    suggester = create_suggester(spec, 3)
    batch = suggester.suggest(History.from_spec(spec, []), 6)
    history = (
        make_trials(batch[:3], objective=sphere)
        + make_trials(batch[3:5], start=4, status=TrialCondition.FAILED)
        + make_trials(batch[5:], start=6, status=TrialCondition.KILLED)
    )
    more = suggester.suggest(History.from_spec(spec, history), 1)
    assert generation(suggester) == 0  # five of six finished: a killed member does not count
    history += make_trials(more, start=7, status=TrialCondition.METRICS_UNAVAILABLE)
    suggester.suggest(History.from_spec(spec, history), 1)
    assert generation(suggester) == 1


def test_every_trial_failing_still_moves_on() -> None:
    spec = make_spec(PLANE, ALGORITHM)
    suggester = create_suggester(spec, 4)
    trials: list[Trial] = []
    for _ in range(5):
        batch = suggester.suggest(History.from_spec(spec, trials), 6)
        trials += make_trials(batch, start=len(trials) + 1, status=TrialCondition.FAILED)
    assert generation(suggester) == 4
    assert len(SearchSpace(PLANE).history_keys(trials)) == 30


def test_maximize_mirrors_minimize() -> None:
    def negated(p: Mapping[str, ParamValue]) -> float:
        return -sphere(p)

    low = run(create_suggester(PLANE_SPEC, 6), PLANE_SPEC, sphere, 30, batch=3)
    spec = make_spec(PLANE, ALGORITHM, objective_type=ObjectiveType.MAXIMIZE)
    high = run(create_suggester(spec, 6), spec, negated, 30, batch=3)
    assert [t.parameters for t in low] == [t.parameters for t in high]


def test_random_state_overrides_the_seed() -> None:
    spec = make_spec(PLANE, ALGORITHM, {"random_state": "5"})
    first = run(create_suggester(spec, 1), spec, sphere, 14)
    second = run(create_suggester(spec, 2), spec, sphere, 14)
    third = run(create_suggester(PLANE_SPEC, 2), PLANE_SPEC, sphere, 14)
    assert [t.parameters for t in first] == [t.parameters for t in second]
    assert [t.parameters for t in first] != [t.parameters for t in third]


def test_finds_the_optimum_of_a_sphere() -> None:
    trials = run(create_suggester(PLANE_SPEC, 0), PLANE_SPEC, sphere, 150)
    best = min(t.objective for t in trials if t.objective is not None)
    assert best < 1e-3
    rng = np.random.default_rng(0)
    random_best = min(sphere(p) for p in SearchSpace(PLANE).sample(rng, 150))
    assert best < random_best / 10


# --------------------------------------------------------------------------- restarts


def restarts(suggester: Suggester) -> int:
    state = suggester.dump_state()
    assert state is not None
    return int(state["restarts"])


@pytest.mark.parametrize("strategy", ["ipop", "bipop"])
def test_restarts_when_the_search_has_converged(strategy: str) -> None:
    spec = make_spec(PLANE, ALGORITHM, {"restart_strategy": strategy})
    suggester = create_suggester(spec, 0)
    assert isinstance(suggester, CMAESSuggester)
    # A flat objective: the package's tolfun criterion fires after its history fills.
    trials = run(suggester, spec, lambda p: 1.0, 400, batch=6)
    assert len(trials) == 400
    assert restarts(suggester) >= 1
    optimizer = suggester._cma()
    if strategy == "ipop":
        assert optimizer.population_size == 6 * 2 ** restarts(suggester)
    state = suggester.dump_state()
    replay = create_suggester(spec, 0)
    assert state is not None
    replay.load_state(json.loads(json.dumps(state)))
    assert replay.suggest(History.from_spec(spec, trials), 4) == suggester.suggest(
        History.from_spec(spec, trials), 4
    )


def test_no_restart_without_a_strategy() -> None:
    spec = make_spec(PLANE, ALGORITHM)
    suggester = create_suggester(spec, 0)

    run(suggester, spec, lambda p: 1.0, 400, batch=6)
    assert restarts(suggester) == 0


# --------------------------------------------------------------------------- state


def test_state_is_strict_json_and_resumes_mid_generation() -> None:
    spec = make_spec(default_parameters(), ALGORITHM)
    original = create_suggester(spec, 9)

    def objective(p: Mapping[str, ParamValue]) -> float:
        return contract.toy_objective(p)

    trials = run(original, spec, objective, 20, batch=3)  # generation of 9: mid-generation
    state = original.dump_state()
    text = json.dumps(state, allow_nan=False)
    restored = create_suggester(spec, 9)
    restored.load_state(json.loads(text))
    for _ in range(8):
        a = original.suggest(History.from_spec(spec, trials), 3)
        b = restored.suggest(History.from_spec(spec, trials), 3)
        assert [x.parameters for x in a] == [x.parameters for x in b]
        trials += make_trials(a, start=len(trials) + 1, objective=objective)
    assert json.loads(json.dumps(original.dump_state())) == restored.dump_state()


def test_an_unreadable_state_starts_afresh(caplog: pytest.LogCaptureFixture) -> None:
    spec = make_spec(PLANE, ALGORITHM)
    fresh = create_suggester(spec, 1).suggest(History.from_spec(spec, []), 3)
    for bad in (
        {"version": 99},
        {"version": 1, "cmaes": {"nonsense": 1}},
        {"version": 1, "members": [{"x": [0.5], "key": [1.0]}]},
    ):
        suggester = create_suggester(spec, 1)
        with caplog.at_level(logging.WARNING, logger="tunery.suggest.cmaes"):
            suggester.load_state(bad)
        assert "unreadable algorithm state" in caplog.text
        assert suggester.suggest(History.from_spec(spec, []), 3) == fresh


def test_a_lost_generation_only_blocks_its_configurations() -> None:
    """A controller that crashed before saving the state: its trials exist, the state is old."""
    spec = make_spec(PLANE, ALGORITHM)
    suggester = create_suggester(spec, 2)
    trials = run(suggester, spec, sphere, 6)
    saved = suggester.dump_state()
    lost = suggester.suggest(History.from_spec(spec, trials), 3)
    trials += make_trials(lost, start=7, status=TrialCondition.RUNNING)
    resumed = create_suggester(spec, 2)
    assert saved is not None
    resumed.load_state(saved)
    again = resumed.suggest(History.from_spec(spec, trials), 3)
    space = SearchSpace(PLANE)
    assert not {space.canonical(a.parameters) for a in again} & space.history_keys(trials)


# --------------------------------------------------------------------------- ask/tell


def test_ask_tell_optimizer_runs_and_resumes_identically(tmp_path: Path) -> None:
    space: dict[str, Any] = {
        "x": tunery.search.double(-5, 5),
        "y": tunery.search.int(-5, 5),
        "c": tunery.search.categorical(["a", "b"]),
    }

    def f(p: Mapping[str, Any]) -> float:
        return (p["x"] - 1) ** 2 + (p["y"] + 2) ** 2 + (p["c"] == "b")

    def drive(opt: tunery.Optimizer, n: int) -> list[dict[str, Any]]:
        seen = []
        for _ in range(n):
            s = opt.ask()
            seen.append(s.params)
            opt.tell(s, f(s.params))
        return seen

    plain = tunery.Optimizer(space, algorithm=ALGORITHM, seed=4)
    expected = drive(plain, 25)
    assert plain.best is not None
    db = str(tmp_path / "cma.db")
    with tunery.Optimizer(space, algorithm=ALGORITHM, seed=4, storage=db, name="cma") as first:
        got = drive(first, 10)
    with tunery.Optimizer(space, algorithm=ALGORITHM, seed=4, storage=db, name="cma") as again:
        got += drive(again, 15)
    assert got == expected


# --------------------------------------------------------------------------- the controller


def _scripted(launch: Any) -> Any:
    """A fake trial that prints ``score`` = minus the squared distance to (2, 1)."""
    from tunery.testing.executor import TrialScript

    args = dict(arg[2:].split("=", 1) for arg in launch.argv if arg.startswith("--"))
    score = -((float(args["a"]) - 2) ** 2) - (float(args["b"]) - 1) ** 2
    return TrialScript(duration=10.0, lines=[(9.0, f"score={score}")])


def _experiment(tmp_path: Path, params: list[dict[str, Any]], max_trials: int) -> Any:
    from tests.helpers import create, native_doc
    from tunery.storage import Store

    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    doc = native_doc("cma", "", parameters=params, algorithm=ALGORITHM, parallel=4)
    doc["spec"]["maxTrialCount"] = max_trials
    create(store, doc, tmp_path)
    return store


def test_a_controller_runs_cmaes_until_a_small_space_is_exhausted(tmp_path: Path) -> None:
    from tunery.clock import FakeClock
    from tunery.controller import Controller
    from tunery.model import ExperimentReason
    from tunery.testing.executor import FakeExecutor

    params = [
        {"name": "a", "parameterType": "int", "feasibleSpace": {"min": "0", "max": "3"}},
        {"name": "b", "parameterType": "int", "feasibleSpace": {"min": "0", "max": "2"}},
    ]
    store = _experiment(tmp_path, params, 100)
    clock = FakeClock()
    Controller(store, "cma", FakeExecutor(clock, _scripted), clock=clock, poll_interval=5.0).run()
    assert store.get_experiment("cma").reason == ExperimentReason.SUGGESTION_END_REACHED
    trials = store.list_trials("cma")
    assert len(trials) == 12
    assert len({(t.parameters["a"], t.parameters["b"]) for t in trials}) == 12
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials)
    state = store.load_algorithm_state("cma")
    assert state is not None and state["cmaes"] is not None
    store.close()


def test_a_restarted_controller_continues_the_same_search(tmp_path: Path) -> None:
    from tunery.clock import FakeClock
    from tunery.controller import Controller
    from tunery.testing.executor import FakeExecutor

    params = [
        {"name": "a", "parameterType": "double", "feasibleSpace": {"min": "-5", "max": "5"}},
        {"name": "b", "parameterType": "double", "feasibleSpace": {"min": "-5", "max": "5"}},
    ]
    runs = []
    for restart in (False, True):
        where = tmp_path / str(restart)
        where.mkdir()
        store = _experiment(where, params, 30)
        clock = FakeClock()
        if restart:  # a controller that stops mid-generation, then a new one resumes
            first = Controller(
                store, "cma", FakeExecutor(clock, _scripted), clock=clock, poll_interval=5.0
            )
            first.run(max_ticks=7)
            first.release()
        Controller(
            store, "cma", FakeExecutor(clock, _scripted), clock=clock, poll_interval=5.0
        ).run()
        runs.append([dict(t.parameters) for t in store.list_trials("cma")])
        store.close()
    assert len(runs[0]) == 30
    assert runs[0] == runs[1]
