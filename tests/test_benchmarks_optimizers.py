"""benchmarks/optimizers/: the peers' space mapping and the suite's CPU-time accounting.

The peers themselves (Ax, HEBO, SMAC3) live in the optional ``bench`` extra and are exercised
by the suite's smoke run (docs/benchmarks.md), not here; these tests need none of them.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "optimizers"))

import peers
import suite
from problems import PROBLEMS, Param, Problem


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
    for problem in PROBLEMS.values():
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
