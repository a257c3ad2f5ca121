"""Tests of the Gaussian-process ``bayesianoptimization`` suggester."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import (
    Assignment,
    ExperimentSpec,
    ObjectiveType,
    ParameterSpec,
    ParamValue,
    Trial,
    TrialCondition,
)
from tunery.space import SearchSpace
from tunery.suggest import Suggester, create_suggester
from tunery.suggest.gp import (
    MAX_GP_POINTS,
    GPSuggester,
)
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

ALGORITHM = "bayesianoptimization"
Objective = Callable[[Mapping[str, ParamValue]], float]


def params_of(assignments: Sequence[Assignment]) -> list[dict[str, ParamValue]]:
    return [dict(a.parameters) for a in assignments]


def run(
    suggester: Suggester,
    spec: ExperimentSpec,
    objective: Objective,
    budget: int,
    batch: int = 1,
    history: Sequence[Trial] = (),
) -> list[Trial]:
    """Ask/tell loop: every suggestion is evaluated before the next call."""
    trials = list(history)
    while len(trials) < budget:
        history_now = History.from_spec(spec, trials)
        assignments = suggester.suggest(history_now, min(batch, budget - len(trials)))
        if not assignments:
            break
        trials += make_trials(assignments, start=len(trials) + 1, objective=objective)
    return trials


# --------------------------------------------------------------------------- test functions


def branin(p: Mapping[str, ParamValue]) -> float:
    x1, x2 = float(p["x1"]), float(p["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
     [17, 8, 0.05, 10, 0.1, 14]]
)  # fmt: skip
_H_P = 1e-4 * np.array(
    [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
)  # fmt: skip
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: Mapping[str, ParamValue]) -> float:
    x = np.array([float(p[f"x{i}"]) for i in range(6)])
    return float(-(_H_ALPHA * np.exp(-(_H_A * (x - _H_P) ** 2).sum(1))).sum())


BRANIN = [double_param("x1", "-5", "10"), double_param("x2", "0", "15")]
HARTMANN6 = [double_param(f"x{i}", "0", "1") for i in range(6)]


def best_of(trials: Sequence[Trial]) -> float:
    return min(t.objective for t in trials if t.objective is not None)


# --------------------------------------------------------------------------- settings


def test_katib_settings_are_accepted() -> None:
    for settings in (
        {},
        {"base_estimator": "GP", "n_initial_points": "5", "acq_func": "EI"},
        {"base_estimator": "RF", "acq_func": "gp_hedge", "acq_optimizer": "auto"},
        {"base_estimator": "ET", "acq_func": "LCB", "acq_optimizer": "sampling"},
        {"base_estimator": "GBRT", "acq_func": "PI", "acq_optimizer": "lbfgs"},
        {"acq_func": "EIps", "random_state": "0", "n_initial_points": "0"},
        {"acq_func": "PIps"},
    ):
        suggester = create_suggester(make_spec(BRANIN, ALGORITHM, settings), 1)
        assert isinstance(suggester, GPSuggester)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("base_estimator", "SVM", "base_estimator SVM is not supported"),
        ("n_initial_points", "-1", "should be great or equal than zero"),
        ("n_initial_points", "ten", "failed to validate n_initial_points"),
        ("acq_func", "UCB", "acq_func UCB is not supported"),
        ("acq_optimizer", "adam", "acq_optimizer adam is not supported"),
        ("random_state", "-3", "random_state should be greater than or equal to zero"),
        ("random_state", "x", "failed to validate random_state"),
        ("kappa", "1.0", "unknown setting kappa for algorithm bayesianoptimization"),
    ],
)
def test_bad_settings_name_their_path(name: str, value: str, message: str) -> None:
    spec = make_spec(BRANIN, ALGORITHM, [("acq_func", "EI"), (name, value)])
    with pytest.raises(SpecError, match=message) as info:
        create_suggester(spec, 0)
    assert info.value.path == "spec.algorithm.algorithmSettings[1]"
    assert info.value.hint


def test_random_state_overrides_the_seed() -> None:
    spec = make_spec(BRANIN, ALGORITHM, {"random_state": "5", "n_initial_points": "3"})
    first = run(create_suggester(spec, 1), spec, branin, 6)
    second = run(create_suggester(spec, 2), spec, branin, 6)
    assert [t.parameters for t in first] == [t.parameters for t in second]


# --------------------------------------------------------------------------- behaviour


def test_every_parameter_type_stays_feasible_in_batches() -> None:
    params = default_parameters()
    spec = make_spec(params, ALGORITHM, {"n_initial_points": "4"})
    space = SearchSpace(params)
    suggester = create_suggester(spec, 3)

    def objective(p: Mapping[str, ParamValue]) -> float:
        return (
            (math.log10(float(p["lr"])) + 2) ** 2
            + float(p["layers"]) / 8
            + (p["optimizer"] == "adam") * -1.0
            + float(p["batch"]) / 64
        )

    trials = run(suggester, spec, objective, 20, batch=3)
    assert len(trials) == 20
    for trial in trials:
        assert_feasible(space, Assignment(trial.parameters))
    assert len(space.history_keys(trials)) == 20


def test_a_finite_space_is_exhausted_without_duplicates() -> None:
    params = [int_param("n", "0", "4"), categorical_param("c", ["a", "b", "c"])]
    space = SearchSpace(params)
    spec = make_spec(params, ALGORITHM, {"n_initial_points": "2"})
    suggester = create_suggester(spec, 0)

    def objective(p: Mapping[str, ParamValue]) -> float:
        return (float(p["n"]) - 2) ** 2 + (p["c"] == "b")

    trials = run(suggester, spec, objective, 100, batch=4)
    assert len(trials) == 15
    assert len(space.history_keys(trials)) == 15
    assert suggester.suggest(History.from_spec(spec, trials), 3) == []


def test_never_repeats_the_history_whatever_its_status() -> None:
    params = [int_param("n", "0", "9"), discrete_param("d", ["1", "2", "4"])]
    space = SearchSpace(params)
    spec = make_spec(params, ALGORITHM, {"n_initial_points": "3"})
    grid = list(space.grid())
    statuses = [
        TrialCondition.FAILED,
        TrialCondition.RUNNING,
        TrialCondition.CREATED,
        TrialCondition.KILLED,
        TrialCondition.METRICS_UNAVAILABLE,
        TrialCondition.EARLY_STOPPED,
    ]
    history: list[Trial] = []
    for i, params_ in enumerate(grid[:24]):
        status = statuses[i % len(statuses)] if i % 2 else TrialCondition.SUCCEEDED
        history += make_trials([params_], start=i + 1, status=status)
    suggester = create_suggester(spec, 4)
    batch = suggester.suggest(History.from_spec(spec, history), 10)
    keys = [space.canonical(a.parameters) for a in batch]
    assert len(batch) == 6 and len(set(keys)) == 6
    assert not set(keys) & space.history_keys(history)


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    spec = make_spec(BRANIN, ALGORITHM, {"n_initial_points": "5"})
    a = run(create_suggester(spec, 7), spec, branin, 12, batch=2)
    b = run(create_suggester(spec, 7), spec, branin, 12, batch=2)
    c = run(create_suggester(spec, 8), spec, branin, 12, batch=2)
    assert [t.parameters for t in a] == [t.parameters for t in b]
    assert [t.parameters for t in a] != [t.parameters for t in c]


def test_state_survives_json_and_resumes_identically() -> None:
    spec = make_spec(HARTMANN6, ALGORITHM, {"n_initial_points": "5"})
    original = create_suggester(spec, 2)
    history = run(original, spec, hartmann6, 10)
    state = original.dump_state()
    assert state is not None and len(state["theta"]) == 6 + 2
    restored = create_suggester(spec, 2)
    restored.load_state(json.loads(json.dumps(state)))
    assert params_of(original.suggest(History.from_spec(spec, history), 2)) == params_of(
        restored.suggest(History.from_spec(spec, history), 2)
    )
    # A state that does not fit (another spec's) is ignored, not fatal.
    other = create_suggester(spec, 2)
    other.load_state({"theta": [0.0, 1.0]})
    assert len(other.suggest(History.from_spec(spec, history), 1)) == 1


def test_a_batch_spreads_and_respects_pending_trials() -> None:
    spec = make_spec(BRANIN, ALGORITHM, {"n_initial_points": "8"})
    space = SearchSpace(BRANIN)
    history = run(create_suggester(spec, 5), spec, branin, 16)
    batch = create_suggester(spec, 5).suggest(History.from_spec(spec, history), 6)
    points = space.encode_many(params_of(batch))
    gaps = [
        float(np.linalg.norm(points[i] - points[j]))
        for i in range(len(points))
        for j in range(i + 1, len(points))
    ]
    assert len(batch) == 6 and min(gaps) > 0.02
    # The first of a batch, made a pending trial, steers the next call away from it.
    single = create_suggester(spec, 5).suggest(History.from_spec(spec, history), 1)
    pending = make_trials(single, start=17, status=TrialCondition.RUNNING)
    after = create_suggester(spec, 5).suggest(History.from_spec(spec, history + pending), 1)
    gap = np.linalg.norm(space.encode(single[0].parameters) - space.encode(after[0].parameters))
    assert gap > 0.02


@pytest.mark.parametrize(
    "settings",
    [
        {"acq_func": "LCB"},
        {"acq_func": "PI", "acq_optimizer": "sampling"},
        {"acq_func": "EI", "acq_optimizer": "sampling"},
    ],
)
def test_every_acquisition_makes_progress(settings: dict[str, str]) -> None:
    spec = make_spec(BRANIN, ALGORITHM, {"n_initial_points": "6", **settings})
    trials = run(create_suggester(spec, 1), spec, branin, 20)
    assert len(trials) == 20 and best_of(trials) < 2.0


def test_maximize_is_negated() -> None:
    params = [double_param("x", "0", "1")]
    spec = make_spec(
        params, ALGORITHM, {"n_initial_points": "4"}, objective_type=ObjectiveType.MAXIMIZE
    )

    def peak(p: Mapping[str, ParamValue]) -> float:
        return -((float(p["x"]) - 0.7) ** 2)

    trials = run(create_suggester(spec, 0), spec, peak, 12)
    best = max(trials, key=lambda t: t.objective or -math.inf)
    assert abs(float(best.parameters["x"]) - 0.7) < 0.05


def test_constant_and_failed_objectives_do_not_break_it() -> None:
    spec = make_spec(BRANIN, ALGORITHM, {"n_initial_points": "2"})
    flat = run(create_suggester(spec, 0), spec, lambda p: 1.0, 8)
    assert len(flat) == 8
    failed = make_trials(
        [{"x1": 0.0, "x2": 1.0}, {"x1": 1.0, "x2": 2.0}], status=TrialCondition.FAILED
    )
    assert len(create_suggester(spec, 0).suggest(History.from_spec(spec, failed), 2)) == 2


def test_history_is_capped() -> None:
    # Its speed is measured by benchmarks/optimizers/latency.py, not here.
    spec = make_spec(HARTMANN6, ALGORITHM)
    rng = np.random.default_rng(0)
    space = SearchSpace(HARTMANN6)
    history = make_trials(space.sample(rng, MAX_GP_POINTS + 150), objective=hartmann6)
    suggester = create_suggester(spec, 0)
    fitted: list[int] = []
    fit = suggester._fit  # type: ignore[attr-defined]

    def recording(x: np.ndarray, y: np.ndarray, r: np.random.Generator) -> np.ndarray:
        fitted.append(len(y))
        return fit(x, y, r)

    suggester._fit = recording  # type: ignore[attr-defined]
    batch = suggester.suggest(History.from_spec(spec, history), 1)
    assert len(batch) == 1
    assert fitted and max(fitted) == MAX_GP_POINTS


# --------------------------------------------------------------------------- the model


# --------------------------------------------------------------------------- quality


def _quality(params: list[ParameterSpec], objective: Objective, budget: int) -> list[float]:
    results = []
    for seed in range(5):
        spec = make_spec(params, ALGORITHM, {"n_initial_points": "10"})
        results.append(best_of(run(create_suggester(spec, seed), spec, objective, budget)))
    return results


def _random_quality(params: list[ParameterSpec], objective: Objective, budget: int) -> list[float]:
    results = []
    for seed in range(5):
        spec = make_spec(params, "random")
        results.append(best_of(run(create_suggester(spec, seed), spec, objective, budget)))
    return results


def test_branin_beats_random_search() -> None:
    gp = _quality(BRANIN, branin, 30)
    rnd = _random_quality(BRANIN, branin, 30)
    # Optimum 0.397887; random search with 30 draws averages well above 1.
    assert np.mean(gp) < 0.5 < np.mean(rnd)


def test_hartmann6_beats_random_search() -> None:
    gp = _quality(HARTMANN6, hartmann6, 40)
    rnd = _random_quality(HARTMANN6, hartmann6, 40)
    # Optimum -3.32237; random search with 40 draws averages above -2.5.
    assert np.mean(gp) < -2.9 and np.mean(gp) < np.mean(rnd) - 0.4
