"""An optimize() call as an OptimizationJob document and a runner (tunery/kubeflow/template.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tunery.errors import SpecError
from tunery.kubeflow.template import job_document
from tunery.kubeflow.types import (
    Algorithm,
    CustomTrainer,
    Objective,
    RandomSearch,
    Search,
    TrialConfig,
)
from tunery.spec import parse_document, render_trial


def show(lr: float, opt: str, n: int, flag: bool, epochs: int, tags: list[str]) -> None:
    print(repr((lr, opt, n, flag, epochs, tags)))


def _job(tmp_path: Path, **kw: object) -> tuple[dict, str]:
    return job_document(
        "abc123def456",
        "default",
        CustomTrainer(func=show, func_args={"epochs": 1, "tags": ["a"], "lr": 0.0}, env={"M": "1"}),
        {
            "lr": Search.uniform(0.1, 0.2),
            "opt": Search.choice(["adam", "sgd"]),
            "n": Search.choice([1, 2]),
            "flag": Search.choice([True, False]),
            "epochs": 3,  # a plain value in the search space: passed as it is
        },
        TrialConfig(num_trials=3, parallel_trials=5, max_failed_trials=1),
        [Objective("loss"), Objective("acc", "maximize")],
        kw.get("algorithm", RandomSearch(4)),  # type: ignore[arg-type]
        script=str(tmp_path / "objective.py"),
        resources={"cpu": "2"},
    )


def test_the_document_is_an_optimization_job(tmp_path: Path) -> None:
    doc, _ = _job(tmp_path)
    spec = parse_document(doc)
    assert spec.source_format == "optimizationjob"
    assert (spec.max_trial_count, spec.parallel_trial_count, spec.max_failed_trial_count) == (
        3,
        3,  # capped at numTrials, as the OptimizationJob CRD requires
        1,
    )
    assert spec.objective.objective_metric_name == "loss"
    assert spec.objective.additional_metric_names == ("acc",)
    assert [(s.name, s.value) for s in spec.algorithm.algorithm_settings] == [("random_state", "4")]
    assert spec.trial_template.env["M"] == "1"
    assert spec.trial_template.resources == {"cpu": "2"}
    assert [p.name for p in spec.parameters] == ["lr", "opt", "n", "flag"]


def test_other_algorithms_by_name(tmp_path: Path) -> None:
    doc, _ = _job(tmp_path, algorithm=Algorithm("sobol"))
    assert parse_document(doc).algorithm.algorithm_name == "sobol"
    doc, _ = _job(tmp_path, algorithm=Algorithm("no-such-algorithm"))
    with pytest.raises(SpecError, match="no-such-algorithm"):
        parse_document(doc)


def test_the_runner_calls_the_function_with_typed_keyword_arguments(tmp_path: Path) -> None:
    doc, code = _job(tmp_path)
    spec = parse_document(doc)
    (tmp_path / "objective.py").write_text(code)
    rendered = render_trial(spec, "t", {"lr": 0.15, "opt": "sgd", "n": "2", "flag": "True"})
    out = subprocess.run(
        rendered.argv,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    assert out.strip() == repr((0.15, "sgd", 2, True, 3, ["a"]))
    assert rendered.argv[0] == sys.executable
