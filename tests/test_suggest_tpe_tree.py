"""Tests of the TPE over conditional parameters (tunery/suggest/tpe_tree.py).

``tpe`` (its default on a conditional space: one model per parameter) and ``tpe-joint`` (``tpe``
with ``multivariate: "true"``: one model per group of co-active parameters) both go through the
tree sampler when a parameter has ``active_when``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import pytest

from tunery.history import History
from tunery.model import ExperimentSpec, ParameterSpec, Trial
from tunery.space import SearchSpace
from tunery.suggest import create_suggester
from tunery.suggest.base import conditional_algorithms
from tunery.suggest.tpe_tree import BRANCH_FLOOR, TreeTPE
from tunery.testing import multiobjective as mo
from tunery.testing.suggest import make_spec, make_trials
from tunery.testing.trees import (
    PLANTED_OPTIMUM,
    planted,
    tree_objective,
    tree_parameters,
    tree_problem,
)

ALGORITHMS = ("tpe", "tpe-joint")


def _spec(params: Sequence[ParameterSpec], algorithm: str) -> ExperimentSpec:
    settings = {"multivariate": "true"} if algorithm == "tpe-joint" else {}
    name = "tpe" if algorithm == "tpe-joint" else algorithm
    return make_spec(params, name, settings)


def run(
    spec: ExperimentSpec, seed: int, total: int, batch: int = 1, objective=tree_objective
) -> list[Trial]:
    suggester = create_suggester(spec, seed)
    trials: list[Trial] = []
    while len(trials) < total:
        for a in suggester.suggest(History.from_spec(spec, trials), batch):
            trials += make_trials([a], start=len(trials) + 1, objective=objective)
    return trials


def test_registered_as_conditional() -> None:
    assert {"tpe", "multivariate-tpe"} <= set(conditional_algorithms())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("batch", [1, 4])
def test_only_active_subspaces_are_suggested(algorithm: str, batch: int) -> None:
    params = tree_parameters()
    space = SearchSpace(params)
    trials = run(_spec(params, algorithm), 1, 40, batch)
    assert len({space.canonical(t.parameters) for t in trials}) == 40
    for trial in trials:
        assert space.contains(trial.parameters), trial.parameters
        active = {n for n in space.names if space.is_active(n, trial.parameters)}
        assert set(trial.parameters) == active  # inactive parameters are absent
    kinds = {str(t.parameters["kind"]) + str(t.parameters.get("mode", "")) for t in trials}
    assert kinds == {"a", "bp", "bq"}  # every branch explored


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_deterministic_for_a_seed(algorithm: str) -> None:
    spec = _spec(tree_parameters(), algorithm)
    first = [t.parameters for t in run(spec, 3, 20, 2)]
    assert first == [t.parameters for t in run(spec, 3, 20, 2)]
    assert first != [t.parameters for t in run(spec, 4, 20, 2)]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_beats_random_on_a_tree(algorithm: str) -> None:
    tpe, rand = [], []
    for seed in range(4):
        tpe.append(
            min(t.objective or 0.0 for t in run(_spec(tree_parameters(), algorithm), seed, 50))
        )
        rand.append(
            min(t.objective or 0.0 for t in run(_spec(tree_parameters(), "random"), seed, 50))
        )
    assert statistics.mean(tpe) < 0.5 * statistics.mean(rand)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_parameter_is_modelled_on_the_trials_where_it_was_active(algorithm: str) -> None:
    params, trials = planted()
    spec = _spec(params, algorithm)
    xs = []
    for seed in range(5):
        suggestions = create_suggester(spec, seed).suggest(History.from_spec(spec, trials), 4)
        assert all(a.parameters["kind"] == "a" for a in suggestions)
        xs += [float(a.parameters["x"]) for a in suggestions]
    assert statistics.median(abs(x - PLANTED_OPTIMUM) for x in xs) < 0.1, sorted(xs)


def test_groups_are_visited_parents_first() -> None:
    params = list(reversed(tree_parameters()))  # children listed before their parents
    spec = _spec(params, "tpe")
    tree = TreeTPE(spec, SearchSpace(params), *_tree_args(spec))
    names = [{params[int(i)].name for i in g.dims} for g in tree.groups]
    assert sorted(map(sorted, names)) == [["k"], ["kind", "u"], ["mode"], ["n", "x"], ["w", "z"]]
    space = SearchSpace(params)
    for position, group in enumerate(names):
        earlier = set().union(*names[:position])
        assert all(set(space.parents(name)) <= earlier for name in group)
    trials = run(spec, 2, 20)
    assert all(SearchSpace(params).contains(t.parameters) for t in trials)


def _tree_args(spec: ExperimentSpec) -> tuple[object, ...]:
    from tunery.suggest.tpe import TPESettings, _Model

    return TPESettings.from_spec(spec), _Model, True


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_several_objectives_split_each_group(algorithm: str) -> None:
    problem = tree_problem()
    space = SearchSpace(problem.parameters)
    settings = {"multivariate": "true"} if algorithm == "tpe-joint" else {}
    trials = mo.run(problem, "tpe", 30, 0, batch=2, settings=settings)
    assert len({space.canonical(t.parameters) for t in trials}) == 30
    assert all(space.contains(t.parameters) for t in trials)


def test_branch_floors_follow_how_little_each_branch_was_tried() -> None:
    params = tree_parameters()
    spec = _spec(params, "tpe")
    space = SearchSpace(params)
    tree = TreeTPE(spec, space, *_tree_args(spec))
    branching = {params[b.dim].name: len(b.codes) for g in tree.groups for b in g.branching}
    assert branching == {"kind": 2, "mode": 2}  # the parents, each with its two branches
    (kind,) = tree.groups[0].branching
    a = space.canonical({"kind": "a", "u": 0.5, "x": 0.1, "n": 3})
    b = space.canonical({"kind": "b", "u": 0.5, "mode": "q", "k": 2})
    assert kind.floors([]).tolist() == [BRANCH_FLOOR / 2] * 2  # nothing tried: both floored
    assert kind.floors([a, b, a, b]).tolist() == [0.0, 0.0]  # an equal share: no floor
    floors = kind.floors([a] * 9 + [b])
    assert floors[0] == 0.0 and floors[1] == pytest.approx(BRANCH_FLOOR / 2 * (1 - 2 / 10))


def test_a_branch_whose_few_tries_were_poor_is_tried_again() -> None:
    # The optimum (kind=b, mode=p) is in a branch that looks worse than q at random.  Without
    # the branch floors and the prior draws of groups with few poor tries, 2 of these 12 seeds
    # were still above 0.04 after 30 evaluations (0.201 in q's basin and 0.053); with them, 1.
    spec = _spec(tree_parameters(), "tpe")
    bests = [min(t.objective or 0.0 for t in run(spec, seed, 30)) for seed in range(12)]
    assert sum(b > 0.04 for b in bests) <= 1, bests
