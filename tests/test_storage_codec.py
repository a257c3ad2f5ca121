"""The storage codec: every model dataclass to JSON and back, losslessly."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

import pytest

from tunery import model
from tunery.model import (
    AlgorithmSetting,
    AlgorithmSpec,
    Assignment,
    CollectorKind,
    Constraint,
    Distribution,
    EarlyStoppingSpec,
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    FeasibleSpace,
    FileFormat,
    FileSystemKind,
    GraphConfig,
    MetricRecord,
    MetricsCollectorSpec,
    MetricStrategy,
    MetricStrategyType,
    MetricSummary,
    NasConfig,
    NasOperation,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    Observation,
    ParameterSpec,
    ParameterType,
    ResumePolicy,
    Trial,
    TrialCondition,
    TrialParameterSpec,
    TrialTemplate,
)
from tunery.storage.codec import CodecError, decode, encode, spec_from_json, spec_to_json


def full_spec(name: str = "full") -> ExperimentSpec:
    """A spec with every field of every spec dataclass set to a non-default value."""
    return ExperimentSpec(
        name=name,
        objective=Objective(
            type=ObjectiveType.MAXIMIZE,
            objective_metric_name="accuracy",
            goal=0.99,
            additional_metric_names=("loss", "f1"),
            metric_strategies=(
                MetricStrategy("accuracy", MetricStrategyType.MAX),
                MetricStrategy("loss", MetricStrategyType.LATEST),
            ),
            terms=(
                ObjectiveTerm(
                    "accuracy", ObjectiveType.MAXIMIZE, 0.99, MetricStrategyType.MAX, 0.5
                ),
                ObjectiveTerm("f1", ObjectiveType.MAXIMIZE, None, MetricStrategyType.MIN, 0.1),
            ),
            constraints=(Constraint("loss", 0.0, 2.5),),
        ),
        algorithm=AlgorithmSpec(
            "tpe", (AlgorithmSetting("n_startup_trials", "5"), AlgorithmSetting("seed", "7"))
        ),
        parameters=(
            ParameterSpec(
                "lr",
                ParameterType.DOUBLE,
                FeasibleSpace(
                    min="0.0001", max="0.1", step="0.001", distribution=Distribution.LOG_UNIFORM
                ),
            ),
            ParameterSpec("layers", ParameterType.INT, FeasibleSpace(min="1", max="5", step="1")),
            ParameterSpec("batch", ParameterType.DISCRETE, FeasibleSpace(list=("16", "32", "64"))),
            ParameterSpec(
                "optimizer",
                ParameterType.CATEGORICAL,
                FeasibleSpace(list=("sgd", "adam")),
                active_when=(("batch", ("32", "64")), ("layers", ("2",))),
            ),
        ),
        trial_template=TrialTemplate(
            trial_parameters=(
                TrialParameterSpec("learningRate", "lr", "the learning rate"),
                TrialParameterSpec("numLayers", "layers"),
                TrialParameterSpec("opt", "optimizer", inactive="value", inactive_value="None"),
            ),
            trial_spec={
                "apiVersion": "batch/v1",
                "kind": "Job",
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "training",
                                    "image": "docker.io/kubeflowkatib/mxnet-mnist:latest",
                                    "command": [
                                        "python3",
                                        "/opt/train.py",
                                        "--lr=${trialParameters.learningRate}",
                                    ],
                                    "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "1Gi"}},
                                }
                            ],
                            "restartPolicy": "Never",
                        }
                    },
                    "backoffLimit": 0,
                    "ttl": 1.5,
                    "enabled": True,
                    "nothing": None,
                },
            },
            primary_container_name="training",
            primary_pod_labels={"training.kubeflow.org/job-role": "master"},
            success_condition='status.conditions.#(type=="Complete")#|#(status=="True")#',
            failure_condition='status.conditions.#(type=="Failed")#|#(status=="True")#',
            retain=True,
            config_map={"configMapName": "templates", "configMapNamespace": "kubeflow"},
            command=("python", "train.py", "--lr", "${trialParameters.learningRate}"),
            env={"OMP_NUM_THREADS": "1", "MODE": "ünïcode ✓"},
            working_dir="examples/espcn",
            timeout=3600.5,
            resources={"gpu": "1", "cpu": "2"},
        ),
        namespace="kubeflow",
        parallel_trial_count=5,
        max_trial_count=40,
        max_failed_trial_count=4,
        early_stopping=EarlyStoppingSpec(
            "medianstop", (AlgorithmSetting("min_trials_required", "3"),)
        ),
        metrics_collector=MetricsCollectorSpec(
            kind=CollectorKind.FILE,
            path="/var/log/katib/metrics.log",
            path_kind=FileSystemKind.FILE,
            file_format=FileFormat.JSON,
            metrics_format=(r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)",),
            extra={"customCollector": {"image": "collector:1", "args": ["-a", "b"]}},
        ),
        resume_policy=ResumePolicy.LONG_RUNNING,
        source_format="native",
        labels={"team": "vision"},
        annotations={"note": "kept for the round trip"},
        max_experiment_duration=5400.0,
        experiment_duration_policy="LetFinish",
        initial_trials=({"lr": 0.001, "layers": 3, "batch": 32, "optimizer": "adam"},),
        nas_config=NasConfig(
            graph_config=GraphConfig(num_layers=2, input_sizes=(32, 32, 3), output_sizes=(10,)),
            operations=(
                NasOperation(
                    "convolution",
                    (
                        ParameterSpec(
                            "filter_size",
                            ParameterType.CATEGORICAL,
                            FeasibleSpace(list=("3", "5")),
                        ),
                    ),
                ),
            ),
        ),
    )


def minimal_spec(name: str = "minimal") -> ExperimentSpec:
    return ExperimentSpec(
        name=name,
        objective=Objective(ObjectiveType.MINIMIZE, "loss"),
        algorithm=AlgorithmSpec("random"),
        parameters=(ParameterSpec("x", ParameterType.DOUBLE, FeasibleSpace("0", "1")),),
        trial_template=TrialTemplate(command=("python", "t.py")),
    )


def full_trial() -> Trial:
    return Trial(
        name="full-0001",
        experiment="full",
        index=1,
        parameters={"lr": 0.001, "layers": 3, "optimizer": "adam", "batch": 32, "one": 1.0},
        status=TrialCondition.SUCCEEDED,
        reason="TrialSucceeded",
        message="done",
        labels={"parent": "full-0000"},
        metrics={"accuracy": MetricSummary(0.5, 0.9, 0.8), "loss": MetricSummary(None, None, None)},
        objective=0.9,
        created_time=1.0,
        start_time=2.0,
        completion_time=3.0,
        handle={"pid": 12, "pgid": 12, "host": "h"},
        cursor={"offset": 10, "partial": ""},
    )


def _every_dataclass_instance() -> list[Any]:
    spec = full_spec()
    return [
        spec,
        full_trial(),
        Experiment(
            name="full",
            spec=spec,
            status=ExperimentCondition.RUNNING,
            reason="ExperimentRunning",
            message="running",
            created_time=1.0,
            start_time=2.0,
            completion_time=3.0,
            document={"apiVersion": "kubeflow.org/v1beta1", "spec": {"maxTrialCount": 40}},
            base_dir="/base",
            runs_dir="/runs",
        ),
        Assignment({"lr": 0.5, "n": 2, "c": "a"}, {"parent": "x"}),
        MetricRecord("loss", 0.25, 10.0, 3),
        Observation("full-0001", "loss", 0.25, 3, 10.0),
        MetricSummary(1.0, 2.0, 1.5),
    ]


def test_full_spec_round_trips() -> None:
    spec = full_spec()
    data = spec_to_json(spec)
    text = json.dumps(data, allow_nan=False)
    back = spec_from_json(json.loads(text))
    assert back == spec
    assert spec_to_json(back) == data


def test_minimal_spec_round_trips() -> None:
    spec = minimal_spec()
    assert spec_from_json(json.loads(json.dumps(spec_to_json(spec)))) == spec


def test_encoding_is_plain_json_with_enum_values() -> None:
    data = spec_to_json(full_spec())
    assert data["objective"]["type"] == "maximize"
    assert data["parameters"][0]["parameter_type"] == "double"
    assert data["parameters"][0]["feasible_space"]["distribution"] == "logUniform"
    assert data["metrics_collector"]["kind"] == "File"
    assert data["resume_policy"] == "LongRunning"
    assert isinstance(data["parameters"], list)

    def walk(value: Any) -> None:
        assert not isinstance(value, Enum | tuple)
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or isinstance(value, str | int | float | bool)

    walk(data)


def test_decoded_types_are_exact() -> None:
    back = spec_from_json(json.loads(json.dumps(spec_to_json(full_spec()))))
    assert type(back.parameters) is tuple
    assert type(back.parameters[2].feasible_space.list) is tuple
    assert back.parameters[0].parameter_type is ParameterType.DOUBLE
    assert back.parameters[0].feasible_space.distribution is Distribution.LOG_UNIFORM
    condition = back.parameters[3].active_when  # tuples all the way (hashable)
    assert condition == (("batch", ("32", "64")), ("layers", ("2",))) and hash(condition)
    assert type(condition) is tuple and type(condition[0][1]) is tuple
    assert type(back.objective.additional_metric_names) is tuple
    assert back.objective.metric_strategies[1].value is MetricStrategyType.LATEST
    assert type(back.trial_template.command) is tuple
    assert type(back.trial_template.env) is dict
    assert type(back.labels) is dict
    assert back.metrics_collector.path_kind is FileSystemKind.FILE
    assert back.resume_policy is ResumePolicy.LONG_RUNNING
    assert isinstance(back.trial_template.timeout, float)
    job = back.trial_template.trial_spec
    assert job is not None
    limits = job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert type(limits["nvidia.com/gpu"]) is int
    assert job["spec"]["enabled"] is True
    assert job["spec"]["nothing"] is None


def _defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _reachable_dataclasses(cls: type, seen: set[type]) -> None:
    if cls in seen:
        return
    seen.add(cls)
    for hint in typing.get_type_hints(cls).values():
        stack = [hint]
        while stack:
            tp = stack.pop()
            stack.extend(typing.get_args(tp))
            if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                _reachable_dataclasses(tp, seen)


def _set_fields(value: Any, found: set[tuple[type, str]]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        defaults = _defaults(type(value))
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.name not in defaults or v != defaults[f.name]:
                found.add((type(value), f.name))
            _set_fields(v, found)
    elif isinstance(value, Mapping):
        for v in value.values():
            _set_fields(v, found)
    elif isinstance(value, tuple | list):
        for v in value:
            _set_fields(v, found)


def test_full_spec_sets_every_field_of_every_spec_dataclass() -> None:
    """Guards the round-trip test: a field added to the model must be set in full_spec()."""
    classes: set[type] = set()
    _reachable_dataclasses(ExperimentSpec, classes)
    wanted = {(cls, f.name) for cls in classes for f in dataclasses.fields(cls)}
    found: set[tuple[type, str]] = set()
    _set_fields(full_spec(), found)
    assert wanted - found == set()


@pytest.mark.parametrize("value", _every_dataclass_instance(), ids=lambda v: type(v).__name__)
def test_every_model_dataclass_round_trips(value: Any) -> None:
    data = json.loads(json.dumps(encode(value), allow_nan=False))
    assert decode(type(value), data) == value


def test_every_model_dataclass_is_covered() -> None:
    all_classes = {
        obj
        for obj in vars(model).values()
        if isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and obj.__module__ == model.__name__
    }
    covered: set[type] = set()
    for value in _every_dataclass_instance():
        _reachable_dataclasses(type(value), covered)
    assert all_classes - covered == set()


def test_parameter_values_keep_their_json_type() -> None:
    trial = decode(Trial, json.loads(json.dumps(encode(full_trial()))))
    assert type(trial.parameters["lr"]) is float
    assert type(trial.parameters["one"]) is float
    assert type(trial.parameters["layers"]) is int
    assert type(trial.parameters["optimizer"]) is str
    assert trial.status is TrialCondition.SUCCEEDED
    assert isinstance(trial.metrics["accuracy"], MetricSummary)


def test_missing_fields_take_their_defaults_and_unknown_keys_are_ignored() -> None:
    data = spec_to_json(minimal_spec())
    for key in ("namespace", "labels", "metrics_collector", "early_stopping"):
        del data[key]
    data["from_the_future"] = 1
    assert spec_from_json(data) == minimal_spec()


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["objective"].update(type="sideways"), ".objective.type"),
        (lambda d: d.update(parameters={}), ".parameters"),
        (lambda d: d.update(parallel_trial_count="3"), ".parallel_trial_count"),
        (lambda d: d.pop("name"), ".name"),
        (lambda d: d["parameters"][0].update(feasible_space=None), ".parameters[0].feasible_space"),
    ],
)
def test_corrupt_data_raises_codec_error_naming_the_field(mutate: Any, path: str) -> None:
    data = spec_to_json(minimal_spec())
    mutate(data)
    with pytest.raises(CodecError, match=path.replace("[", r"\[").replace("]", r"\]")):
        spec_from_json(data)


def test_yaml_timestamps_in_verbatim_documents_become_iso_strings() -> None:
    import datetime

    stamp = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    assert encode({"metadata": {"creationTimestamp": stamp, "day": stamp.date()}}) == {
        "metadata": {"creationTimestamp": "2024-05-01T12:30:00+00:00", "day": "2024-05-01"}
    }
    with pytest.raises(TypeError):
        encode({"x": object()})
