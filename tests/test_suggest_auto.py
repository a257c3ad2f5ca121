"""``algorithmName: auto``: its choices by space and budget, its labels, its state."""

from __future__ import annotations

import json

import pytest

import tunery
from tunery.errors import SpecError
from tunery.model import Objective, ObjectiveTerm, ObjectiveType
from tunery.suggest import create_suggester
from tunery.suggest.auto import SUGGESTED_BY_LABEL, choose, explain
from tunery.testing.suggest import (
    categorical_param,
    double_param,
    int_param,
    make_spec,
    simulate,
)


def _doubles(n: int) -> list:
    return [double_param(f"x{i}", "0", "1") for i in range(n)]


def test_small_budget_numeric_space_is_the_gp_after_sobol() -> None:
    c = choose(make_spec(_doubles(3), "auto", max_trial_count=50))
    assert (c.starter, c.model, c.initial) == ("sobol", "bayesianoptimization", 10)


def test_sobol_phase_grows_with_dimensions_and_shrinks_with_a_small_budget() -> None:
    assert choose(make_spec(_doubles(8), "auto", max_trial_count=100)).initial == 10
    assert choose(make_spec(_doubles(14), "auto", max_trial_count=200)).initial == 14
    assert choose(make_spec(_doubles(30), "auto", max_trial_count=200)).initial == 20
    assert choose(make_spec(_doubles(3), "auto", max_trial_count=12)).initial == 4
    spec = make_spec(_doubles(3), "auto", {"n_initial_points": "3"}, max_trial_count=50)
    assert choose(spec).initial == 3


def test_large_or_unlimited_budget_is_tpe() -> None:
    assert choose(make_spec(_doubles(3), "auto", max_trial_count=1000)).model == "tpe"
    assert choose(make_spec(_doubles(3), "auto")).model == "tpe"


def test_mostly_categorical_space_is_tpe() -> None:
    params = [categorical_param(f"c{i}", ["a", "b", "c"]) for i in range(3)] + _doubles(2)
    choice = choose(make_spec(params, "auto", max_trial_count=50))
    assert choice.model == "tpe"
    assert "3 of 5 parameters are categorical" in choice.reason


def test_large_budget_over_a_high_dimensional_numeric_space_is_cmaes() -> None:
    params = [*_doubles(19), int_param("n", "1", "10")]
    assert choose(make_spec(params, "auto", max_trial_count=1000)).model == "cmaes"
    assert choose(make_spec(params, "auto")).model == "cmaes"
    # The same space with a small budget: the GP (measured better at 200 evaluations).
    assert choose(make_spec(params, "auto", max_trial_count=200)).model == "bayesianoptimization"
    # More dimensions than the GP takes, a small budget: tpe.
    assert choose(make_spec(_doubles(25), "auto", max_trial_count=200)).model == "tpe"


def test_a_refusing_candidate_is_passed_over() -> None:
    # Several objectives: only multi-objective algorithms are candidates; cmaes (the rule's
    # pick for this space) refuses them at validation, so tpe runs, and the reason says so.
    objective = Objective(
        ObjectiveType.MINIMIZE,
        "loss",
        terms=(
            ObjectiveTerm("loss", ObjectiveType.MINIMIZE),
            ObjectiveTerm("cost", ObjectiveType.MINIMIZE),
        ),
    )
    many = make_spec(_doubles(20), "auto", max_trial_count=1000, objective=objective)
    choice = choose(many)
    assert choice.model == "tpe"
    assert "cmaes does not accept this space, so tpe" in choice.reason
    single = make_spec(_doubles(20), "auto", max_trial_count=1000)
    assert choose(single).model == "cmaes"
    small = make_spec(_doubles(3), "auto", max_trial_count=60, objective=objective)
    assert choose(small).model == "bayesianoptimization"
    suggester = create_suggester(small, 1)
    _, rounds = simulate(suggester, small, rounds=5, count=3)
    assert rounds[-1][0].labels[SUGGESTED_BY_LABEL] == "bayesianoptimization"


def test_explain_is_one_line_naming_both_phases() -> None:
    line = explain(make_spec(_doubles(3), "auto", max_trial_count=50))
    assert "\n" not in line
    assert line.startswith("algorithm auto: sobol for the first 10 trials, then bayesianopt")
    assert "maxTrialCount 50" in line


def test_bad_setting_names_the_field() -> None:
    spec = make_spec(_doubles(2), "auto", {"n_initial_points": "-1"}, max_trial_count=20)
    with pytest.raises(SpecError) as info:
        create_suggester(spec, 1)
    assert "algorithmSettings[0]" in str(info.value)


def test_each_suggestion_is_labelled_with_its_maker() -> None:
    spec = make_spec(_doubles(2), "auto", max_trial_count=30, parallel_trial_count=4)
    suggester = create_suggester(spec, 7)
    _, rounds = simulate(suggester, spec, rounds=6, count=4)
    makers = [a.labels[SUGGESTED_BY_LABEL] for batch in rounds for a in batch]
    assert makers[:10] == ["sobol"] * 10
    assert set(makers[10:]) == {"bayesianoptimization"}
    # The round that crosses the boundary mixes both, without repeating a configuration.
    crossing = rounds[2]
    assert [a.labels[SUGGESTED_BY_LABEL] for a in crossing] == ["sobol"] * 2 + [
        "bayesianoptimization"
    ] * 2
    keys = [tuple(sorted(a.parameters.items())) for batch in rounds for a in batch]
    assert len(keys) == len(set(keys))


def test_state_round_trip_continues_identically() -> None:
    spec = make_spec(_doubles(3), "auto", max_trial_count=40)
    one = create_suggester(spec, 3)
    history, _ = simulate(one, spec, rounds=5, count=3)
    state = json.loads(json.dumps(one.dump_state()))
    assert state["choice"] == "bayesianoptimization"
    assert state["sobol"] == {"drawn": 10}
    two = create_suggester(spec, 3)
    two.load_state(state)
    from tunery.history import History

    h = History.from_spec(spec, history)
    assert one.suggest(h, 2) == two.suggest(h, 2)


def test_labels_are_stored_with_the_trials(tmp_path) -> None:
    space = {"x": tunery.search.double(0, 1), "y": tunery.search.double(0, 1)}
    db = f"sqlite:///{tmp_path / 'a.db'}"
    opt = tunery.Optimizer(
        space, algorithm="auto", seed=2, max_trial_count=14, storage=db, name="auto-labels"
    )
    for _ in range(14):
        (s,) = opt.ask(1)
        opt.tell(s, (s.params["x"] - 0.3) ** 2 + s.params["y"])
    opt.finish()
    trials = tunery.Client(db).list_trials("auto-labels")
    makers = [t.labels[SUGGESTED_BY_LABEL] for t in trials]
    assert makers == ["sobol"] * 4 + ["bayesianoptimization"] * 10


def test_conditional_spaces_get_only_algorithms_that_take_them() -> None:
    from tunery.testing.trees import tree_parameters, when

    tree = make_spec(tree_parameters(), "auto", max_trial_count=60)
    assert choose(tree).model == "bayesianoptimization"  # it takes conditional parameters
    # A large numeric conditional space: cmaes would be the rule's pick, and refuses it.
    params = [int_param("depth", "1", "2")] + [
        when(double_param(f"x{i}", "0", "1"), depth=["2"]) for i in range(20)
    ]
    big = choose(make_spec(params, "auto", max_trial_count=1000))
    assert big.model == "tpe"
    assert "cmaes does not accept this space, so tpe" in big.reason
    suggester = create_suggester(tree, 4)
    _, rounds = simulate(suggester, tree, rounds=5, count=3)
    for batch in rounds:
        for a in batch:
            if a.parameters["kind"] == "b":
                assert "x" not in a.parameters  # inactive parameters are absent
