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
    Constraint,
    ExperimentSpec,
    MetricStrategyType,
    MetricSummary,
    ObjectiveTerm,
    ObjectiveType,
    ParameterSpec,
    ParamValue,
    Trial,
    TrialCondition,
)
from tunery.model import Objective as ObjectiveModel
from tunery.pareto import hypervolume
from tunery.space import SearchSpace
from tunery.suggest import Suggester, create_suggester
from tunery.suggest.base import conditional_algorithms, validate_algorithm
from tunery.suggest.gp import (
    INACTIVE,
    MAX_GP_POINTS,
    GPSuggester,
)
from tunery.testing import multiobjective as mo
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
from tunery.testing.trees import (
    PLANTED_OPTIMUM,
    planted,
    tree_objective,
    tree_parameters,
    tree_problem,
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


def _sobol_keys(space: SearchSpace, seed: int, n: int) -> list[tuple[object, ...]]:
    from tunery.suggest.gp import _sobol_points

    return list(space.keys_from_unit(_sobol_points(space.dims, [seed, 0], n)))


@pytest.mark.parametrize("batch", [1, 3])
def test_every_tenth_trial_after_the_design_fills_space(batch: int) -> None:
    spec = make_spec(BRANIN, ALGORITHM, {"n_initial_points": "4"})
    space = SearchSpace(BRANIN)
    trials = run(create_suggester(spec, 6), spec, branin, 26, batch=batch)
    keys = [space.canonical(t.parameters) for t in trials]
    sobol = _sobol_keys(space, 6, 16)
    assert keys[:4] == sobol[:4]  # the design
    # Trials 13 and 23 (0-based; the 10th and 20th after the design) continue the sequence:
    # the batch that holds each number holds the point (first); the model chose the others.
    for number, point in ((13, sobol[4]), (23, sobol[5])):
        start = number - number % batch
        assert keys[start] == point
    assert len(set(keys[4:]) & set(sobol)) == 2


def test_space_filling_trials_are_counted_from_the_end_of_the_design() -> None:
    suggester = create_suggester(make_spec(BRANIN, ALGORITHM, {"n_initial_points": "4"}), 0)
    assert isinstance(suggester, GPSuggester)
    assert [suggester._space_filling(n, 1) for n in range(4, 25)].count(1) == 2  # 13 and 23
    assert suggester._space_filling(0, 13) == 0 and suggester._space_filling(0, 14) == 1
    assert suggester._space_filling(10, 14) == 2  # trials 10-23 hold 13 and 23


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
    # 6 design points, 14 of the model's and the space-filling 16th.
    trials = run(create_suggester(spec, 1), spec, branin, 21)
    assert len(trials) == 21 and best_of(trials) < 2.0


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


# --------------------------------------------------------------------------- several objectives

MO_PARAMS = [double_param(f"x{i}", "0", "1") for i in range(3)]
Metrics = Callable[[Mapping[str, ParamValue]], dict[str, float]]


def zdt1(p: Mapping[str, ParamValue]) -> dict[str, float]:
    """ZDT1 (front f2 = 1 - sqrt(f1)), its second objective reported negated as ``score``."""
    x = [float(p.get(f"x{i}", 0.0)) for i in range(3)]
    g = 1.0 + 9.0 * (x[1] + x[2]) / 2.0
    return {"f1": x[0], "score": -g * (1.0 - math.sqrt(x[0] / g)), "size": x[0] + x[1]}


def mo_spec(
    settings: Mapping[str, str] | None = None,
    constraints: tuple[Constraint, ...] = (),
    algorithm: str = ALGORITHM,
    params: Sequence[ParameterSpec] = MO_PARAMS,
    objectives: int = 2,
) -> ExperimentSpec:
    terms = (
        ObjectiveTerm("f1", ObjectiveType.MINIMIZE, None, MetricStrategyType.LATEST),
        ObjectiveTerm("score", ObjectiveType.MAXIMIZE, None, MetricStrategyType.LATEST),
    )[:objectives]
    objective = ObjectiveModel(terms[0].type, terms[0].metric, terms=terms, constraints=constraints)
    return make_spec(params, algorithm, settings, objective=objective)


def mo_trials(
    assignments: Sequence[Assignment | Mapping[str, ParamValue]],
    evaluate: Metrics,
    start: int = 1,
    status: TrialCondition = TrialCondition.SUCCEEDED,
) -> list[Trial]:
    trials = []
    for offset, item in enumerate(assignments):
        params = dict(item.parameters if isinstance(item, Assignment) else item)
        done = status is TrialCondition.SUCCEEDED
        values = evaluate(params) if done else {}
        trials.append(
            Trial(
                name=f"mo-{start + offset:05d}",
                experiment="contract",
                index=start + offset,
                parameters=params,
                status=status,
                metrics={k: MetricSummary(v, v, v) for k, v in values.items()},
                objective=values.get("f1"),
            )
        )
    return trials


def run_mo(
    suggester: Suggester, spec: ExperimentSpec, evaluate: Metrics, budget: int, batch: int = 1
) -> list[Trial]:
    trials: list[Trial] = []
    while len(trials) < budget:
        history = History.from_spec(spec, trials)
        assignments = suggester.suggest(history, min(batch, budget - len(trials)))
        if not assignments:
            break
        trials += mo_trials(assignments, evaluate, start=len(trials) + 1)
    return trials


def test_no_space_filling_trials_with_several_objectives_or_constraints() -> None:
    # (The multi-objective and constrained models were measured without them.)
    size = (Constraint("size", max=0.9),)
    for spec in (mo_spec({"n_initial_points": "4"}), mo_spec({"n_initial_points": "4"}, size)):
        space = SearchSpace(MO_PARAMS)
        trials = run_mo(create_suggester(spec, 6), spec, zdt1, 15)
        keys = [space.canonical(t.parameters) for t in trials]
        sobol = _sobol_keys(space, 6, 16)
        assert keys[:4] == sobol[:4]
        assert not set(keys[4:]) & set(sobol)


def zdt1_hypervolume(trials: Sequence[Trial]) -> float:
    points = [zdt1(t.parameters) for t in trials]
    return hypervolume([(v["f1"], -v["score"]) for v in points], (1.1, 11.0))


def test_multi_objective_and_constrained_specs_are_accepted_and_refused_elsewhere() -> None:
    size = (Constraint("size", max=0.8),)
    for spec in (mo_spec(), mo_spec(constraints=size), mo_spec(objectives=1, constraints=size)):
        assert isinstance(create_suggester(spec, 0), GPSuggester)
    with pytest.raises(SpecError, match=r"cmaes cannot tune 2 objectives.*bayesianoptimization"):
        validate_algorithm(mo_spec(algorithm="cmaes"))


def test_multi_objective_contract_feasible_new_deterministic_and_resumable() -> None:
    params = [*MO_PARAMS[:2], int_param("n", "1", "4"), categorical_param("c", ["a", "b"])]
    space = SearchSpace(params)
    spec = mo_spec({"n_initial_points": "4"}, (Constraint("size", max=0.9),), params=params)

    def evaluate(p: Mapping[str, ParamValue]) -> dict[str, float]:
        values = zdt1({"x0": p["x0"], "x1": p["x1"], "x2": float(p["n"]) / 4})
        return {**values, "f1": values["f1"] + (p["c"] == "b") * 0.1}

    a = run_mo(create_suggester(spec, 3), spec, evaluate, 16, batch=3)
    b = run_mo(create_suggester(spec, 3), spec, evaluate, 16, batch=3)
    assert [t.parameters for t in a] == [t.parameters for t in b]
    assert len(space.history_keys(a)) == 16
    for trial in a:
        assert_feasible(space, Assignment(trial.parameters))
    # Running trials are fantasies: never repeated, and the batch is new too.
    running = mo_trials([t.parameters for t in a[12:]], evaluate, 13, TrialCondition.RUNNING)
    history = History.from_spec(spec, a[:12] + running)
    original = create_suggester(spec, 3)
    first = original.suggest(history, 3)
    keys = {space.canonical(x.parameters) for x in first}
    assert len(keys) == 3 and not keys & space.history_keys(a)
    # One warm start per model in the state: objectives 0 and 1, the constraint 2.
    state = json.loads(json.dumps(original.dump_state()))
    assert sorted(state["models"]) == ["1", "2"] and len(state["theta"]) == 2 + 1 + 2 + 2
    restored = create_suggester(spec, 3)
    restored.load_state(state)
    assert params_of(restored.suggest(history, 3)) == params_of(original.suggest(history, 3))


def test_multi_objective_exhausts_a_finite_space() -> None:
    params = [int_param("x0", "0", "3"), int_param("x1", "0", "2"), int_param("x2", "0", "1")]
    spec = mo_spec({"n_initial_points": "3"}, params=params)
    suggester = create_suggester(spec, 1)
    trials = run_mo(suggester, spec, zdt1_ints, 100, batch=5)
    assert len(SearchSpace(params).history_keys(trials)) == len(trials) == 24
    assert suggester.suggest(History.from_spec(spec, trials), 2) == []


def zdt1_ints(p: Mapping[str, ParamValue]) -> dict[str, float]:
    return zdt1({f"x{i}": float(p[f"x{i}"]) / 3 for i in range(3)})


def test_two_objectives_beat_random_search_on_hypervolume() -> None:
    gp, rnd = [], []
    for seed in range(3):
        spec = mo_spec({"n_initial_points": "10"})
        gp.append(zdt1_hypervolume(run_mo(create_suggester(spec, seed), spec, zdt1, 30)))
        spec = mo_spec(algorithm="random")
        rnd.append(zdt1_hypervolume(run_mo(create_suggester(spec, seed), spec, zdt1, 30)))
    # The best possible is 11.77; random search with 30 draws stays near 10.
    assert np.mean(gp) > np.mean(rnd) + 0.5 and min(gp) > max(rnd)


def test_batches_of_several_objectives_spread() -> None:
    spec = mo_spec({"n_initial_points": "8"})
    space = SearchSpace(MO_PARAMS)
    history = run_mo(create_suggester(spec, 2), spec, zdt1, 16)
    batch = create_suggester(spec, 2).suggest(History.from_spec(spec, history), 5)
    points = space.encode_many(params_of(batch))
    gaps = [
        float(np.linalg.norm(points[i] - points[j]))
        for i in range(len(points))
        for j in range(i + 1, len(points))
    ]
    assert len(batch) == 5 and min(gaps) > 0.01


# --------------------------------------------------------------------------- constraints


def ring(p: Mapping[str, ParamValue]) -> dict[str, float]:
    """Minimise the distance to (1, 1) with ``size = x0 + x1 <= 1``: optimum 0.5 at (.5, .5)."""
    x, y = float(p["x0"]), float(p["x1"])
    return {"f1": (x - 1) ** 2 + (y - 1) ** 2, "score": 0.0, "size": x + y}


def bowl(p: Mapping[str, ParamValue]) -> dict[str, float]:
    """Minimum 0 at (0.2, 0.3), inside ``size = x0 + x1 <= 0.8`` (a third of the square)."""
    x, y = float(p["x0"]), float(p["x1"])
    return {"f1": (x - 0.2) ** 2 + (y - 0.3) ** 2, "score": 0.0, "size": x + y}


def test_constrained_suggestions_are_mostly_feasible_after_the_initial_design() -> None:
    size = (Constraint("size", max=0.8),)
    for seed in range(3):
        spec = mo_spec({"n_initial_points": "6"}, size, params=MO_PARAMS[:2], objectives=1)
        trials = run_mo(create_suggester(spec, seed), spec, bowl, 25)
        feasible = [bowl(t.parameters)["size"] <= 0.8 for t in trials]
        assert sum(feasible[6:]) >= 0.8 * len(feasible[6:]), (seed, feasible)
        assert min(bowl(t.parameters)["f1"] for t in trials) < 1e-3


def test_a_constrained_optimum_on_the_boundary_is_found() -> None:
    size = (Constraint("size", max=1.0),)
    for seed in range(3):
        spec = mo_spec({"n_initial_points": "6"}, size, params=MO_PARAMS[:2], objectives=1)
        trials = run_mo(create_suggester(spec, seed), spec, ring, 25)
        feasible = [ring(t.parameters)["size"] <= 1.0 for t in trials]
        best = min(ring(t.parameters)["f1"] for t, ok in zip(trials, feasible, strict=True) if ok)
        # (Its suggestions hug the bound x0 + x1 = 1 from both sides, so about a third of
        # them are infeasible by less than 0.01: the problem, not the model.)
        assert best < 0.505


def test_with_no_feasible_trial_it_seeks_feasibility() -> None:
    size = (Constraint("size", max=0.3),)
    spec = mo_spec({"n_initial_points": "0"}, size, params=MO_PARAMS[:2])
    corner = [{"x0": 0.9 - i / 20, "x1": 0.8 + i / 50} for i in range(6)]
    history = mo_trials(corner, zdt1)
    batch = create_suggester(spec, 0).suggest(History.from_spec(spec, history), 3)
    sizes = [float(a.parameters["x0"]) + float(a.parameters["x1"]) for a in batch]
    assert (
        max(sizes)
        < 1.2
        < min(float(t.parameters["x0"]) + float(t.parameters["x1"]) for t in history)
    )


def test_every_model_of_a_long_multi_objective_history_is_capped() -> None:
    spec = mo_spec(constraints=(Constraint("size", max=1.0),))
    rng = np.random.default_rng(1)
    history = mo_trials(SearchSpace(MO_PARAMS).sample(rng, MAX_GP_POINTS + 60), zdt1)
    suggester = create_suggester(spec, 0)
    fitted: list[tuple[int, int]] = []
    fit = suggester.fit_model  # type: ignore[attr-defined]

    def recording(slot: int, x: np.ndarray, y: np.ndarray, r: np.random.Generator) -> np.ndarray:
        fitted.append((slot, len(y)))
        return fit(slot, x, y, r)

    suggester.fit_model = recording  # type: ignore[attr-defined]
    assert len(suggester.suggest(History.from_spec(spec, history), 2)) == 2
    assert fitted == [(0, MAX_GP_POINTS), (1, MAX_GP_POINTS), (2, MAX_GP_POINTS)]


def test_ask_tell_with_two_objectives_and_a_constraint() -> None:
    from tunery import search
    from tunery.optimizer import Optimizer

    def loop(algorithm: str) -> list[dict[str, float]]:
        optimizer = Optimizer(
            {f"x{i}": search.double(0.0, 1.0) for i in range(3)},
            algorithm=algorithm,
            settings={"n_initial_points": 8} if algorithm == ALGORITHM else None,
            objectives=[("f1", "minimize"), ("score", "maximize")],
            constraints=[{"metric": "size", "max": 0.9}],
            seed=4,
        )
        told = []
        for _ in range(24):
            suggestion = optimizer.ask()
            metrics = zdt1(suggestion.params)
            optimizer.tell(suggestion, metrics)
            told.append(metrics)
        return told

    def feasible_hypervolume(told: list[dict[str, float]]) -> float:
        points = [(m["f1"], -m["score"]) for m in told if m["size"] <= 0.9]
        return hypervolume(points, (1.1, 11.0))

    gp, rnd = loop(ALGORITHM), loop("random")
    assert sum(m["size"] <= 0.9 for m in gp[8:]) >= 0.8 * 16
    assert feasible_hypervolume(gp) > feasible_hypervolume(rnd) + 0.5


# --------------------------------------------------------------------------- conditional spaces


def test_registered_as_conditional() -> None:
    assert ALGORITHM in conditional_algorithms()


@pytest.mark.parametrize("batch", [1, 3])
def test_conditional_suggestions_are_in_active_subspaces_only(batch: int) -> None:
    params = tree_parameters()
    space = SearchSpace(params)
    spec = make_spec(params, ALGORITHM, {"n_initial_points": "6"})
    trials = run(create_suggester(spec, 2), spec, tree_objective, 30, batch=batch)
    assert len({space.canonical(t.parameters) for t in trials}) == 30
    for trial in trials:
        assert space.contains(trial.parameters), trial.parameters
        active = {n for n in space.names if space.is_active(n, trial.parameters)}
        assert set(trial.parameters) == active


def test_conditional_features_hold_inactive_dimensions_constant() -> None:
    params = tree_parameters()
    suggester = create_suggester(make_spec(params, ALGORITHM), 0)
    assert isinstance(suggester, GPSuggester)
    space = SearchSpace(params)
    keys = [
        space.canonical({"kind": "a", "u": 0.1, "x": 0.5, "n": 3}),
        space.canonical({"kind": "b", "u": 0.1, "mode": "q", "k": 2}),
    ]
    features = suggester._features(space.encode_keys(keys))
    assert np.all(np.isfinite(features))
    # Columns: u, x, n, z, w, k, then the one-hot blocks of kind and mode.  Inactive
    # continuous dimensions sit at the constant outside the cube (z, w, k; then x, n, z, w); an
    # inactive categorical is an all-zero block (mode, for kind=a).
    assert np.sum(features == INACTIVE, axis=1).tolist() == [3, 4]
    assert features[:, -2:].tolist() == [[0.0, 0.0], [0.0, 1.0]]
    assert features[:, -4:-2].tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_conditional_model_uses_the_trials_where_a_parameter_was_active() -> None:
    params, trials = planted()
    spec = make_spec(params, ALGORITHM)
    xs = []
    for seed in range(3):
        batch = create_suggester(spec, seed).suggest(History.from_spec(spec, trials), 3)
        assert all(a.parameters["kind"] == "a" for a in batch)
        xs += [float(a.parameters["x"]) for a in batch]
    assert max(abs(x - PLANTED_OPTIMUM) for x in xs) < 0.05, xs


def test_conditional_tree_beats_random_search() -> None:
    params = tree_parameters()
    gp, rnd = [], []
    for seed in range(3):
        spec = make_spec(params, ALGORITHM)
        gp.append(best_of(run(create_suggester(spec, seed), spec, tree_objective, 30)))
        spec = make_spec(params, "random")
        rnd.append(best_of(run(create_suggester(spec, seed), spec, tree_objective, 30)))
    assert np.mean(gp) < 0.3 * np.mean(rnd)


def test_conditional_with_two_objectives_stays_in_the_space() -> None:
    problem = tree_problem()
    space = SearchSpace(problem.parameters)
    trials = mo.run(problem, ALGORITHM, 20, 0, batch=2, settings={"n_initial_points": "6"})
    assert len({space.canonical(t.parameters) for t in trials}) == 20
    assert all(space.contains(t.parameters) for t in trials)
