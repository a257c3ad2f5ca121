"""Tests of the TPE suggesters (Katib's ``tpe`` and ``multivariate-tpe``).

Both names run one joint model by default; ``tpe`` with ``multivariate: "false"`` runs one model
per parameter.  The behaviour tests run both models: ``"tpe"`` (joint) and
``"tpe-independent"`` (a name of these tests only: ``tpe`` with ``multivariate: "false"``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from itertools import combinations

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
from tunery.suggest import available, create_suggester
from tunery.suggest.base import validate_algorithm
from tunery.suggest.tpe import TPESettings, TPESuggester
from tunery.testing import multiobjective as mo
from tunery.testing import suggest as contract
from tunery.testing.suggest import (
    assert_feasible,
    categorical_param,
    default_parameters,
    discrete_param,
    double_param,
    int_param,
    make_trials,
)
from tunery.testing.suggest import make_spec as _make_spec

ALGORITHMS = ("tpe", "tpe-independent")
INDEPENDENT = ("multivariate", "false")


def make_spec(
    parameters: Sequence[ParameterSpec],
    algorithm: str,
    settings: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    **options: ObjectiveType,
) -> ExperimentSpec:
    """The suggest contract's ``make_spec``, knowing ``tpe-independent``."""
    pairs = list(settings.items()) if isinstance(settings, Mapping) else list(settings or ())
    if algorithm == "tpe-independent":
        algorithm, pairs = "tpe", [*pairs, INDEPENDENT]
    return _make_spec(parameters, algorithm, pairs, **options)


Objective = Callable[[Mapping[str, ParamValue]], float]


def params_of(assignments: Sequence[Assignment]) -> list[dict[str, ParamValue]]:
    return [dict(a.parameters) for a in assignments]


def run(
    algorithm: str,
    parameters: Sequence[ParameterSpec],
    objective: Objective,
    budget: int,
    seed: int,
    *,
    batch: int = 1,
    settings: Mapping[str, str] | None = None,
    objective_type: ObjectiveType = ObjectiveType.MINIMIZE,
) -> tuple[list[Trial], list[float]]:
    """A sequential (or batched) experiment: every batch finishes before the next."""
    spec = make_spec(parameters, algorithm, settings, objective_type=objective_type)
    suggester = create_suggester(spec, seed)
    trials: list[Trial] = []
    while len(trials) < budget:
        found = suggester.suggest(History.from_spec(spec, trials), min(batch, budget - len(trials)))
        if not found:
            break
        trials += make_trials(found, start=len(trials) + 1, objective=objective)
    return trials, [t.objective for t in trials if t.objective is not None]


# --------------------------------------------------------------------------- synthetic problems


def branin(p: Mapping[str, ParamValue]) -> float:
    """Branin on [-5, 10] x [0, 15]; minimum 0.397887."""
    x, y = float(p["x"]), float(p["y"])
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


BRANIN = [double_param("x", "-5", "10"), double_param("y", "0", "15")]

_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(p: Mapping[str, ParamValue]) -> float:
    """Hartmann6 on [0, 1]^6; minimum -3.32237."""
    x = np.array([float(p[f"x{i}"]) for i in range(6)])
    return float(-_H_ALPHA @ np.exp(-(_H_A * (x - _H_P) ** 2).sum(axis=1)))


HARTMANN6 = [double_param(f"x{i}", "0", "1") for i in range(6)]


def mixed(p: Mapping[str, ParamValue]) -> float:
    """All four parameter types; minimum 0 at n=3, lr=1e-3, batch=32, opt=adam, x=0.3."""
    offsets = {"sgd": 1.0, "adam": 0.0, "rmsprop": 2.0}
    return (
        (int(p["n"]) - 3) ** 2 / 4
        + math.log10(float(p["lr"]) / 1e-3) ** 2
        + abs(math.log2(float(p["batch"]) / 32))
        + offsets[str(p["opt"])]
        + 10 * (float(p["x"]) - 0.3) ** 2
    )


MIXED = [
    int_param("n", "0", "10"),
    double_param("lr", "0.00001", "0.1", distribution="logUniform"),
    discrete_param("batch", ["8", "16", "32", "64", "128"]),
    categorical_param("opt", ["sgd", "adam", "rmsprop"]),
    double_param("x", "0", "1", step="0.01"),
]


# --------------------------------------------------------------------------- registry, contract


def test_registered_under_katib_names() -> None:
    assert {"tpe", "multivariate-tpe"} <= set(available())
    for name in ("tpe", "multivariate-tpe"):
        suggester = create_suggester(make_spec(default_parameters(), name), 0)
        assert isinstance(suggester, TPESuggester)
        assert suggester.multivariate, name
    single = create_suggester(make_spec(default_parameters(), "tpe-independent"), 0)
    assert isinstance(single, TPESuggester)
    assert not single.multivariate
    on = create_suggester(make_spec(default_parameters(), "tpe", {"multivariate": "True"}), 0)
    assert isinstance(on, TPESuggester) and on.multivariate


def test_both_names_suggest_the_same() -> None:
    a, _ = run("tpe", MIXED, mixed, 20, 3, batch=2)
    b, _ = run("multivariate-tpe", MIXED, mixed, 20, 3, batch=2)
    c, _ = run("tpe-independent", MIXED, mixed, 20, 3, batch=2)
    assert [t.parameters for t in a] == [t.parameters for t in b]
    assert [t.parameters for t in a] != [t.parameters for t in c]


def test_multivariate_tpe_refuses_to_be_independent() -> None:
    spec = make_spec(default_parameters(), "multivariate-tpe", [("multivariate", "FALSE")])
    with pytest.raises(SpecError, match="always models the parameters jointly") as info:
        create_suggester(spec, 0)
    assert info.value.path == "spec.algorithm.algorithmSettings[0]"
    assert "algorithmName: tpe" in (info.value.hint or "")
    spec = make_spec(default_parameters(), "multivariate-tpe", [("multivariate", "true")])
    assert create_suggester(spec, 0).multivariate  # type: ignore[attr-defined]


def contract_factory(
    algorithm: str, *settings: tuple[str, str]
) -> tuple[str, Callable[[str, Sequence[ParameterSpec]], ExperimentSpec]]:
    """(registered name, spec factory) of a test algorithm name, for the suggest contract."""

    def factory(name: str, parameters: Sequence[ParameterSpec]) -> ExperimentSpec:
        return make_spec(parameters, algorithm, list(settings))

    return ("tpe" if algorithm == "tpe-independent" else algorithm), factory


@pytest.mark.parametrize("algorithm", ("tpe", "multivariate-tpe", "tpe-independent"))
def test_contract_with_settings(algorithm: str) -> None:
    name, factory = contract_factory(algorithm, ("n_startup_trials", "3"), ("random_state", "4"))
    contract.run_contract(name, factory)


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_accepts_the_settings_of_katibs_services(algorithm: str) -> None:
    settings = {
        "n_startup_trials": "5",
        "n_ei_candidates": "32",
        "random_state": "3",
        "gamma": "0.3",
        "prior_weight": "2.5",
    }
    suggester = create_suggester(make_spec(default_parameters(), algorithm, settings), 0)
    assert isinstance(suggester, TPESuggester)
    multivariate = False if algorithm == "tpe-independent" else None
    assert suggester.settings == TPESettings(5, 32, 0.3, 2.5, multivariate)
    assert suggester.multivariate is (algorithm != "tpe-independent")
    assert suggester.seed == 3
    hyperopt = make_spec(default_parameters(), algorithm, {"n_EI_candidates": "7"})
    assert TPESettings.from_spec(hyperopt).n_ei_candidates == 7
    assert TPESettings.from_spec(make_spec(default_parameters(), "tpe")) == TPESettings(
        10, 24, None, 1.0, None
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("n_startup_trials", "-1", "greater than or equal to zero"),
        ("n_startup_trials", "2.5", "failed to validate n_startup_trials"),
        ("n_ei_candidates", "0", "greater than zero"),
        ("n_EI_candidates", "x", "failed to validate n_EI_candidates"),
        ("gamma", "1", r"range of \(0, 1\)"),
        ("gamma", "0", r"range of \(0, 1\)"),
        ("gamma", "nan", "failed to validate gamma"),
        ("prior_weight", "0", "greater than zero"),
        ("prior_weight", "abc", "failed to validate prior_weight"),
        ("random_state", "-3", "greater than or equal to zero"),
        ("multivariate", "yes", "failed to validate multivariate"),
        ("n_ei_candidate", "5", "unknown setting n_ei_candidate"),
    ],
)
def test_bad_settings_name_their_path(algorithm: str, name: str, value: str, message: str) -> None:
    spec = make_spec(default_parameters(), algorithm, [("random_state", "1"), (name, value)])
    with pytest.raises(SpecError, match=message) as info:
        create_suggester(spec, 0)
    assert info.value.path == "spec.algorithm.algorithmSettings[1]"
    assert info.value.hint


def test_n_below_rules() -> None:
    optuna_like = TPESettings()
    assert [optuna_like.n_below(n) for n in (1, 10, 11, 100, 1000)] == [1, 1, 2, 10, 25]
    hyperopt_like = TPESettings(gamma=0.25)
    assert [hyperopt_like.n_below(n) for n in (1, 16, 100, 100_000)] == [1, 1, 3, 25]


# --------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_all_parameter_types_are_feasible_and_searched(algorithm: str) -> None:
    parameters = [
        *MIXED,
        double_param("m", "0.5", "0.99", distribution="normal"),
        double_param("w", "0.0001", "1", distribution="logNormal"),
        int_param("u", "16", "256", step="16", distribution="logUniform"),
        double_param("d", "0.1", "0.9", step="0.2", distribution="normal"),
    ]
    space = SearchSpace(parameters)

    def objective(p: Mapping[str, ParamValue]) -> float:
        return mixed(p) + float(p["m"]) + math.log10(float(p["w"])) ** 2 + float(p["d"])

    trials, _ = run(algorithm, parameters, objective, 40, 1, batch=3)
    assert len(trials) == 40
    for trial in trials:
        assert_feasible(space, Assignment(trial.parameters))
    assert len(space.history_keys(trials)) == 40


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_never_repeats_and_exhausts_a_tiny_discrete_space(algorithm: str) -> None:
    parameters = [
        categorical_param("c", ["a", "b", "c"]),
        discrete_param("d", ["1", "2"]),
        int_param("n", "0", "2"),
    ]
    space = SearchSpace(parameters)
    spec = make_spec(parameters, algorithm, {"n_startup_trials": "2"})
    suggester = create_suggester(spec, 5)
    # Failed, running and created trials block their configurations too.
    history = make_trials([{"c": "a", "d": 1, "n": 0}], status=TrialCondition.FAILED)
    history += make_trials([{"c": "b", "d": "2", "n": "1"}], start=2, status=TrialCondition.RUNNING)
    history += make_trials([{"c": "c", "d": 2.0, "n": 2.0}], start=3, status=TrialCondition.CREATED)
    while True:
        batch = suggester.suggest(History.from_spec(spec, history), 4)
        if not batch:
            break
        keys = [space.canonical(a.parameters) for a in batch]
        assert len(set(keys)) == len(keys)
        assert not set(keys) & space.history_keys(history)
        history += make_trials(batch, start=len(history) + 1, objective=lambda p: float(p["n"]))
    assert len(space.history_keys(history)) == space.size() == 18
    assert suggester.suggest(History.from_spec(spec, history), 4) == []


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_deterministic_and_seeded(algorithm: str) -> None:
    first, _ = run(algorithm, MIXED, mixed, 25, 3, batch=2)
    second, _ = run(algorithm, MIXED, mixed, 25, 3, batch=2)
    other, _ = run(algorithm, MIXED, mixed, 25, 4, batch=2)
    assert [t.parameters for t in first] == [t.parameters for t in second]
    assert [t.parameters for t in first] != [t.parameters for t in other]
    pinned = {"random_state": "9"}
    a, _ = run(algorithm, MIXED, mixed, 15, 1, settings=pinned)
    b, _ = run(algorithm, MIXED, mixed, 15, 2, settings=pinned)
    assert [t.parameters for t in a] == [t.parameters for t in b]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_stateless_round_trip(algorithm: str) -> None:
    spec = make_spec(MIXED, algorithm)
    suggester = create_suggester(spec, 0)
    assert suggester.dump_state() is None
    suggester.load_state({})
    name, factory = contract_factory(algorithm)
    contract.check_state_roundtrip(name, factory, parameters=MIXED)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_maximize_mirrors_minimize(algorithm: str) -> None:
    low, _ = run(algorithm, BRANIN, branin, 20, 2)
    high, _ = run(
        algorithm, BRANIN, lambda p: -branin(p), 20, 2, objective_type=ObjectiveType.MAXIMIZE
    )
    assert [t.parameters for t in low] == [t.parameters for t in high]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_batch_spreads_out(algorithm: str) -> None:
    spec = make_spec(BRANIN, algorithm)
    space = SearchSpace(BRANIN)
    trials, _ = run(algorithm, BRANIN, branin, 30, 0)
    batch = create_suggester(spec, 0).suggest(History.from_spec(spec, trials), 4)
    assert len(batch) == 4
    points = space.encode_many(params_of(batch))
    gaps = [float(np.linalg.norm(a - b)) for a, b in combinations(points, 2)]
    assert min(gaps) > 0.01, gaps
    # The trials in flight are liars: the next suggestion differs from the batch.
    running = make_trials(batch, start=31, status=TrialCondition.RUNNING)
    after = create_suggester(spec, 0).suggest(History.from_spec(spec, trials + running), 1)
    new = space.encode_many(params_of(after))[0]
    assert min(float(np.linalg.norm(new - p)) for p in points) > 0.01


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_failed_trials_and_no_observations(algorithm: str) -> None:
    spec = make_spec(BRANIN, algorithm, {"n_startup_trials": "2"})
    suggester = create_suggester(spec, 0)
    failed = make_trials(
        params_of(suggester.suggest(History.from_spec(spec, []), 5)), status=TrialCondition.FAILED
    )
    # No observation yet: still quasi-random suggestions, none repeated.
    batch = suggester.suggest(History.from_spec(spec, failed), 3)
    assert len(batch) == 3
    space = SearchSpace(BRANIN)
    assert not {space.canonical(a.parameters) for a in batch} & space.history_keys(failed)
    done = failed + make_trials(params_of(batch), start=6, objective=branin)
    assert len(suggester.suggest(History.from_spec(spec, done), 3)) == 3


def test_beats_random_on_synthetic_functions() -> None:
    def mean_best(algorithm: str, params: list[ParameterSpec], fn: Objective, n: int) -> float:
        return statistics.mean(min(run(algorithm, params, fn, n, seed)[1]) for seed in range(5))

    for algorithm, params, fn, optimum in (
        ("tpe-independent", BRANIN, branin, 0.397887),
        ("tpe", BRANIN, branin, 0.397887),
        ("tpe", HARTMANN6, hartmann6, -3.32237),
        ("tpe-independent", MIXED, mixed, 0.0),
        ("tpe", MIXED, mixed, 0.0),
    ):
        tpe = mean_best(algorithm, params, fn, 60) - optimum
        rand = mean_best("random", params, fn, 60) - optimum
        assert tpe < 0.6 * rand, (algorithm, fn.__name__, tpe, rand)


def test_a_thousand_trials() -> None:
    # Its speed is measured by benchmarks/optimizers/latency.py, not here.
    rng = np.random.default_rng(0)
    space = SearchSpace(HARTMANN6)
    history = make_trials(space.sample(rng, 1000), objective=hartmann6)
    for algorithm in ALGORITHMS:
        spec = make_spec(HARTMANN6, algorithm)
        suggester = create_suggester(spec, 0)
        batch = suggester.suggest(History.from_spec(spec, history), 4)
        keys = {space.canonical(a.parameters) for a in batch}
        assert len(keys) == 4 and not keys & space.history_keys(history), algorithm


def test_joint_density_is_the_sum_of_its_kernels() -> None:
    # log_density_joint sums each kernel's point-free terms once per mixture (for speed): it
    # must equal the mixture written out kernel by kernel, list dimensions and prior included.
    spec = make_spec(MIXED, "tpe")
    space = SearchSpace(MIXED)
    model = TPESuggester(spec, 0)._model
    assert model.num.size and model.cat.size
    rng = np.random.default_rng(3)
    x, c = model.split(space.keys_from_unit(rng.random((40, space.dims))))
    weights = rng.random(12) + 0.1
    for group, w in ((slice(0, 12), weights), (slice(12, 40), None)):
        mixture = model.mixture(x[group], c[group], True, w)
        candidates_x, candidates_c = model.split(space.keys_from_unit(rng.random((9, space.dims))))
        num, cat = model.log_kernels(mixture, candidates_x, candidates_c)
        per_kernel = num.sum(axis=2) + cat.sum(axis=2) + mixture.log_w[None, :]
        top = per_kernel.max(axis=1, keepdims=True)
        expected = np.log(np.exp(per_kernel - top).sum(axis=1)) + top[:, 0]
        got = model.log_density_joint(mixture, candidates_x, candidates_c)
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- MOTPE and c-TPE


@pytest.mark.parametrize("algorithm", ["tpe", "multivariate-tpe"])
def test_multi_objective_is_accepted(algorithm: str) -> None:
    validate_algorithm(mo.make_spec(mo.zdt1(3), algorithm))
    validate_algorithm(mo.make_spec(mo.constrained_zdt1(3), algorithm))


def test_good_kernels_weighted_by_motpe() -> None:
    spec = make_spec(HARTMANN6, "tpe")
    model = TPESuggester(spec, 0)._model
    points = np.random.default_rng(0).random((3, 6))
    codes = np.empty((3, 0), dtype=np.int64)
    plain = model.mixture(points, codes, True)
    same = model.mixture(points, codes, True, np.ones(3))
    assert np.allclose(plain.log_w, same.log_w)
    weighted = model.mixture(points, codes, True, np.array([1.0, 0.05, 0.05]))
    w = np.exp(weighted.log_w)
    # The kernels still weigh n in all against the prior's weight: only their shares move.
    assert math.isclose(w[-1], np.exp(plain.log_w)[-1])
    assert w[0] == pytest.approx(20 * w[1]) and w[1] == pytest.approx(w[2])


@pytest.mark.parametrize("algorithm", ["tpe", "tpe-independent"])
def test_motpe_beats_random_on_zdt1(algorithm: str) -> None:
    # Deterministic seeds: the same numbers every run.
    problem = mo.zdt1(5)
    settings = dict([INDEPENDENT]) if algorithm == "tpe-independent" else None
    name = "tpe" if algorithm == "tpe-independent" else algorithm

    def mean_hv(name: str, settings: dict[str, str] | None) -> float:
        return statistics.mean(
            mo.hypervolume_of(problem, mo.run(problem, name, 150, seed, batch=5, settings=settings))
            for seed in range(3)
        )

    motpe, rand = mean_hv(name, settings), mean_hv("random", None)
    assert motpe > rand, (motpe, rand)


def test_constrained_tpe_finds_the_feasible_region() -> None:
    # About 3.6% of the space is feasible: random search stays there, TPE moves into it.
    problem = mo.constrained_zdt1(5)

    def late_feasible(algorithm: str) -> float:
        return statistics.mean(
            statistics.mean(mo.feasible(problem, mo.run(problem, algorithm, 100, s, batch=4)[-40:]))
            for s in range(3)
        )

    tpe, rand = late_feasible("tpe"), late_feasible("random")
    assert tpe > 0.4 > 0.1 > rand, (tpe, rand)


def test_constrained_single_objective_finds_the_constrained_optimum() -> None:
    # The unconstrained optimum (every x at 0.7) is infeasible; the constrained one has every x
    # at 0.5 (sum(x) <= 2 binds), loss 4 * 0.2 ** 2 = 0.16.
    problem = mo.constrained_sphere(4)

    def best_feasible(algorithm: str, seed: int) -> float:
        trials = mo.run(problem, algorithm, 100, seed, batch=4)
        losses = mo.losses_of(problem, trials)[:, 0]
        ok = mo.feasible(problem, trials)
        return min(float(v) for v, f in zip(losses, ok, strict=True) if f)

    tpe = [best_feasible("tpe", seed) for seed in range(3)]
    rand = [best_feasible("random", seed) for seed in range(3)]
    assert min(tpe) >= 0.16 - 1e-9  # (no infeasible trial counted)
    assert statistics.mean(tpe) < 0.16 + 0.05 < statistics.mean(rand), (tpe, rand)


def test_joint_model_by_default_except_tpe_on_a_conditional_space() -> None:
    plain = TPESettings()
    assert plain.joint("tpe", conditional=False)
    assert plain.joint("multivariate-tpe", conditional=True)
    assert not plain.joint("tpe", conditional=True)
    assert TPESettings(multivariate=True).joint("tpe", conditional=True)
    assert not TPESettings(multivariate=False).joint("tpe", conditional=False)
