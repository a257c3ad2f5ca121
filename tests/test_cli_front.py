"""The CLI of a real multi-objective experiment with a constraint (tunery/cli/_front.py and the
commands it serves): real subprocess trials print two objectives and a constrained metric;
``best`` prints the Pareto front, ``get`` its size and hypervolume, ``list`` its size; the
goals end the run; a kill -9 and a resume keep the front."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import kill_9_runs, native_doc, write_yaml
from tests.test_cli import tunery
from tunery.pareto import hypervolume, reference_point

#: acc = x (maximise), lat = (x - 0.3)^2 (minimise), mem = x (at most 0.8): trials with
#: x < 0.3 are dominated, x > 0.8 infeasible, the rest form the front.
SCRIPT = """
import os, sys, time
x = float(sys.argv[1].split("=", 1)[1])
ran = os.environ.get("RAN_FILE")
if ran:
    with open(ran, "a") as fh:
        fh.write(os.environ["TUNERY_TRIAL_NAME"] + "\\n")
    time.sleep(0.3)
print(f"acc={x} lat={(x - 0.3) ** 2} mem={x}", flush=True)
"""

OBJECTIVES = [
    {"metric": "acc", "direction": "maximize"},
    {"metric": "lat", "direction": "minimize"},
]
CONSTRAINTS = [{"metric": "mem", "max": 0.8}]


def mo_doc(name: str, *, max_trials: int = 10, **changes: Any) -> dict[str, Any]:
    extra = {"objectives": OBJECTIVES, "constraints": CONSTRAINTS, **changes}
    return native_doc(
        name,
        SCRIPT,
        objective={"type": "maximize", "objectiveMetricName": "acc"},
        parallel=2,
        max_trials=max_trials,
        extra_spec=extra,
    )


def brute_front(trials: list[dict[str, Any]]) -> list[str]:
    """The non-dominated feasible completed trials, from the stored metrics alone."""
    points = {}
    for t in trials:
        m = t["metrics"]
        if t["status"] not in ("Succeeded", "EarlyStopped") or not {"acc", "lat", "mem"} <= set(m):
            continue
        if m["mem"]["latest"] > 0.8:
            continue
        points[t["name"]] = (-m["acc"]["max"], m["lat"]["min"])

    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[0] and a[1] <= b[1] and a != b

    return [n for n, p in points.items() if not any(dominates(q, p) for q in points.values())]


def test_best_get_and_list_show_the_pareto_front(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "mo.yaml", mo_doc("mo", max_trials=10))
    tunery("run", str(path), "-q", cwd=tmp_path)
    trials = json.loads(tunery("trials", "mo", "--json", cwd=tmp_path).stdout)
    assert len(trials) == 10
    for t in trials:
        x = t["parameters"]["x"]
        assert t["objectives"] == pytest.approx([x, (x - 0.3) ** 2])
        assert t["feasible"] is (x <= 0.8)

    front = json.loads(tunery("best", "mo", "--json", cwd=tmp_path).stdout)
    names = [t["name"] for t in front]
    assert names == brute_front(trials) and names
    assert all(t["feasible"] for t in front)

    table = tunery("best", "mo", cwd=tmp_path).stdout
    assert f"pareto front of mo: {len(names)} trials" in table
    assert "acc ↑" in table and "lat ↓" in table and "mem" in table
    assert all(n in table for n in names)

    if len(names) > 1:
        refused = tunery("best", "mo", "-o", "args", cwd=tmp_path, check=2)
        line = refused.stderr.strip()
        assert "\n" not in line and "--trial NAME" in line and "Traceback" not in line
    chosen = tunery("best", "mo", "--trial", names[0], "-o", "json", cwd=tmp_path).stdout
    assert json.loads(chosen) == {"x": front[0]["parameters"]["x"]}
    missing = tunery("best", "mo", "--trial", "nope", cwd=tmp_path, check=2)
    assert "no trial 'nope'" in missing.stderr

    got = json.loads(tunery("get", "mo", "--json", cwd=tmp_path).stdout)
    assert got["paretoFront"] == names
    assert got["objectives"] == [
        {"metric": "acc", "direction": "maximize", "goal": None},
        {"metric": "lat", "direction": "minimize", "goal": None},
    ]
    assert got["constraints"] == [{"metric": "mem", "min": None, "max": 0.8}]
    losses = [(-t["objectives"][0], t["objectives"][1]) for t in trials if t["feasible"]]
    ref = reference_point(losses)
    assert got["referencePoint"] == pytest.approx([-ref[0], ref[1]])
    front_losses = [(-t["objectives"][0], t["objectives"][1]) for t in front]
    assert got["hypervolume"] == pytest.approx(hypervolume(front_losses, ref))
    # The representative best trial: the front's best on the first objective.
    assert got["bestTrial"]["name"] == max(front, key=lambda t: t["objectives"][0])["name"]

    text = tunery("get", "mo", cwd=tmp_path).stdout
    assert f"pareto front: {len(names)} trials, hypervolume" in text
    assert "reference point: acc=" in text and "default" in text
    listed = tunery("list", cwd=tmp_path).stdout
    assert f"front {len(names)}" in listed and "max acc, min lat" in listed


def test_a_stated_reference_point_is_used(tmp_path: Path) -> None:
    objectives = [
        {"metric": "acc", "direction": "maximize", "reference": 0},
        {"metric": "lat", "direction": "minimize", "reference": 1},
    ]
    path = write_yaml(tmp_path / "mo.yaml", mo_doc("ref", max_trials=4, objectives=objectives))
    tunery("run", str(path), "-q", cwd=tmp_path)
    got = json.loads(tunery("get", "ref", "--json", cwd=tmp_path).stdout)
    assert got["referencePoint"] == [0.0, 1.0]
    front = json.loads(tunery("best", "ref", "--json", cwd=tmp_path).stdout)
    losses = [(-t["objectives"][0], t["objectives"][1]) for t in front]
    assert got["hypervolume"] == pytest.approx(hypervolume(losses, (0.0, 1.0)))
    assert "(stated in the spec)" in tunery("get", "ref", cwd=tmp_path).stdout


def test_the_run_ends_when_one_feasible_trial_meets_every_goal(tmp_path: Path) -> None:
    objectives = [
        {"metric": "acc", "direction": "maximize", "goal": 0.5},
        {"metric": "lat", "direction": "minimize", "goal": 0.05},
    ]
    params = [
        {
            "name": "x",
            "parameterType": "discrete",
            "feasibleSpace": {"list": ["0.1", "0.9", "0.4", "0.5", "0.2", "0.3"]},
        }
    ]
    doc = mo_doc("goals", max_trials=6, objectives=objectives, algorithm={"algorithmName": "grid"})
    doc["spec"]["parameters"] = params
    doc["spec"]["parallelTrialCount"] = 1
    path = write_yaml(tmp_path / "goals.yaml", doc)
    got = json.loads(tunery("run", str(path), "--json", cwd=tmp_path).stdout)
    assert got["reason"] == "ExperimentGoalReached", got
    assert "every objective goal (acc >= 0.5, lat <= 0.05)" in got["message"]
    trials = json.loads(tunery("trials", "goals", "--json", cwd=tmp_path).stdout)
    reached = got["message"].rsplit(" ", 1)[-1]
    by_name = {t["name"]: t for t in trials}
    assert by_name[reached]["parameters"]["x"] == 0.5  # the only x meeting both goals
    # 0.9 meets the accuracy goal but not latency; no trial after the goal trial ran.
    assert max(t["index"] for t in trials) == by_name[reached]["index"]


def test_validate_refuses_a_single_objective_algorithm_in_one_line(tmp_path: Path) -> None:
    doc = mo_doc("refuse", algorithm={"algorithmName": "cmaes"})
    path = write_yaml(tmp_path / "refuse.yaml", doc)
    out = tunery("validate", str(path), cwd=tmp_path, check=2)
    line = out.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "algorithm cmaes cannot tune 2 objectives; use one of: random" in line


@pytest.mark.integration
def test_kill_9_then_resume_keeps_the_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = tmp_path / "ran.txt"
    path = write_yaml(tmp_path / "mo.yaml", mo_doc("crashy", max_trials=10))
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db"), "RAN_FILE": str(ran)}
    kill_9_runs(path, tmp_path, env, ran, (0.5, 0.2))
    before = json.loads(tunery("best", "crashy", "--json", cwd=tmp_path, check=None).stdout)
    monkeypatch.setenv("RAN_FILE", str(ran))  # the resumed trials say they ran too
    out = tunery("resume", "crashy", "--json", cwd=tmp_path)
    assert json.loads(out.stdout)["status"] == "Succeeded"
    trials = json.loads(tunery("trials", "crashy", "--json", cwd=tmp_path).stdout)
    assert len(trials) == 10 and all(t["status"] == "Succeeded" for t in trials)
    front = json.loads(tunery("best", "crashy", "--json", cwd=tmp_path).stdout)
    names = [t["name"] for t in front]
    assert names == brute_front(trials)
    # Every trial of the front before the crash is still stored with the same values, and
    # still on the front unless a later trial dominates it.
    by_name = {t["name"]: t for t in trials}
    for old in before or []:
        again = by_name[old["name"]]
        assert again["objectives"] == old["objectives"]
        if old["name"] not in names:
            assert any(
                t["objectives"][0] >= again["objectives"][0]
                and t["objectives"][1] <= again["objectives"][1]
                and t["objectives"] != again["objectives"]
                for t in front
            )
    started = ran.read_text().split()
    assert sorted(started) == sorted(by_name), "a trial ran twice or not at all"
