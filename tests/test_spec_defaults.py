"""Katib's defaulting (experiment_defaults.go) as seen in the defaulted document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tunery.model import (
    CollectorKind,
    Distribution,
    FileFormat,
    FileSystemKind,
    MetricStrategyType,
    ResumePolicy,
)
from tunery.spec import load_file, parse_document
from tunery.spec.defaults import (
    DEFAULT_FILE_PATH,
    DEFAULT_TFEVENT_DIR,
    JOB_FAILURE_CONDITION,
    JOB_SUCCESS_CONDITION,
    KUBEFLOW_JOB_SUCCESS_CONDITION,
    apply_defaults,
)

VALID = Path(__file__).parent / "data" / "spec" / "valid"


def _doc(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "objective": {"type": "minimize", "objectiveMetricName": "loss"},
        "algorithm": {"algorithmName": "random"},
        "parameters": [
            {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
        ],
        "trialTemplate": {"command": ["f", "${trialParameters.x}"]},
    }
    body.update(spec)
    return {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "d"},
        "spec": body,
    }


def _one(name: str) -> Any:
    (parsed,) = load_file(VALID / name, check_algorithm=False)
    return parsed


def _defaulted(path: Path) -> Any:
    """Katib's defaults of a file that tunery refuses to run (defaulting comes first)."""
    import yaml

    from tunery.spec.defaults import apply_defaults
    from tunery.spec.katib import read_document

    return apply_defaults(read_document(yaml.safe_load(path.read_text())))


def test_top_level_defaults() -> None:
    spec = parse_document(_doc(), check_algorithm=False)
    assert spec.parallel_trial_count == 3
    assert spec.resume_policy is ResumePolicy.NEVER
    assert spec.namespace == "default"
    assert spec.max_trial_count is None
    assert spec.max_failed_trial_count is None
    assert spec.metrics_collector.kind is CollectorKind.STDOUT
    assert spec.parameters[0].feasible_space.distribution is Distribution.UNIFORM


def test_defaulted_document_shows_defaults() -> None:
    doc = _one("grid-job.yaml").document
    spec = doc["spec"]
    assert spec["resumePolicy"] == "Never"
    assert spec["metricsCollectorSpec"] == {"collector": {"kind": "StdOut"}}
    # Katib sets distribution on every parameter, categorical ones included.
    assert [p["feasibleSpace"]["distribution"] for p in spec["parameters"]] == ["uniform"] * 3
    tt = spec["trialTemplate"]
    assert tt["primaryContainerName"] == "training-container"
    assert tt["successCondition"] == JOB_SUCCESS_CONDITION
    assert tt["failureCondition"] == JOB_FAILURE_CONDITION


@pytest.mark.parametrize(("objective_type", "expected"), [("minimize", "min"), ("maximize", "max")])
def test_metric_strategies_follow_objective_type(objective_type: str, expected: str) -> None:
    doc = _doc(
        objective={
            "type": objective_type,
            "objectiveMetricName": "loss",
            "additionalMetricNames": ["acc", "f1"],
            "metricStrategies": [{"name": "f1", "value": "latest"}],
        }
    )
    spec = parse_document(doc, check_algorithm=False)
    strategies = [(s.name, s.value.value) for s in spec.objective.metric_strategies]
    # User strategies first, then the objective's, then the additional metrics', as Katib appends.
    assert strategies == [("f1", "latest"), ("loss", expected), ("acc", expected)]


def test_explicit_objective_strategy_is_kept() -> None:
    parsed = _one("tpe-job.yaml")
    objective = parsed.spec.objective
    assert objective.strategy_for("loss") is MetricStrategyType.MIN
    assert objective.strategy_for("accuracy") is MetricStrategyType.MAX
    assert [s.name for s in objective.metric_strategies] == ["loss", "accuracy"]


def test_file_collector_defaults() -> None:
    mc = _one("file-collector-filter.yaml").spec.metrics_collector
    assert mc.path_kind is FileSystemKind.FILE
    assert mc.file_format is FileFormat.TEXT
    spec = parse_document(
        _doc(metricsCollectorSpec={"collector": {"kind": "File"}}), check_algorithm=False
    )
    assert spec.metrics_collector.path == DEFAULT_FILE_PATH


def test_tfevent_collector_defaults() -> None:
    mc = _one("tfevent-default-dir.yaml").spec.metrics_collector
    assert mc.path == DEFAULT_TFEVENT_DIR
    assert mc.path_kind is FileSystemKind.DIRECTORY
    assert mc.file_format is None


def test_prometheus_defaults() -> None:
    spec = _defaulted(VALID.parent / "invalid" / "prometheus-collector.yaml")
    http_get = spec.metrics_collector.extra["source"]["httpGet"]
    assert http_get == {"path": "/metrics", "port": 8080}


def test_kubeflow_job_defaults() -> None:
    tt = _one("pytorchjob.yaml").spec.trial_template
    assert tt.success_condition == KUBEFLOW_JOB_SUCCESS_CONDITION
    assert tt.primary_pod_labels == {"training.kubeflow.org/job-role": "master"}
    tfjob = _one("tfevent-tfjob.yaml").spec.trial_template
    # Given labels are kept.
    assert tfjob.primary_pod_labels == {"training.kubeflow.org/replica-type": "worker"}
    xgb = _one("xgboostjob.yaml").spec.trial_template
    assert xgb.primary_container_name == "training-container"


def test_trainjob_defaults() -> None:
    tt = _one("trainjob.yaml").spec.trial_template
    assert tt.primary_container_name == "node"
    assert tt.primary_pod_labels == {
        "jobset.sigs.k8s.io/replicatedjob-name": "node",
        "batch.kubernetes.io/job-completion-index": "0",
    }
    assert tt.success_condition is not None and "Complete" in tt.success_condition


def test_other_kinds_get_no_template_defaults() -> None:
    tt = _one("argo-workflow.yaml").spec.trial_template
    assert tt.primary_pod_labels == {"katib.kubeflow.org/model-training": "true"}
    assert tt.success_condition == 'status.[@this].#(phase=="Succeeded")#'
    cm = _defaulted(VALID.parent / "invalid" / "configmap-not-found.yaml").trial_template
    assert cm.primary_pod_labels is None


def test_native_trial_parameters_default_to_parameters() -> None:
    parsed = _one("sobol-native.yaml")
    names = [(t.name, t.reference) for t in parsed.spec.trial_template.trial_parameters]
    assert names == [("x", "x"), ("n", "n")]
    assert parsed.document["spec"]["trialTemplate"]["trialParameters"] == [
        {"name": "x", "reference": "x"},
        {"name": "n", "reference": "n"},
    ]


def test_defaults_are_idempotent() -> None:
    for path in sorted(VALID.iterdir()):
        for parsed in load_file(path, check_algorithm=False):
            assert apply_defaults(parsed.spec) == parsed.spec
