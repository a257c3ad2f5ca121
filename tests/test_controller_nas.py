"""A neural architecture search runs: no spec.parameters, the algorithm's named strings as the
trials' assignments, through validate, the controller, storage, the faces and resume.

The algorithm here is a small deterministic one registered under ``enas`` through the public
registry (``tunery.suggest.base.register``), so that these tests check the plumbing whatever
the real controller does; ``tests/test_suggest_enas.py`` runs the real one.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_spec_nas import enas_doc
from tunery.errors import SpecError
from tunery.history import HistoryBuilder
from tunery.model import Assignment, ExperimentSpec, TrialCondition
from tunery.space import SearchSpace
from tunery.spec import parse_document
from tunery.spec.nas import assigned_names
from tunery.suggest import base

#: The trial: parses Katib's flags and prints an accuracy that depends on the architecture.
RUN_TRIAL = """
import argparse, ast
parser = argparse.ArgumentParser()
parser.add_argument("--architecture")
parser.add_argument("--nn_config")
args = parser.parse_args()
arc = ast.literal_eval(args.architecture)
config = ast.literal_eval(args.nn_config)
assert config["num_layers"] == len(arc)
print(f"Validation-Accuracy={0.5 + 0.1 * arc[0][0]}")
"""


class CountingNas:
    """Architectures [[i % 3], [0, 1]] for the i-th suggestion; the count is its state."""

    def __init__(self, spec: ExperimentSpec, seed: int | None) -> None:
        self.made = 0
        self.seen: list[int] = []

    def suggest(self, history: Any, count: int) -> list[Assignment]:
        self.seen.append(len(history.observed))
        out = []
        for _ in range(count):
            arc = [[self.made % 3], [0, 1]]
            self.made += 1
            config = {"num_layers": 2, "embedding": {str(arc[0][0]): {"opt_type": "conv"}}}
            out.append(
                Assignment(
                    {
                        "architecture": json.dumps(arc).replace('"', "'"),
                        "nn_config": json.dumps(config).replace('"', "'"),
                    }
                )
            )
        return out

    def dump_state(self) -> dict[str, Any]:
        return {"made": self.made}

    def load_state(self, state: dict[str, Any]) -> None:
        self.made = state["made"]


@pytest.fixture
def toy_enas() -> Iterator[None]:
    saved = base._FACTORIES.pop("enas", None)
    base.register("enas", CountingNas, lambda spec: None)
    try:
        yield
    finally:
        base._FACTORIES.pop("enas", None)
        if saved is not None:
            base._FACTORIES["enas"] = saved


def _doc(tmp_path: Path, name: str = "nas-run") -> dict[str, Any]:
    (tmp_path / "RunTrial.py").write_text(RUN_TRIAL)
    doc = enas_doc(name)
    container = doc["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][
        0
    ]
    container["command"][0] = sys.executable
    doc["spec"]["maxTrialCount"] = 3
    doc["spec"]["maxFailedTrialCount"] = 0
    return doc


def test_search_space_of_a_nas_spec_is_empty_and_keys_are_empty() -> None:
    spec = parse_document(enas_doc(), check_algorithm=False)
    space = SearchSpace.from_spec(spec)
    assert space.names == () and space.size() == 1
    assert space.try_canonical({"architecture": "[[0]]"}) == ()
    with pytest.raises(SpecError):  # (an ordinary space still needs a parameter)
        SearchSpace([])


def test_nas_experiment_runs_shows_strings_and_resumes(toy_enas: None, tmp_path: Path) -> None:
    from tunery.cli._common import _best_lines, _trials_text
    from tunery.client import Client
    from tunery.storage import Store
    from tunery.ui.routes.experiments import _best_hyperparameters
    from tunery.wire import csv_header, csv_rows, experiment_json, trial_json

    store = Store(str(tmp_path / "tunery.db"))
    client = Client(store=store)
    client.create_experiment(_doc(tmp_path), base_dir=str(tmp_path), runs_dir=str(tmp_path / "r"))
    handle = client.run_experiment("nas-run", progress=False)
    assert handle.status == "Succeeded"
    trials = store.list_trials("nas-run")
    assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 3
    # The trial got the strings through ${trialParameters.x} -> reference architecture/nn_config.
    for i, t in enumerate(trials):
        assert set(t.parameters) == {"architecture", "nn_config"}
        assert t.parameters["architecture"] == f"[[{i % 3}], [0, 1]]"
        assert t.objective == pytest.approx(0.5 + 0.1 * (i % 3))
        assert ast.literal_eval(t.parameters["nn_config"])["num_layers"] == 2

    exp = store.get_experiment("nas-run")
    assert assigned_names(exp.spec) == ("architecture", "nn_config")
    history = HistoryBuilder(SearchSpace.from_spec(exp.spec), exp.spec.objective).build(trials)
    assert len(history.observed) == 3 and {e.key for e in history.entries} == {()}

    # Faces: the table, the best trial, CSV and the UI's experiment JSON show the strings.
    text = "\n".join(_trials_text(exp, trials, trials[2].name))
    assert "architecture" in text and "[[2], [0, 1]]" in text
    best = max(trials, key=lambda t: t.objective or 0)
    lines = _best_lines(exp, best)
    assert "best architecture:" in lines and "  architecture = [[2], [0, 1]]" in lines
    assert csv_header(exp)[5:7] == ["param:architecture", "param:nn_config"]
    row = next(iter(csv_rows(exp, [trial_json(trials[1])])))
    assert row[5] == "[[1], [0, 1]]"
    data = experiment_json(exp, {}, 0.7)
    assert data["parameters"] == [] and data["assignments"] == ["architecture", "nn_config"]
    shown = _best_hyperparameters(exp, trial_json(best))
    assert shown["parameters"]["architecture"] == "[[2], [0, 1]]"
    assert "--architecture=" in shown["cli"]

    # The UI's data endpoints answer with the strings (no parameter axes, no importance).
    from fastapi.testclient import TestClient

    from tunery.ui.app import create_app

    app = create_app(store, "t0ken", runs_dir=str(tmp_path / "ui"), base_dir=str(tmp_path))
    ui = TestClient(app, base_url="http://127.0.0.1")
    detail = ui.get("/api/experiments/nas-run").json()
    assert detail["parameters"] == [] and detail["assignments"] == ["architecture", "nn_config"]
    assert detail["bestHyperparameters"]["parameters"]["architecture"] == "[[2], [0, 1]]"
    rows = ui.get("/api/experiments/nas-run/trials").json()["trials"]
    assert [r["parameters"]["architecture"] for r in rows][:2] == ["[[0], [0, 1]]", "[[1], [0, 1]]"]
    columns = ui.get("/api/experiments/nas-run/trial-columns").json()["columns"]
    assert columns["parameters"][1]["architecture"] == "[[1], [0, 1]]"
    assert ui.get("/api/experiments/nas-run/importance").json()["parameters"] == []
    csv_text = ui.get("/api/experiments/nas-run/trials.csv").text
    assert "param:architecture,param:nn_config" in csv_text.splitlines()[0]
    assert ui.get("/api/experiments/nas-run/trials/nas-run-0003").status_code == 200

    # Resume past maxTrialCount: the algorithm's state continues (the 4th architecture is i=3).
    client.resume("nas-run", max_trials=5)
    handle = client.run_experiment("nas-run", progress=False)
    assert handle.status == "Succeeded"
    trials = store.list_trials("nas-run")
    assert [t.parameters["architecture"] for t in trials[3:]] == ["[[0], [0, 1]]", "[[1], [0, 1]]"]
    store.close()


def test_cli_runs_trials_get_and_export_a_nas_experiment(toy_enas: None, tmp_path: Path) -> None:
    """The CLI's commands in process (the toy algorithm lives in this process)."""
    import yaml
    from click.testing import CliRunner

    from tunery.cli import main

    path = tmp_path / "enas.yaml"
    path.write_text(yaml.safe_dump(_doc(tmp_path, "cli-nas")))
    env = {"TUNERY_DB": str(tmp_path / "tunery.db"), "COLUMNS": "200"}
    runner = CliRunner()

    def tunery(*args: str) -> str:
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "2 layers of 3 operation types" in tunery("validate", str(path))
    tunery("run", str(path))
    table = tunery("trials", "cli-nas")
    assert "architecture" in table and "[[1], [0, 1]]" in table
    listed = json.loads(tunery("trials", "cli-nas", "--json"))
    assert [t["parameters"]["architecture"] for t in listed] == [
        "[[0], [0, 1]]",
        "[[1], [0, 1]]",
        "[[2], [0, 1]]",
    ]
    assert "best architecture:" in tunery("get", "cli-nas")
    best = json.loads(tunery("best", "cli-nas", "-o", "json"))
    assert list(best) == ["architecture", "nn_config"] and best["architecture"] == "[[2], [0, 1]]"
    exported = yaml.safe_load(tunery("export", "cli-nas"))
    assert "parameters" not in exported["spec"] and exported["spec"]["nasConfig"]
    csv = tunery("export", "cli-nas", "-o", "csv").splitlines()
    assert csv[0].startswith("name,index,status,reason,objective,param:architecture,param:nn_c")
    tunery("resume", "cli-nas", "--max-trials", "4")
    assert len(json.loads(tunery("trials", "cli-nas", "--json"))) == 4
