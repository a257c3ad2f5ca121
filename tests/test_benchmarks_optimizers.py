"""benchmarks/optimizers/: the peers' space mapping, the suite's CPU-time accounting and problems.

The peers themselves (Ax, HEBO, SMAC3) live in the optional ``bench`` extra and are exercised
by the suite's smoke run (docs/benchmarks.md), not here; these tests need none of them.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "optimizers"))

import peers
import suite
from ml_problems import ML_PROBLEMS
from problems import PROBLEMS, Param, Problem, random_point


@pytest.mark.parametrize(
    ("param", "value"),
    [
        (Param("w", "double", 0.5, 0.5 + 1e-6), 0.5 + 3e-7),
        (Param("lr", "double", 1e-7, 1.5e-7, log=True), 1.2e-7),
    ],
)
def test_narrow_float_ranges_are_rescaled_for_ax_and_mapped_back(
    param: Param, value: float
) -> None:
    low, high, offset, scale = peers._ax_bounds(param)
    assert high - low >= 1e-3  # wide enough for Ax's check (100 * 1.5e-7)
    ax_value = (value - offset) / scale
    assert low <= ax_value <= high
    assert offset + scale * low == pytest.approx(param.low)
    assert offset + scale * high == pytest.approx(param.high)
    assert offset + scale * ax_value == pytest.approx(value)
    if param.log:  # a log scale stays a log scale: a constant factor, no offset
        assert offset == 0.0
        assert math.log(high / low) == pytest.approx(math.log(param.high / param.low))


def test_ordinary_ranges_reach_ax_unchanged() -> None:
    for problem in suite.PROBLEMS.values():
        for param in problem.params:
            if param.kind == "double":
                assert peers._ax_bounds(param) == (param.low, param.high, 0.0, 1.0)


def test_cpu_time_per_suggestion_leaves_out_the_objective() -> None:
    def slow(point: dict[str, float]) -> float:
        end = time.process_time() + 0.02  # 20 ms of CPU per evaluation
        while time.process_time() < end:
            pass
        return point["x0"] ** 2

    problem = Problem("slow", (Param("x0", "double", -1, 1),), slow, 0.0)
    values, cpu = suite.timed_run("random", problem, 10, 0, 1)
    assert len(values) == 10
    assert 0.0 <= cpu < 0.01  # random search's own cost, not the 20 ms objective


def test_peers_are_in_the_default_methods() -> None:
    methods = suite.DEFAULT_METHODS.split(",")
    assert {"ax", "hebo", "smac-bb", "smac-hpo"} <= set(methods)


def test_an_unknown_smac_facade_is_refused_by_name() -> None:
    pytest.importorskip("smac")
    with pytest.raises(SystemExit, match="smac-bb or smac-hpo"):
        peers.run("smac-nope", PROBLEMS["branin"], 5, 0, 1)


@pytest.mark.parametrize("mode", ["cold", "warm"])
def test_latency_times_tunery_with_a_cold_or_warm_history(
    mode: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import latency

    argv = ["latency.py", "--sizes", "12", "--methods", "tunery-tpe", "--repeat", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--history", mode])
    latency.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f"{mode} history")
    row = next(line for line in lines if line.startswith("| tunery-tpe |"))
    assert float(row.split("|")[2]) > 0.0


def test_the_default_set_leaves_out_the_degenerate_problems_but_keeps_them_runnable() -> None:
    assert "tree-wine" not in suite.DEFAULT_PROBLEMS
    assert "svc-cancer" not in suite.DEFAULT_PROBLEMS
    assert {"tree-wine", "svc-cancer"} <= set(suite.PROBLEMS)
    assert {p.name for p in ML_PROBLEMS} <= set(suite.DEFAULT_PROBLEMS)


def test_the_shifted_problems_have_their_minimum_where_they_say_and_not_at_the_centre() -> None:
    import problems

    cases = [
        ("ackley5-shifted", problems.ACKLEY5_SHIFTED_AT),
        ("rosenbrock4-shifted", problems.ROSENBROCK4_SHIFTED_AT),
        ("levy4-shifted", problems.LEVY4_SHIFTED_AT),
        ("mixed-shifted", problems.MIXED_SHIFTED_AT),
    ]
    for name, at in cases:
        problem = suite.PROBLEMS[name]
        assert name not in suite.DEFAULT_PROBLEMS
        assert problem.fn(at) == pytest.approx(0.0, abs=1e-12) and problem.optimum == 0.0
        centre = problems.PROBLEMS[name.removesuffix("-shifted")]
        middle = {
            p.name: (math.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2)
            if p.kind == "double"
            else (p.choices[0] if p.kind == "categorical" else 0)
            for p in problem.params
        }
        # The original's value at the centre is (near) its minimum; the shifted one's is not.
        assert problem.fn(middle) > centre.fn(middle) + 1.0
        for param in problem.params:
            if param.kind == "double" and not param.log:
                assert param.low < at[param.name] < param.high


def test_the_ml_problems_mix_kinds_and_reach_eight_dimensions() -> None:
    assert max(len(p.params) for p in ML_PROBLEMS) >= 8
    for problem in ML_PROBLEMS:
        kinds = {(p.kind, p.log) for p in problem.params}
        assert ("categorical", False) in kinds, problem.name
        assert ("double", True) in kinds, problem.name


@pytest.mark.parametrize("problem", ML_PROBLEMS, ids=lambda p: p.name)
def test_each_ml_problem_evaluates_deterministically(problem: Problem) -> None:
    rng = np.random.default_rng(3)
    first, second = random_point(problem, rng), random_point(problem, rng)
    value = problem.fn(first)
    assert math.isfinite(value)
    assert problem.fn(dict(first)) == value  # same configuration, same CV splits, same value
    assert problem.fn(second) != value  # the objective does depend on the configuration


def test_the_standard_error_is_over_the_seeds_of_the_mean_over_problems() -> None:
    # Seed means over the two problems: 10, 20, 30 -> sd 10, se 10 / sqrt(3).
    per_problem = {"a": [0.0, 10.0, 20.0], "b": [20.0, 30.0, 40.0]}
    assert suite.standard_error(per_problem, 3) == pytest.approx(10 / math.sqrt(3))
    assert math.isnan(suite.standard_error(per_problem, 1))


def _collect(tmp_path: Path, jobs: int) -> dict[str, list[float]]:
    import argparse

    args = argparse.Namespace(
        problems=["branin", "mixed"],
        methods=["random", "tunery-tpe", "tunery-no-such-algorithm", "no-such-method"],
        seeds=2,
        budgets=[5, 12],
        batch=4,
        jobs=jobs,
    )
    path = tmp_path / f"cache-{jobs}.json"
    cache: dict[str, list[float]] = {}
    suite.collect(args, cache, path)
    assert suite.load(path) == cache
    return cache


def test_runs_in_several_processes_give_the_same_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = _collect(tmp_path, 1)
    two = _collect(tmp_path, 2)
    values = {k: v for k, v in one.items() if not k.startswith("cpu|")}
    assert values == {k: v for k, v in two.items() if not k.startswith("cpu|")}
    # Stored to 9 significant digits, as the committed results are.
    assert all(suite.stored(v) == v for v in values.values())
    # 2 problems x 2 working methods x 2 seeds, each a run of 12; the unknown method fails.
    assert len(values) == 8 and all(len(v) == 12 for v in values.values())
    assert set(one) == set(two)
    out = capsys.readouterr().out
    assert out.count("tunery-no-such-algorithm seed") == out.count("no-such-method seed") == 8


def test_merge_adds_other_caches_runs_and_a_later_file_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    first = {suite.key("branin", "random", 0, 1, 10): [3.0], "cpu|x": [0.1]}
    second = {
        suite.key("branin", "random", 0, 1, 10): [2.0],
        suite.key("mixed", "random", 0, 1, 10): [1.0 + 1e-12],  # (merged as 1.0)
    }
    (tmp_path / "a.json").write_text(json.dumps(first))
    (tmp_path / "b.json").write_text(json.dumps(second))
    out = tmp_path / "all.json"
    argv = [
        "suite.py",
        "--cache",
        str(out),
        "--merge",
        str(tmp_path / "a.json"),
        str(tmp_path / "b.json"),
    ]
    monkeypatch.setattr(sys, "argv", [*argv, "--budgets", "10", "--seeds", "1"])
    suite.main()
    assert suite.load(out) == {**first, **second, suite.key("mixed", "random", 0, 1, 10): [1.0]}
    assert "budget 10" in capsys.readouterr().out


def test_a_run_at_a_larger_budget_serves_a_smaller_table_by_its_first_evaluations() -> None:
    cache = {
        suite.key("branin", "ax", 0, 1, 25): [5.0] * 25,
        suite.key("branin", "ax", 0, 1, 100): [4.0] * 100,
        suite.key("branin", "random", 0, 1, 100): [6.0] * 100,
        suite.key("branin", "random", 0, 4, 10): [6.0] * 10,
    }
    # The run made at the table's budget first, else the smallest that reaches it.
    assert suite.run_key(cache, "branin", "ax", 0, 1, 25) == "branin|ax|0|1|25"
    assert suite.run_key(cache, "branin", "ax", 0, 1, 10) == "branin|ax|0|1|25"
    assert suite.run_key(cache, "branin", "ax", 0, 1, 50) == "branin|ax|0|1|100"
    assert suite.run_key(cache, "branin", "random", 0, 1, 25) == "branin|random|0|1|100"
    # Never a shorter run, another seed, another batch size or a prefix of another method.
    assert suite.run_key(cache, "branin", "ax", 0, 1, 200) is None
    assert suite.run_key(cache, "branin", "ax", 1, 1, 25) is None
    assert suite.run_key(cache, "branin", "random", 0, 4, 25) is None
    assert suite.run_key(cache, "branin", "a", 0, 1, 25) is None


def test_a_method_leads_only_with_the_highest_mean_and_the_best_rank() -> None:
    assert suite.leader([("a", 80.0, 1.5), ("b", 70.0, 2.0)]) == (
        "leads: a (mean 80.0, mean rank 1.50)"
    )
    split = suite.leader([("a", 80.0, 2.5), ("b", 70.0, 2.0)])
    assert split == "nobody leads: highest mean a (80.0), best mean rank b (2.00)"
    # A tie on either measure singles nobody out.
    assert suite.leader([("a", 80.0, 1.5), ("b", 80.0, 2.0)]).startswith("nobody leads")
    assert suite.leader([("a", 80.0, 1.5), ("b", 70.0, 1.5)]).startswith("nobody leads")


def test_a_table_from_longer_runs_says_whose_cpu_time_is_over_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    cache = {
        suite.key("branin", "random", 0, 1, 30): [9.0] * 30,
        f"cpu|{suite.key('branin', 'random', 0, 1, 30)}": [0.001],
        suite.key("branin", "ax", 0, 1, 10): [5.0] * 10,
        f"cpu|{suite.key('branin', 'ax', 0, 1, 10)}": [0.5],
    }
    path = tmp_path / "cache.json"
    path.write_text(json.dumps(cache))
    argv = ["suite.py", "--report", "--cache", str(path), "--problems", "branin"]
    argv += ["--methods", "random,ax", "--budgets", "10", "--seeds", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    suite.main()
    out = capsys.readouterr().out
    # branin's optimum is 0.398: 5.0 against random's 9.0 scores 46.5.
    assert "| ax | 46.5 | **46.5** ± nan | 1.00 | 500 |" in out
    assert "| random | 0.0 | **0.0** ± nan | 2.00 | 1 (runs of 30) |" in out
    assert "leads: ax" in out

    # A row whose runs mix the table's budget and a longer one names both.
    cache[suite.key("hartmann6", "random", 0, 1, 10)] = [-1.0] * 10
    cache[f"cpu|{suite.key('hartmann6', 'random', 0, 1, 10)}"] = [0.003]
    cache[suite.key("hartmann6", "ax", 0, 1, 10)] = [-2.0] * 10
    cache[f"cpu|{suite.key('hartmann6', 'ax', 0, 1, 10)}"] = [0.5]
    path.write_text(json.dumps(cache))
    argv[argv.index("branin")] = "branin,hartmann6"
    suite.main()
    out = capsys.readouterr().out
    assert "| 2 (runs of 10, 30) |" in out
    assert "| 500 |" in out
