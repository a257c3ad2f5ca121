"""Tests of the ``nsga2`` suggester: operators, Deb's rules, search."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tunery
from tests.helpers import native_doc, write_yaml
from tunery import search as S
from tunery.errors import SpecError
from tunery.history import History
from tunery.model import Constraint, ExperimentSpec, ParameterSpec, ParamValue, TrialCondition
from tunery.space import SearchSpace
from tunery.storage import Store
from tunery.suggest import available, create_suggester
from tunery.suggest.base import conditional_algorithms, validate_algorithm
from tunery.suggest.nsga2 import (
    GENERATION_LABEL,
    NSGA2Suggester,
    crowded_tournament,
    default_population_size,
    normalised,
    polynomial_mutation,
    sbx,
    survivors,
    uniform_crossover,
    violation_scales,
)
from tunery.testing import multiobjective as mo
from tunery.testing import suggest as contract
from tunery.testing.suggest import categorical_param, double_param, make_trials
from tunery.testing.trees import tree_problem, when

# --------------------------------------------------------------------------- operators

_UNIT = st.floats(0.0, 1.0, allow_nan=False)


@given(st.lists(st.tuples(_UNIT, _UNIT), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
@settings(max_examples=300, deadline=None)
def test_crossover_and_mutation_stay_in_the_unit_cube(
    pairs: list[tuple[float, float]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    for child in (
        sbx(rng, a, b),
        sbx(rng, a, b, eta=0.5, per_dim=1.0),
        polynomial_mutation(rng, a, 1.0),
        polynomial_mutation(rng, b, 1.0, eta=0.1),
    ):
        assert child.shape == a.shape
        assert np.isfinite(child).all() and (child >= 0.0).all() and (child <= 1.0).all()
    mixed = uniform_crossover(rng, a, b, 0.5)
    assert all(m in (x, y) for m, x, y in zip(mixed, a, b, strict=True))


def test_sbx_children_stay_near_their_parents() -> None:
    rng = np.random.default_rng(0)
    a, b = np.array([0.4, 0.6]), np.array([0.5, 0.7])
    children = np.array([sbx(rng, a, b, per_dim=1.0) for _ in range(2000)])
    # Distribution index 15: almost every child lies within the parents' gap of either parent.
    assert (np.abs(children - 0.5 * (a + b)) < 0.2).mean() > 0.99
    assert children.std(axis=0).min() > 0.01  # but they are spread, not copies
    same = sbx(rng, a, a, per_dim=1.0)
    assert same.tolist() == a.tolist()  # nothing to cross between equal parents


def test_polynomial_mutation_probability() -> None:
    rng = np.random.default_rng(1)
    x = np.full(10_000, 0.5)
    assert polynomial_mutation(rng, x, 0.0).tolist() == x.tolist()
    changed = (polynomial_mutation(rng, x, 0.1) != x).mean()
    assert 0.08 < changed < 0.12


def test_crowded_tournament_prefers_rank_then_crowding() -> None:
    rng = np.random.default_rng(2)
    ranks = np.array([0, 1, 0, 2], dtype=np.int64)
    crowd = np.array([0.5, np.inf, np.inf, 1.0])
    winners = crowded_tournament(rng, ranks, crowd, 4000)
    counts = np.bincount(winners, minlength=4) / 4000
    # Point 2 (rank 0, infinite crowding) wins all of its tournaments; point 3 never wins.
    assert counts[3] == 0.0
    assert counts[2] > counts[0] > counts[1] > 0.0
    single = crowded_tournament(rng, np.array([0]), np.array([0.0]), 3)
    assert single.tolist() == [0, 0, 0]


# --------------------------------------------------------------------------- Deb's rules


def test_survivors_feasible_beat_infeasible_whatever_their_losses() -> None:
    losses = np.array([[9.0, 9.0], [0.0, 0.0], [8.0, 8.0], [-1.0, -1.0]])
    violations = [(-1.0,), (0.5,), (0.0,), (2.0,)]
    # The feasible two first ((8, 8) dominates (9, 9)), though both infeasible ones beat them.
    assert survivors(losses, violations, 2).tolist() == [2, 0]
    # Among infeasible ones, the lower total violation wins.
    assert survivors(losses, violations, 3).tolist() == [2, 0, 1]
    # An unknown constraint value (missing metric) loses to any known violation.
    unknown = [(-1.0,), None, (0.0,), (2.0,)]
    assert survivors(losses, unknown, 3).tolist() == [2, 0, 3]


def test_survivors_keep_the_front_and_its_extremes() -> None:
    losses = np.array(
        [
            [0.0, 1.0],  # front, extreme
            [0.5, 0.5],  # front
            [0.52, 0.48],  # front, crowded
            [1.0, 0.0],  # front, extreme
            [0.6, 0.6],  # dominated
            [2.0, 2.0],  # dominated
        ]
    )
    assert sorted(survivors(losses, None, 4).tolist()) == [0, 1, 2, 3]
    kept = survivors(losses, None, 3).tolist()
    assert 0 in kept and 3 in kept and len(kept) == 3  # the extremes have infinite crowding


def test_survivors_single_objective_is_truncation_selection() -> None:
    losses = np.array([[3.0], [1.0], [2.0], [1.0]])
    assert sorted(survivors(losses, None, 2).tolist()) == [1, 3]


@pytest.mark.parametrize("size", [1, 5, 30])
def test_survivors_is_deterministic_and_sized(size: int) -> None:
    rng = np.random.default_rng(size)
    losses = rng.random((30, 2))
    violations = [(float(v),) for v in np.where(rng.random(30) < 0.3, rng.random(30), -1.0)]
    first = survivors(losses, violations, size)
    assert first.tolist() == survivors(losses, violations, size).tolist()
    assert len(set(first.tolist())) == size


# --------------------------------------------------------------------------- the suggester


def _nsga2_factory(population: str) -> contract.SpecFactory:
    def factory(algorithm: str, params: Sequence[ParameterSpec]) -> ExperimentSpec:
        return contract.make_spec(params, algorithm, {"population_size": population})

    return factory


@pytest.mark.parametrize("population", ["2", "4", "20"])
def test_contract(population: str) -> None:
    # Small populations breed from the second round on; 20 stays random in these histories.
    contract.run_contract("nsga2", _nsga2_factory(population))


def test_registered_for_multi_objective() -> None:
    assert "nsga2" in available()
    problem = mo.zdt1(3)
    spec = mo.make_spec(problem, "nsga2")
    validate_algorithm(spec)  # two objectives are accepted


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("population_size", "1", "population_size should be at least 2, not 1"),
        ("population_size", "ten", "failed to validate population_size(ten): not an integer"),
        ("crossover_prob", "1.5", "crossover_prob should be a number in [0, 1]"),
        ("mutation_prob", "-0.1", "mutation_prob should be a number in [0, 1]"),
        ("swapping_prob", "nan", "swapping_prob should be a number in [0, 1]"),
        ("random_state", "-1", "random_state should be greater than or equal to zero"),
    ],
)
def test_bad_settings_name_their_path(name: str, value: str, message: str) -> None:
    spec = contract.make_spec(contract.default_parameters(), "nsga2", {name: value})
    with pytest.raises(SpecError) as caught:
        create_suggester(spec, 0)
    assert caught.value.path == "spec.algorithm.algorithmSettings[0]"
    assert message in str(caught.value)
    assert caught.value.hint


def test_deterministic_under_a_seed() -> None:
    problem = mo.zdt1(4)
    settings = {"population_size": "6"}
    first = mo.run(problem, "nsga2", 40, seed=3, batch=3, settings=settings)
    again = mo.run(problem, "nsga2", 40, seed=3, batch=3, settings=settings)
    other = mo.run(problem, "nsga2", 40, seed=4, batch=3, settings=settings)
    assert [t.parameters for t in first] == [t.parameters for t in again]
    assert [t.parameters for t in first] != [t.parameters for t in other]
    seeded = mo.run(
        problem, "nsga2", 40, seed=99, batch=3, settings={**settings, "random_state": "3"}
    )
    assert [t.parameters for t in seeded] == [t.parameters for t in first]


def test_generations_come_from_observed_trials_in_creation_order() -> None:
    problem = mo.zdt1(3)
    spec = mo.make_spec(problem, "nsga2", {"population_size": "4"})
    suggester = NSGA2Suggester(spec, 0)
    rng = np.random.default_rng(0)
    configs = SearchSpace.from_spec(spec).sample(rng, 11)
    done = [mo.trial_of(problem, i + 1, c) for i, c in enumerate(configs[:9])]
    assert suggester.parents(History.from_spec(spec, done[:3])) is None  # the first generation
    parents = suggester.parents(History.from_spec(spec, done))
    assert parents is not None and parents.generation == 2 and len(parents.points) == 4
    # Trials in flight, failed ones and the incomplete third generation change nothing.
    running = make_trials(configs[9:10], start=10, status=TrialCondition.RUNNING)
    failed = make_trials(configs[10:], start=11, status=TrialCondition.FAILED)
    more = suggester.parents(History.from_spec(spec, [*done, *running, *failed]))
    assert more is not None and more.points.tolist() == parents.points.tolist()
    # Elitism: the parents are the best four of the eight trials of the two generations.
    losses = mo.losses_of(problem, done[:8])
    best = survivors(losses, None, 4)
    expected = SearchSpace.from_spec(spec).encode_many([done[int(i)].parameters for i in best])
    assert sorted(parents.points.tolist()) == sorted(expected.tolist())


@pytest.mark.parametrize(
    ("budget", "dims", "expected"),
    [
        (None, 3, 20),
        (None, 60, 20),
        (100, 4, 10),
        (100, 12, 12),
        (50, 2, 8),
        (10, 2, 8),
        (400, 5, 20),
        (10_000, 5, 50),
        (100, 80, 50),
    ],
)
def test_default_population_size_from_budget_and_dimension(
    budget: int | None, dims: int, expected: int
) -> None:
    assert default_population_size(budget, dims) == expected


def test_the_population_defaults_from_max_trial_count_and_a_setting_wins() -> None:
    problem = mo.zdt1(4)
    budgeted = mo.make_spec(problem, "nsga2", max_trial_count=100)
    assert NSGA2Suggester(budgeted, 0).population_size == 10
    assert NSGA2Suggester(mo.make_spec(problem, "nsga2"), 0).population_size == 20
    given = mo.make_spec(problem, "nsga2", {"population_size": "6"}, max_trial_count=100)
    assert NSGA2Suggester(given, 0).population_size == 6


def test_a_budget_extended_later_keeps_the_population_chosen_at_the_start() -> None:
    problem = mo.zdt1(4)
    first = NSGA2Suggester(mo.make_spec(problem, "nsga2", max_trial_count=100), 0)
    state = first.dump_state()
    assert state == {"population_size": 10}
    extended = NSGA2Suggester(mo.make_spec(problem, "nsga2", max_trial_count=900), 0)
    assert extended.population_size == 30
    extended.load_state(json.loads(json.dumps(state)))
    assert extended.population_size == 10
    # A population_size setting is the truth: nothing saved, nothing restored over it.
    given = mo.make_spec(problem, "nsga2", {"population_size": "6"}, max_trial_count=100)
    assert NSGA2Suggester(given, 0).dump_state() is None
    fixed = NSGA2Suggester(given, 0)
    fixed.load_state({"population_size": 10})
    assert fixed.population_size == 6


def test_each_suggestion_is_labelled_with_its_generation() -> None:
    problem = mo.zdt1(3)
    spec = mo.make_spec(problem, "nsga2", {"population_size": "4"})
    suggester = NSGA2Suggester(spec, 0)
    trials = []
    seen = []
    while len(trials) < 14:
        batch = suggester.suggest(History.from_spec(spec, trials), 3)
        for a in batch:
            seen.append(a.labels[GENERATION_LABEL])
            trials.append(mo.trial_of(problem, len(trials) + 1, a.parameters))
    # Batches of 3 asked with 0, 3, 6, 9 and 12 trials observed: 0, 0, 1, 2 and 3 whole
    # generations of 4.
    assert seen == ["0"] * 6 + ["1"] * 3 + ["2"] * 3 + ["3"] * 3


def test_the_initial_population_is_a_latin_hypercube() -> None:
    problem = mo.zdt1(3)
    spec = mo.make_spec(problem, "nsga2", {"population_size": "8"})
    suggester = NSGA2Suggester(spec, 2)
    # Asked one at a time or all at once: the same eight points, one in each eighth of every
    # dimension.
    trials = []
    for _ in range(8):
        (a,) = suggester.suggest(History.from_spec(spec, trials), 1)
        trials.append(mo.trial_of(problem, len(trials) + 1, a.parameters))
    batch = suggester.suggest(History.from_spec(spec, []), 8)
    assert [t.parameters for t in trials] == [dict(a.parameters) for a in batch]
    for name in ("x0", "x1", "x2"):
        strata = sorted(int(float(t.parameters[name]) * 8) for t in trials)
        assert strata == list(range(8)), (name, strata)


def test_violation_scales_and_normalised_values() -> None:
    violations = [(-5.0, 0.2), (400.0, -0.1), None, (100.0, 0.05), (-1.0, float("inf"))]
    assert violation_scales(violations) == (400.0, 0.2)
    assert violation_scales([(-1.0, -2.0)]) == (1.0, 1.0)  # nothing exceeded: unit scales
    assert violation_scales(None) is None and violation_scales([None]) is None
    assert normalised(violations, (400.0, 0.2)) == [
        (-5.0 / 400, 1.0),
        (1.0, -0.1 / 0.2),
        None,
        (0.25, 0.25),
        (-1.0 / 400, float("inf")),
    ]
    assert normalised(None, None) is None


def test_a_large_unit_constraint_does_not_swamp_the_others() -> None:
    # Memory in MB (max 512) and an error rate (max 0.1); every trial violates both and the
    # objectives tie, so Deb's total violation alone picks the parents.  Raw excess sums
    # (200.5, 1.4, 100.0001, 0.85) would keep x = 0.2 and 0.4, by memory's units alone;
    # divided by each constraint's largest excess (200, 0.5) they are (2, 0.805, 0.5002,
    # 0.7025): x = 0.3, almost within the error rate, and 0.4 survive.
    table = {0.1: (712.0, 0.6), 0.2: (513.0, 0.5), 0.3: (612.0, 0.1001), 0.4: (512.5, 0.45)}

    def metrics(params: Mapping[str, ParamValue]) -> dict[str, float]:
        memory, error = table[round(float(params["x"]), 3)]
        return {"f1": 0.0, "f2": 0.0, "memory": memory, "error": error}

    problem = mo.Problem(
        "units",
        (contract.double_param("x", "0", "1"),),
        ("f1", "f2"),
        (Constraint("memory", max=512.0), Constraint("error", max=0.1)),
        (1.0, 1.0),
        metrics,
    )
    spec = mo.make_spec(problem, "nsga2", {"population_size": "2"})
    trials = [mo.trial_of(problem, i + 1, {"x": x}) for i, x in enumerate(table)]
    parents = NSGA2Suggester(spec, 0).parents(History.from_spec(spec, trials))
    assert parents is not None and parents.generation == 2
    space = SearchSpace.from_spec(spec)
    chosen = sorted(
        round(float(space.params_of(k)["x"]), 3) for k in space.keys_from_unit(parents.points)
    )
    assert chosen == [0.3, 0.4]


def test_children_are_feasible_on_mixed_spaces() -> None:
    spec = contract.make_spec(contract.default_parameters(), "nsga2", {"population_size": "4"})
    space = SearchSpace.from_spec(spec)
    trials, batches = contract.simulate(create_suggester(spec, 5), spec, 12, 5)
    assert sum(len(b) for b in batches) == 60
    for batch in batches:
        for assignment in batch:
            contract.assert_feasible(space, assignment)
    assert len({space.canonical(t.parameters) for t in trials}) == len(trials)


def _mean_hv(problem: mo.Problem, algorithm: str, settings: dict[str, str] | None) -> float:
    return statistics.mean(
        mo.hypervolume_of(
            problem, mo.run(problem, algorithm, 150, seed, batch=5, settings=settings)
        )
        for seed in range(3)
    )


def test_zdt1_beats_random() -> None:
    # Deterministic seeds: the same numbers every run.
    problem = mo.zdt1(5)
    random = _mean_hv(problem, "random", None)
    nsga2 = _mean_hv(problem, "nsga2", None)
    assert nsga2 > random, (nsga2, random)


def test_single_objective_is_a_genetic_algorithm_that_beats_random() -> None:
    problem = mo.constrained_sphere(4)
    unconstrained = mo.Problem(
        "sphere", problem.parameters, problem.objectives, (), problem.reference, problem.metrics
    )

    def best(algorithm: str, seed: int) -> float:
        trials = mo.run(unconstrained, algorithm, 150, seed, batch=5)
        return float(mo.losses_of(unconstrained, trials).min())

    ga = statistics.mean(best("nsga2", s) for s in range(3))
    rand = statistics.mean(best("random", s) for s in range(3))
    assert ga < 0.5 * rand, (ga, rand)


def test_constrained_search_finds_the_feasible_region() -> None:
    problem = mo.constrained_zdt1(5)

    def late_feasible(algorithm: str) -> float:
        fractions = []
        for seed in range(3):
            trials = mo.run(problem, algorithm, 150, seed, batch=5)
            fractions.append(statistics.mean(mo.feasible(problem, trials[-50:])))
        return statistics.mean(fractions)

    nsga2, random = late_feasible("nsga2"), late_feasible("random")
    assert nsga2 > 0.3 > 0.1 > random, (nsga2, random)


# --------------------------------------------------------------------------- end to end

_TWO_OBJECTIVES = """
import sys
args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:])
x, y, kind = float(args["x"]), float(args["y"]), args["kind"]
penalty = 0.0 if kind == "a" else 0.3
print(f"f1={x + penalty} f2={(1 - x) ** 2 + y + penalty} load={x + y}", flush=True)
"""


@pytest.mark.integration
@pytest.mark.parametrize("algorithm", ["nsga2", "tpe"])
def test_a_constrained_two_objective_experiment_runs_end_to_end(
    tmp_path: Path, algorithm: str
) -> None:
    parameters = [
        {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
        {"name": "y", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
        {"name": "kind", "parameterType": "categorical", "feasibleSpace": {"list": ["a", "b"]}},
    ]
    settings = (
        [{"name": "population_size", "value": "4"}]
        if algorithm == "nsga2"
        else [{"name": "n_startup_trials", "value": "4"}]
    )
    doc = native_doc(
        "mo",
        _TWO_OBJECTIVES,
        parameters=parameters,
        algorithm=algorithm,
        parallel=3,
        max_trials=14,
        extra_spec={
            "objectives": [
                {"metric": "f1", "direction": "minimize"},
                {"metric": "f2", "direction": "minimize"},
            ],
            "constraints": [{"metric": "load", "max": 1.2}],
        },
    )
    del doc["spec"]["objective"]
    doc["spec"]["algorithm"]["algorithmSettings"] = settings
    write_yaml(tmp_path / "mo.yaml", doc)
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", "run", "mo.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db")},
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    store = Store(str(tmp_path / "tunery.db"))
    experiment = store.get_experiment("mo")
    trials = store.list_trials("mo")
    assert len(trials) == 14
    history = History.from_spec(experiment.spec, trials)
    assert history.n_objectives == 2 and history.n_constraints == 1
    # Every trial finished with both objectives and its constraint; none repeated.
    assert len(history.observed) == 14
    assert all(e.losses is not None and e.constraints is not None for e in history.observed)
    assert len(history.tried_keys) == 14
    if algorithm == "nsga2":  # each trial labelled with its generation, shown by `trials`
        generations = [int(t.labels[GENERATION_LABEL]) for t in trials]
        assert generations[:4] == [0, 0, 0, 0] and max(generations) >= 1
        assert generations == sorted(generations)
        shown = subprocess.run(
            [sys.executable, "-m", "tunery", "trials", "mo"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db")},
        )
        assert shown.returncode == 0, shown.stderr
        lines = [line.split() for line in shown.stdout.splitlines() if line.strip()]
        header = next(cells for cells in lines if cells[0] == "trial")
        rows = [cells for cells in lines if cells[0].startswith("mo-")]
        column = header.index("gen")
        by_name = {t.name: t.labels[GENERATION_LABEL] for t in trials}
        cells = {row[0]: row[column] for row in rows if row[0] in by_name}
        assert cells == by_name


def mirrored(problem: mo.Problem) -> mo.Problem:
    """``problem`` with every objective and constraint metric negated (objectives maximised)."""

    def metrics(params: Mapping[str, ParamValue]) -> dict[str, float]:
        return {f"neg_{k}": -v for k, v in problem.metrics(params).items()}

    constraints = tuple(
        Constraint(
            f"neg_{c.metric}",
            min=None if c.max is None else -c.max,
            max=None if c.min is None else -c.min,
        )
        for c in problem.constraints
    )
    objectives = tuple(f"neg_{m}" for m in problem.objectives)
    return mo.Problem(
        problem.name,
        problem.parameters,
        objectives,
        constraints,
        problem.reference,
        metrics,
        maximize=objectives,
    )


@pytest.mark.parametrize("algorithm", ["nsga2", "tpe"])
def test_maximize_mirrors_minimize(algorithm: str) -> None:
    problem = mo.constrained_zdt1(4)
    settings = {"population_size": "6"} if algorithm == "nsga2" else None
    plain = mo.run(problem, algorithm, 40, 1, batch=4, settings=settings)
    mirror = mo.run(mirrored(problem), algorithm, 40, 1, batch=4, settings=settings)
    assert [t.parameters for t in plain] == [t.parameters for t in mirror]


def _ask_tell(algorithm: str, settings: dict[str, int], storage: Path | None) -> tunery.Optimizer:
    """48 results of a two-objective problem whose front lies on its constraint."""
    opt = tunery.Optimizer(
        {"x": S.double(0.0, 1.0), "y": S.double(0.0, 1.0), "kind": S.categorical(["a", "b"])},
        algorithm=algorithm,
        settings=settings,
        objectives=[("acc", "maximize"), ("latency", "minimize")],
        constraints=[{"metric": "memory", "max": 1.0}],
        storage=None if storage is None else str(storage),
        name=None if storage is None else "mo-study",
        seed=1,
    )
    for _ in range(12):
        for s in opt.ask(4):
            x, y = float(s.params["x"]), float(s.params["y"])
            bonus = 0.1 if s.params["kind"] == "a" else 0.0
            opt.tell(s, {"acc": x + bonus, "latency": x**2 + y, "memory": x + y})
    return opt


def _late_feasible(opt: tunery.Optimizer) -> int:
    return sum(t.metrics["memory"].latest <= 1.0 for t in opt.trials[-16:])  # type: ignore[operator]


@pytest.mark.parametrize("algorithm", ["nsga2", "tpe"])
def test_ask_tell_with_two_objectives_and_a_constraint(tmp_path: Path, algorithm: str) -> None:
    settings = {"population_size": 8} if algorithm == "nsga2" else {"n_startup_trials": 8}
    opt = _ask_tell(algorithm, settings, tmp_path / "t.db")
    front = opt.best_trials
    assert front
    for best in front:
        assert float(best.params["x"]) + float(best.params["y"]) <= 1.0  # feasible only
    # The search learned the constraint: more of its late trials are feasible than random's.
    assert _late_feasible(opt) >= _late_feasible(_ask_tell("random", {}, None)) + 3


# --------------------------------------------------------------------------- conditional spaces


def test_registered_as_conditional() -> None:
    assert "nsga2" in conditional_algorithms()


def test_inactive_genes_are_filled_from_the_other_parent() -> None:
    params = [
        categorical_param("kind", ["a", "b"]),
        when(double_param("x", "0", "1"), kind=["a"]),
        when(double_param("y", "0", "1"), kind=["b"]),
        when(categorical_param("c", ["p", "q", "r"]), kind=["b"]),
        when(double_param("z", "0", "1"), c=["r"]),
    ]
    suggester = create_suggester(contract.make_spec(params, "nsga2"), 0)
    assert isinstance(suggester, NSGA2Suggester)
    space = SearchSpace(params)
    a, b = space.encode_keys(
        [
            space.canonical({"kind": "a", "x": 0.3}),
            space.canonical({"kind": "b", "y": 0.6, "c": "q"}),
        ]
    )
    rng = np.random.default_rng(0)
    a_full, b_full = suggester._complete(a, b, rng)
    assert a_full[:4].tolist() == [0.25, 0.3, 0.6, 0.5]  # kind a, its x, y and c from b
    assert b_full[:4].tolist() == [0.75, 0.3, 0.6, 0.5]
    assert a_full[4] == b_full[4] and 0.0 <= a_full[4] <= 1.0  # inactive in both: a draw


@pytest.mark.parametrize("objectives", [1, 2])
def test_conditional_children_stay_in_the_space(objectives: int) -> None:
    problem = tree_problem()
    if objectives == 1:
        problem = mo.Problem("tree1", problem.parameters, ("f1",), (), (2.0,), problem.metrics)
    space = SearchSpace(problem.parameters)
    settings = {"population_size": "8"}
    trials = mo.run(problem, "nsga2", 60, 1, batch=4, settings=settings)
    assert len({space.canonical(t.parameters) for t in trials}) == 60
    for trial in trials:
        assert space.contains(trial.parameters), trial.parameters
        active = {n for n in space.names if space.is_active(n, trial.parameters)}
        assert set(trial.parameters) == active


def test_conditional_genetic_algorithm_beats_random() -> None:
    tree = tree_problem()
    problem = mo.Problem("tree1", tree.parameters, ("f1",), (), (2.0,), tree.metrics)

    def best(algorithm: str, seed: int) -> float:
        trials = mo.run(problem, algorithm, 100, seed, batch=5, settings=settings[algorithm])
        return float(mo.losses_of(problem, trials).min())

    settings: dict[str, dict[str, str] | None] = {
        "nsga2": {"population_size": "10"},
        "random": None,
    }
    ga = statistics.mean(best("nsga2", s) for s in range(3))
    rand = statistics.mean(best("random", s) for s in range(3))
    assert ga < 0.5 * rand, (ga, rand)
