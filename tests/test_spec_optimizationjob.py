"""Kubeflow Trainer's OptimizationJob documents (tunery/spec/optimizationjob.py).

Written against kubeflow/trainer ``pkg/apis/trainer/v1alpha1/optimizationjob_types.go``
(commit 8c0f5059) and KEP-3562 (``proposals/2605-optimization-job-crd``, commit f3b09b19).
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import katib_job_doc, native_doc
from tunery.client import same_search
from tunery.errors import SpecError
from tunery.model import Distribution, ExperimentCondition, ParameterType, TrialCondition
from tunery.spec import load_file, parse_document, parse_text, render_trial, to_document
from tunery.spec.optimizationjob import (
    ANNOTATIONS_ENV,
    FORMAT,
    PARAMETERS_ANNOTATION,
    env_name,
    to_optimization_job,
)

#: The proposal's sample (KEP-3562 §6), with a command that runs locally.
TRAINER_SCRIPT = """
import json, os
lr = float(os.environ["KUBEFLOW_TRAINER_OPT_LEARNING_RATE"])
bs = int(os.environ["KUBEFLOW_TRAINER_OPT_BATCH_SIZE"])
annotations = json.loads(os.environ["TUNERY_TRAINJOB_ANNOTATIONS"])
assigned = {p["name"]: p["value"] for p in json.loads(
    annotations["trainer.kubeflow.org/parameter-assignments"])}
assert assigned == {"learning_rate": os.environ["KUBEFLOW_TRAINER_OPT_LEARNING_RATE"],
                    "batch-size": str(bs)}, assigned
assert annotations["team"] == "vision"
print(json.dumps({"timestamp": "2026-01-01T00:00:00Z", "val_loss": str(lr + bs / 1000)}))
"""


def sample(**spec_changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "OptimizationJob",
        "metadata": {"name": "random-tuning-mvp"},
        "spec": {
            "objectives": [{"metric": "val_loss", "direction": "Minimize"}],
            "searchAlgorithm": {"random": {"seed": 7}},
            "parameters": [
                {
                    "name": "learning_rate",
                    "searchSpace": {"logUniform": {"min": "0.0001", "max": "0.1"}},
                },
                {
                    "name": "batch-size",
                    "searchSpace": {"categorical": {"choices": ["16", "32", "64"]}},
                },
            ],
            "numTrials": 4,
            "parallelTrials": 2,
            "trainJobTemplate": {
                "metadata": {"annotations": {"team": "vision"}},
                "spec": {
                    "runtimeRef": {
                        "name": "pytorch-distributed",
                        "apiGroup": "trainer.kubeflow.org",
                        "kind": "ClusterTrainingRuntime",
                    },
                    "trainer": {
                        "image": "docker.io/my-org/bert-tuner:latest",
                        "command": [sys.executable, "-c"],
                        "args": [TRAINER_SCRIPT],
                    },
                },
            },
        },
    }
    doc["spec"].update(spec_changes)
    return doc


def test_the_proposal_sample_is_a_native_spec_with_env_placeholders() -> None:
    spec = parse_document(sample())
    assert spec.source_format == FORMAT
    assert spec.name == "random-tuning-mvp"
    assert spec.objective.objective_metric_name == "val_loss"
    assert spec.objective.type.value == "minimize"
    assert spec.algorithm.algorithm_name == "random"
    assert [(s.name, s.value) for s in spec.algorithm.algorithm_settings] == [("random_state", "7")]
    assert (spec.max_trial_count, spec.parallel_trial_count) == (4, 2)
    lr, bs = spec.parameters
    assert lr.parameter_type == ParameterType.DOUBLE
    assert lr.feasible_space.distribution == Distribution.LOG_UNIFORM
    assert bs.parameter_type == ParameterType.CATEGORICAL
    assert bs.feasible_space.list == ("16", "32", "64")
    env = spec.trial_template.env
    assert env["KUBEFLOW_TRAINER_OPT_LEARNING_RATE"] == "${trialParameters.learning_rate}"
    assert env["KUBEFLOW_TRAINER_OPT_BATCH_SIZE"] == "${trialParameters.batch-size}"
    assert spec.trial_template.command[:2] == (sys.executable, "-c")


def test_rendered_trial_gets_env_and_annotations_json() -> None:
    spec = parse_document(sample())
    rendered = render_trial(spec, "t-1", {"learning_rate": 0.001, "batch-size": "32"})
    assert rendered.env["KUBEFLOW_TRAINER_OPT_LEARNING_RATE"] == "0.001"
    assert rendered.env["KUBEFLOW_TRAINER_OPT_BATCH_SIZE"] == "32"
    annotations = json.loads(rendered.env[ANNOTATIONS_ENV])
    assert annotations["team"] == "vision"
    assert json.loads(annotations[PARAMETERS_ANNOTATION]) == [
        {"name": "learning_rate", "value": "0.001"},
        {"name": "batch-size", "value": "32"},
    ]


def test_env_names() -> None:
    assert env_name("lr") == "KUBEFLOW_TRAINER_OPT_LR"
    assert env_name("batch-size") == "KUBEFLOW_TRAINER_OPT_BATCH_SIZE"
    assert env_name("model.kind") == "KUBEFLOW_TRAINER_OPT_MODEL_KIND"


def test_draft_names_give_the_same_spec() -> None:
    draft = sample()
    spec = draft["spec"]
    del spec["objectives"], spec["searchAlgorithm"], spec["parameters"]
    del spec["numTrials"], spec["parallelTrials"]
    spec["objective"] = {"metric": "val_loss", "direction": "minimize"}
    spec["algorithm"] = {"random": {"randomState": 7}}
    spec["trialConfig"] = {"numTrials": 4, "parallelTrials": 2}
    spec["searchSpace"] = {
        "learning_rate": {"logUniform": {"min": 0.0001, "max": 0.1, "type": "float"}},
        "batch-size": {"categorical": {"list": [16, 32, 64]}},
    }
    assert parse_document(draft) == parse_document(sample())


def test_defaults_follow_the_crd() -> None:
    doc = sample()
    for key in ("objectives", "searchAlgorithm", "numTrials", "parallelTrials"):
        del doc["spec"][key]
    doc["spec"]["parameters"] = doc["spec"]["parameters"][:1]
    doc["spec"]["parameters"].append(
        {"name": "batch-size", "searchSpace": {"uniform": {"min": "8", "max": "64", "type": "Int"}}}
    )
    spec = parse_document(doc)
    assert spec.objective.objective_metric_name == "loss"
    assert spec.objective.type.value == "minimize"
    assert spec.algorithm.algorithm_name == "random"
    assert (spec.max_trial_count, spec.parallel_trial_count) == (1, 1)
    assert spec.parameters[1].parameter_type == ParameterType.INT


def test_tunery_extensions_any_algorithm_prune_and_failed_budget() -> None:
    doc = sample(
        searchAlgorithm={"tpe": {"n_startup_trials": 3}},
        pruneAlgorithm={"medianstop": {"min_trials_required": 2}},
        maxFailedTrials=1,
    )
    doc["spec"]["objectives"].append({"metric": "accuracy", "direction": "Maximize"})
    spec = parse_document(doc)
    assert spec.algorithm.algorithm_name == "tpe"
    assert spec.early_stopping is not None
    assert spec.early_stopping.algorithm_name == "medianstop"
    assert spec.max_failed_trial_count == 1
    assert spec.objective.additional_metric_names == ("accuracy",)
    assert [(t.metric, t.type.value) for t in spec.objective.terms] == [
        ("val_loss", "minimize"),
        ("accuracy", "maximize"),
    ]


def test_unknown_keys_warn_naming_them(caplog: pytest.LogCaptureFixture) -> None:
    doc = sample(frobnicate=True)
    doc["spec"]["trainJobTemplate"]["spec"]["trainer"]["colour"] = "blue"
    with caplog.at_level(logging.WARNING, logger="tunery.spec"):
        parse_document(doc)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("spec: unknown") and "'frobnicate'" in m for m in messages)
    assert any(
        m.startswith("spec.trainJobTemplate.spec.trainer: unknown") and "'colour'" in m
        for m in messages
    )
    # Kubernetes-only fields (runtimeRef, image) are known: no warning about them.
    assert not any("runtimeRef" in m or "'image'" in m for m in messages)


def _without_command(doc: dict[str, Any]) -> None:
    del doc["spec"]["trainJobTemplate"]["spec"]["trainer"]["command"]


def _two_algorithms(doc: dict[str, Any]) -> None:
    doc["spec"]["searchAlgorithm"] = {"random": {}, "grid": {}}


def _colliding_env(doc: dict[str, Any]) -> None:
    doc["spec"]["parameters"].append(
        {"name": "learning-rate", "searchSpace": {"uniform": {"min": "0", "max": "1"}}}
    )


def _two_spaces(doc: dict[str, Any]) -> None:
    doc["spec"]["parameters"][0]["searchSpace"]["uniform"] = {"min": "0", "max": "1"}


def _set(path: str, value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set("spec.parallelTrials", 5), "spec.parallelTrials"),
        (_set("spec.numTrials", 0), "spec.numTrials"),
        (_set("spec.numTrials", "many"), "spec.numTrials"),
        (_without_command, "spec.trainJobTemplate.spec.trainer.command"),
        (_two_algorithms, "spec.searchAlgorithm"),
        (_set("spec.searchAlgorithm", {"annealing": {}}), "spec.searchAlgorithm"),
        (_set("spec.objectives", [{"metric": "x", "direction": "up"}]), "spec.objectives[0]"),
        (_set("spec.objectives", []), "spec.objectives"),
        (
            _set("spec.objectives", [{"metric": "a"}, {"metric": "b", "direction": "up"}]),
            "spec.objectives[1].direction",
        ),
        (
            _set("spec.objectives", [{"metric": "a"}, {"metric": "b", "goal": "high"}]),
            "spec.objectives[1].goal",
        ),
        (_set("spec.constraints", [{"metric": "mem", "max": "lots"}]), "spec.constraints[0].max"),
        (_set("spec.constraints", [{"metric": "mem"}]), "spec.constraints[0]"),
        (_colliding_env, "spec.parameters[2].name"),
        (_two_spaces, "spec.parameters[0].searchSpace"),
        (
            _set("spec.parameters.0.searchSpace", {"logUniform": {"min": "0", "max": "1"}}),
            "spec.parameters[0]",
        ),
        (
            _set("spec.parameters.0.searchSpace", {"uniform": {"min": "1", "max": "x"}}),
            "spec.parameters[0]",
        ),
        (
            _set("spec.parameters.1.searchSpace", {"categorical": {}}),
            "spec.parameters[1].searchSpace.categorical.choices",
        ),
        (_set("spec.parameters", None), "spec.parameters"),
        (_set("spec.trainJobTemplate", None), "spec.trainJobTemplate"),
        (_set("apiVersion", "trainer.kubeflow.org/v2"), "apiVersion"),
    ],
)
def test_bad_fields_name_the_field(change: Any, field: str) -> None:
    doc = copy.deepcopy(sample())
    change(doc)
    with pytest.raises(SpecError) as info:
        parse_document(doc)
    assert info.value.path.startswith(field), info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_to_document_round_trip_keeps_the_form() -> None:
    spec = parse_document(sample())
    doc = to_document(spec)
    assert doc["apiVersion"] == "tunery/v1"
    assert parse_document(doc) == spec


def test_export_as_optimization_job_round_trips_exactly() -> None:
    spec = parse_document(sample())
    doc = to_optimization_job(spec)
    assert doc["apiVersion"] == "trainer.kubeflow.org/v1alpha1"
    assert doc["spec"]["searchAlgorithm"] == {"random": {"seed": 7}}
    assert doc["spec"]["trainJobTemplate"]["metadata"] == {"annotations": {"team": "vision"}}
    trainer = doc["spec"]["trainJobTemplate"]["spec"]["trainer"]
    assert "env" not in trainer  # the injected variables are not the user's
    text = yaml.safe_dump(doc)
    (again,) = parse_text(text)
    assert again.spec == spec


@pytest.mark.parametrize("algorithm", ["random", "grid", "tpe", "bayesianoptimization"])
def test_native_experiment_exports_to_the_same_search(algorithm: str) -> None:
    parameters: list[dict[str, Any]] = [
        {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
        {"name": "n", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "4"}},
        {"name": "k", "parameterType": "discrete", "feasibleSpace": {"list": ["1", "2.5"]}},
        {"name": "m", "parameterType": "categorical", "feasibleSpace": {"list": ["a", "b"]}},
    ]
    if algorithm == "grid":
        parameters[0]["feasibleSpace"]["step"] = "0.25"
    doc = native_doc("exp", "print('score=1')", parameters=parameters, algorithm=algorithm)
    spec = parse_document(doc)
    back = parse_document(to_optimization_job(spec))
    assert back.source_format == FORMAT
    assert same_search_but_form(spec, back)


def same_search_but_form(a: Any, b: Any) -> bool:
    """Same search: parameters, objective, algorithm, stopping, budget and collector."""
    return (
        a.parameters == b.parameters
        and a.objective == b.objective
        and a.algorithm == b.algorithm
        and a.early_stopping == b.early_stopping
        and a.metrics_collector == b.metrics_collector
        and (a.max_trial_count, a.parallel_trial_count, a.max_failed_trial_count)
        == (b.max_trial_count, b.parallel_trial_count, b.max_failed_trial_count)
    )


def test_katib_experiment_exports_to_the_same_search() -> None:
    doc = katib_job_doc(
        "kexp",
        {
            "image": "python:3",
            "command": ["python3", "-c", "print(1)", "--lr=${trialParameters.learningRate}"],
        },
        trial_parameters=[{"name": "learningRate", "reference": "lr"}],
        maxTrialCount=3,
    )
    spec = parse_document(doc)
    exported = to_optimization_job(spec)
    command = exported["spec"]["trainJobTemplate"]["spec"]["trainer"]["command"]
    assert command[-1].endswith("--lr=${trialParameters.lr}")  # renamed to the parameter
    back = parse_document(exported)
    assert same_search_but_form(spec, back)


def test_export_katib_then_validate_gives_the_same_search() -> None:
    from tunery.spec.status import to_katib_document

    spec = parse_document(sample())
    katib = to_katib_document(spec)
    assert katib["apiVersion"] == "kubeflow.org/v1beta1"
    container = katib["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    names = {e["name"] for e in container["env"]}
    assert {"KUBEFLOW_TRAINER_OPT_LEARNING_RATE", "KUBEFLOW_TRAINER_OPT_BATCH_SIZE"} <= names
    back = parse_document(katib)
    assert back.source_format == "katib"
    assert same_search_but_form(spec, back)
    rendered = render_trial(back, "t", {"learning_rate": 0.5, "batch-size": "16"})
    assert rendered.env["KUBEFLOW_TRAINER_OPT_LEARNING_RATE"] == "0.5"


def test_a_native_spec_stays_equal_through_same_search() -> None:
    spec = parse_document(sample())
    assert same_search(spec, parse_document(to_optimization_job(spec)))


def test_a_file_with_an_optimization_job_loads(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(sample()))
    (parsed,) = load_file(path)
    assert parsed.spec.source_format == FORMAT


@pytest.mark.integration
def test_env_injection_is_seen_by_a_real_trial_and_status_has_the_result(
    tmp_path: Path,
) -> None:
    from tunery.client import Client
    from tunery.spec.status import object_document

    client = Client(str(tmp_path / "t.db"))
    client.create_experiment(sample(), base_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    client.run_experiment("random-tuning-mvp")
    trials = client.list_trials("random-tuning-mvp")
    assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 4, [t.message for t in trials]
    for t in trials:
        expected = float(t.parameters["learning_rate"]) + int(t.parameters["batch-size"]) / 1000
        assert t.metrics["val_loss"].latest == pytest.approx(expected)
    exp = client.get_experiment("random-tuning-mvp")
    assert exp.status == ExperimentCondition.SUCCEEDED
    doc = object_document(exp, trials)
    assert doc["kind"] == "OptimizationJob"
    status = doc["status"]
    assert [c["type"] for c in status["conditions"]] == ["Created", "Complete"]
    assert all(c["status"] == "True" for c in status["conditions"])
    best = min(trials, key=lambda t: t.metrics["val_loss"].latest or 0)
    assert status["result"]["trainJobName"] == best.name
    assert {p["name"] for p in status["result"]["parameters"]} == {"learning_rate", "batch-size"}


# --------------------------------------------------------------------------- several objectives


def _two_objectives(**changes: Any) -> dict[str, Any]:
    return sample(
        objectives=[
            {"metric": "accuracy", "direction": "Maximize", "goal": 0.99},
            {"metric": "latency_ms", "direction": "Minimize", "goal": 5},
        ],
        **changes,
    )


def test_several_objectives_are_a_multi_objective_spec_each_with_its_direction() -> None:
    spec = parse_document(_two_objectives(constraints=[{"metric": "memory_mb", "max": 512}]))
    objective = spec.objective
    assert objective.is_multi
    assert [(t.metric, t.type.value, t.goal) for t in objective.terms] == [
        ("accuracy", "maximize", 0.99),
        ("latency_ms", "minimize", 5.0),
    ]
    assert [(c.metric, c.min, c.max) for c in objective.constraints] == [("memory_mb", None, 512)]
    # The first objective is spec.objective, as for one objective.
    assert objective.objective_metric_name == "accuracy"
    assert objective.type.value == "maximize"


def test_a_multi_objective_job_exports_and_reads_back_the_same() -> None:
    spec = parse_document(_two_objectives(constraints=[{"metric": "memory_mb", "max": 512}]))
    doc = to_optimization_job(spec)
    assert doc["spec"]["objectives"] == [
        {"metric": "accuracy", "direction": "Maximize", "goal": 0.99},
        {"metric": "latency_ms", "direction": "Minimize", "goal": 5.0},
    ]
    assert doc["spec"]["constraints"] == [{"metric": "memory_mb", "max": 512.0}]
    assert "additionalMetricNames" not in doc["spec"]  # objectives and constraints only
    (again,) = parse_text(yaml.safe_dump(doc))
    assert again.spec == spec


def test_tunery_native_objectives_export_as_several_objectives() -> None:
    doc = native_doc("mo", "print('a=1 b=2')", algorithm="nsga2")
    del doc["spec"]["objective"]
    doc["spec"]["objectives"] = [
        {"metric": "a", "direction": "maximize", "strategy": "latest", "reference": 0},
        {"metric": "b", "direction": "minimize", "reference": 10},
    ]
    spec = parse_document(doc)
    exported = to_optimization_job(spec)
    assert exported["spec"]["objectives"] == [
        {"metric": "a", "direction": "Maximize", "strategy": "latest", "reference": 0.0},
        {"metric": "b", "direction": "Minimize", "reference": 10.0},
    ]
    assert same_search_but_form(spec, parse_document(exported))


def test_additional_metrics_of_one_objective_stay_additional_metrics() -> None:
    doc = native_doc("one", "print('score=1 acc=2')")
    doc["spec"]["objective"]["additionalMetricNames"] = ["acc"]
    spec = parse_document(doc)
    exported = to_optimization_job(spec)
    assert exported["spec"]["objectives"] == [{"metric": "score", "direction": "Maximize"}]
    assert exported["spec"]["additionalMetricNames"] == ["acc"]
    back = parse_document(exported)
    assert not back.objective.is_multi
    assert back.objective.additional_metric_names == ("acc",)
    assert same_search_but_form(spec, back)
