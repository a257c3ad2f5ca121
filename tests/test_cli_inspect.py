"""The read commands of ``tunery`` (tunery/cli/_inspect.py) on a real SQLite store."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import SCORE_IS_X, create, native_doc
from tunery.model import MetricSummary, Trial, TrialCondition
from tunery.storage import Store

C = TrialCondition

PARAMETERS = [
    {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.0001", "max": "1"}},
    {"name": "batch-size", "parameterType": "int", "feasibleSpace": {"min": "8", "max": "64"}},
    {
        "name": "model.kind",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["res net", "it's"]},
    },
]


def tunery(*args: str, cwd: Path, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"},
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def _trial(index: int, params: dict[str, Any], objective: float | None, **kw: Any) -> Trial:
    metrics = {} if objective is None else {"score": MetricSummary(objective, objective, objective)}
    return Trial(
        name=f"paste-{index:04d}",
        experiment="paste",
        index=index,
        parameters=params,
        objective=objective,
        metrics=metrics,
        **kw,
    )


@pytest.fixture
def paste(tmp_path: Path) -> Path:
    """An experiment ``paste`` (maximize score) whose best trial has awkward values."""
    store = Store(str(tmp_path / "tunery.db"))
    create(store, native_doc("paste", SCORE_IS_X, parameters=PARAMETERS), tmp_path)
    store.create_trial(
        _trial(0, {"lr": 0.5, "batch-size": 8, "model.kind": "it's"}, 0.2, status=C.SUCCEEDED)
    )
    store.create_trial(
        _trial(1, {"lr": 1e-05, "batch-size": 32, "model.kind": "res net"}, 0.9, status=C.SUCCEEDED)
    )
    store.close()
    return tmp_path


def test_best_output_formats_paste(paste: Path) -> None:
    args = tunery("best", "paste", "-o", "args", cwd=paste).stdout
    assert args == "--lr=1e-05 --batch-size=32 '--model.kind=res net'\n" or args == (
        "--lr=1e-05 --batch-size=32 --model.kind='res net'\n"
    )
    assert shlex.split(args) == ["--lr=1e-05", "--batch-size=32", "--model.kind=res net"]
    env = tunery("best", "paste", "-o", "env", cwd=paste).stdout
    assert env.splitlines() == ["LR=1e-05", "BATCH_SIZE=32", "MODEL_KIND='res net'"]
    sourced = subprocess.run(
        ["sh", "-c", env + 'printf "%s|%s|%s" "$LR" "$BATCH_SIZE" "$MODEL_KIND"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout == "1e-05|32|res net"
    expected = {"lr": 1e-05, "batch-size": 32, "model.kind": "res net"}
    as_yaml = tunery("best", "paste", "-o", "yaml", cwd=paste).stdout
    assert yaml.safe_load(as_yaml) == expected and as_yaml.startswith("lr: ")
    as_json = json.loads(tunery("best", "paste", "--output", "json", cwd=paste).stdout)
    assert as_json == expected and list(as_json) == ["lr", "batch-size", "model.kind"]
    # Today's shapes are unchanged.
    assert tunery("best", "paste", cwd=paste).stdout.startswith("best trial: paste-0001")
    assert json.loads(tunery("best", "paste", "--json", cwd=paste).stdout)["name"] == "paste-0001"


def test_best_output_quotes_a_quote(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "tunery.db"))
    create(store, native_doc("paste", SCORE_IS_X, parameters=PARAMETERS), tmp_path)
    store.create_trial(
        _trial(0, {"lr": 0.5, "batch-size": 8, "model.kind": "it's"}, 0.2, status=C.SUCCEEDED)
    )
    store.close()
    args = tunery("best", "paste", "-o", "args", cwd=tmp_path).stdout
    assert shlex.split(args) == ["--lr=0.5", "--batch-size=8", "--model.kind=it's"]


def test_best_output_without_a_best_trial_and_bad_format(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "tunery.db"))
    create(store, native_doc("paste", SCORE_IS_X, parameters=PARAMETERS), tmp_path)
    store.create_trial(_trial(0, {"lr": 0.5, "batch-size": 8, "model.kind": "it's"}, None))
    store.close()
    none = tunery("best", "paste", "-o", "args", cwd=tmp_path, check=1)
    assert none.stdout == "experiment paste has no trial with an objective value yet\n"
    assert none.stdout == tunery("best", "paste", cwd=tmp_path, check=1).stdout
    bad = tunery("best", "paste", "-o", "toml", cwd=tmp_path, check=2)
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "-o" in bad.stderr and "args" in bad.stderr and "env" in bad.stderr
    both = tunery("best", "paste", "-o", "json", "--json", cwd=tmp_path, check=2)
    assert "--json" in both.stderr and "-o json" in both.stderr
