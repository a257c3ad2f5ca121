"""``spec.objectives`` and ``spec.constraints`` in both document forms: reading, defaults,
validation errors (one line naming the field), the algorithm's refusal, the round trip."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tunery.errors import SpecError
from tunery.model import Constraint, MetricStrategyType, ObjectiveTerm, ObjectiveType
from tunery.spec import parse_document, to_document

NATIVE: dict[str, Any] = {
    "apiVersion": "tunery/v1",
    "kind": "Experiment",
    "metadata": {"name": "mo"},
    "spec": {
        "objectives": [
            {"metric": "accuracy", "direction": "maximize", "goal": 0.95},
            {"metric": "latency_ms", "direction": "minimize"},
        ],
        "constraints": [{"metric": "memory_mb", "max": 512}],
        "algorithm": {"algorithmName": "random"},
        "maxTrialCount": 6,
        "parameters": [
            {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.1", "max": "1"}},
        ],
        "trialTemplate": {"command": ["python", "t.py", "${trialParameters.lr}"]},
    },
}


def katib(spec_changes: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(NATIVE)
    doc["apiVersion"] = "kubeflow.org/v1beta1"
    doc["spec"]["trialTemplate"] = {
        "trialParameters": [{"name": "lr", "reference": "lr"}],
        "trialSpec": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "training-container",
                                "command": ["python", "t.py", "${trialParameters.lr}"],
                            }
                        ]
                    }
                }
            },
        },
    }
    doc["spec"].update(spec_changes)
    return doc


def native(spec_changes: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(NATIVE)
    doc["spec"].update(spec_changes)
    return doc


FORMS = [pytest.param(native, id="native"), pytest.param(katib, id="katib")]


def error(doc: dict[str, Any], *, check_algorithm: bool = False) -> str:
    with pytest.raises(SpecError) as info:
        parse_document(doc, check_algorithm=check_algorithm)
    line = info.value.one_line()
    assert "\n" not in line
    return line


@pytest.mark.parametrize("form", FORMS)
def test_objectives_and_constraints_are_read(form: Any) -> None:
    spec = parse_document(form({}))
    obj = spec.objective
    assert obj.is_multi
    assert obj.type is ObjectiveType.MAXIMIZE and obj.objective_metric_name == "accuracy"
    assert obj.goal == 0.95
    assert obj.terms == (
        ObjectiveTerm("accuracy", ObjectiveType.MAXIMIZE, 0.95, MetricStrategyType.MAX),
        ObjectiveTerm("latency_ms", ObjectiveType.MINIMIZE, None, MetricStrategyType.MIN),
    )
    assert obj.constraints == (Constraint("memory_mb", None, 512.0),)
    # Defaults: every metric collected; constraints read the latest value.
    assert obj.metric_names == ("accuracy", "latency_ms", "memory_mb")
    assert obj.additional_metric_names == ("latency_ms", "memory_mb")
    assert obj.strategy_for("memory_mb") is MetricStrategyType.LATEST
    assert obj.strategy_for("latency_ms") is MetricStrategyType.MIN


@pytest.mark.parametrize("form", FORMS)
def test_documents_round_trip(form: Any) -> None:
    doc = form(
        {
            "objectives": [
                {"metric": "a", "direction": "Maximize", "strategy": "latest", "reference": 0},
                {"metric": "b", "direction": "minimize", "goal": 3, "reference": 10},
                {"metric": "c", "direction": "minimize", "reference": 5},
            ],
            "constraints": [{"metric": "m", "min": 1, "max": 2}, {"metric": "b", "max": 9}],
        }
    )
    spec = parse_document(doc)
    written = to_document(spec)
    assert written["spec"]["objectives"][0] == {
        "metric": "a",
        "direction": "maximize",
        "strategy": "latest",
        "reference": 0.0,
    }
    assert written["spec"]["constraints"] == [
        {"metric": "m", "min": 1.0, "max": 2.0},
        {"metric": "b", "max": 9.0},
    ]
    assert parse_document(written) == spec
    assert parse_document(to_document(parse_document(written))) == spec


def test_a_single_objective_document_is_written_as_before() -> None:
    doc = native({"objective": {"type": "minimize", "objectiveMetricName": "loss"}})
    del doc["spec"]["objectives"], doc["spec"]["constraints"]
    spec = parse_document(doc)
    written = to_document(spec)
    assert "objectives" not in written["spec"] and "constraints" not in written["spec"]
    assert spec.objective.terms == (
        ObjectiveTerm("loss", ObjectiveType.MINIMIZE, None, MetricStrategyType.MIN),
    )
    assert not spec.objective.is_multi and spec.objective.constraints == ()


def test_single_objective_with_constraints_keeps_spec_objective() -> None:
    doc = native({"objective": {"type": "minimize", "objectiveMetricName": "loss", "goal": 0.1}})
    del doc["spec"]["objectives"]
    spec = parse_document(doc)
    assert not spec.objective.is_multi
    assert spec.objective.constraints == (Constraint("memory_mb", None, 512.0),)
    written = to_document(spec)
    assert "objectives" not in written["spec"] and written["spec"]["constraints"]
    assert parse_document(written) == spec


def test_objective_and_objectives_together_must_agree() -> None:
    agreeing = native({"objective": {"type": "maximize", "objectiveMetricName": "accuracy"}})
    spec = parse_document(agreeing)
    assert spec.objective.is_multi and spec.objective.goal == 0.95
    line = error(native({"objective": {"type": "maximize", "objectiveMetricName": "acc"}}))
    assert line.startswith("spec.objectives[0].metric: is 'accuracy' but spec.objective")
    line = error(native({"objective": {"type": "minimize", "objectiveMetricName": "accuracy"}}))
    assert line.startswith("spec.objectives[0].direction: is maximize but spec.objective.type")
    line = error(
        native({"objective": {"type": "maximize", "objectiveMetricName": "accuracy", "goal": 1}})
    )
    assert line.startswith("spec.objectives[0].goal: is 0.95 but spec.objective.goal is 1")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("changes", "start"),
    [
        ({"objectives": []}, "spec.objectives: must not be empty"),
        ({"objectives": {"metric": "a"}}, "spec.objectives: must be a list"),
        ({"objectives": [{"metric": "a"}]}, "spec.objectives[0].direction: is required"),
        (
            {"objectives": [{"metric": "a", "direction": "up"}]},
            "spec.objectives[0].direction: invalid direction 'up'",
        ),
        (
            {"objectives": [{"metric": "a", "direction": "minimize", "weight": 1}]},
            "spec.objectives[0].weight: unknown field",
        ),
        (
            {"objectives": [{"metric": "a b", "direction": "minimize"}]},
            "spec.objectives[0].metric: invalid metric name 'a b'",
        ),
        (
            {"objectives": [{"direction": "minimize"}]},
            "spec.objectives[0].metric: is required",
        ),
        (
            {
                "objectives": [
                    {"metric": "a", "direction": "minimize"},
                    {"metric": "a", "direction": "maximize"},
                ]
            },
            "spec.objectives[1].metric: metric 'a' is already spec.objectives[0]",
        ),
        (
            {"objectives": [{"metric": "a", "direction": "minimize", "goal": "high"}]},
            "spec.objectives[0].goal: must be a number",
        ),
        (
            {"objectives": [{"metric": "a", "direction": "minimize", "strategy": "mean"}]},
            "spec.objectives[0].strategy: invalid metric strategy 'mean'",
        ),
        (
            {
                "objectives": [
                    {"metric": "a", "direction": "minimize", "reference": 1},
                    {"metric": "b", "direction": "minimize"},
                ]
            },
            "spec.objectives[1].reference: is missing",
        ),
        (
            {"objectives": [{"metric": "a", "direction": "minimize", "reference": 1}]},
            "spec.objectives[0].reference: a reference point bounds",
        ),
        ({"constraints": [{"metric": "m"}]}, "spec.constraints[0]: needs min or max"),
        (
            {"constraints": [{"metric": "m", "min": 3, "max": 2}]},
            "spec.constraints[0].min: (3) must not exceed max (2)",
        ),
        (
            {"constraints": [{"metric": "m", "max": "lots"}]},
            "spec.constraints[0].max: must be a number, not 'lots'",
        ),
        (
            {"constraints": [{"metric": "m", "max": 1}, {"metric": "m", "min": 0}]},
            "spec.constraints[1].metric: metric 'm' is already bounded",
        ),
        ({"constraints": [{"metric": "m", "below": 1}]}, "spec.constraints[0].below: unknown"),
        ({"constraints": {"metric": "m"}}, "spec.constraints: must be a list"),
    ],
)
def test_bad_objectives_and_constraints_are_one_line_errors(
    form: Any, changes: dict[str, Any], start: str
) -> None:
    line = error(form(changes))
    assert line.startswith(start), line
    assert ";" in line  # a hint follows


def test_no_objective_at_all_names_both_fields() -> None:
    doc = native({})
    del doc["spec"]["objectives"]
    line = error(doc)
    assert line.startswith("spec.objective: is required")


def test_strategy_conflicting_with_metric_strategies_is_refused() -> None:
    doc = native(
        {
            "objective": {
                "type": "maximize",
                "objectiveMetricName": "accuracy",
                "metricStrategies": [{"name": "latency_ms", "value": "latest"}],
            }
        }
    )
    assert parse_document(doc).objective.terms[1].strategy is MetricStrategyType.LATEST
    doc["spec"]["objectives"][1]["strategy"] = "max"
    assert error(doc).startswith("spec.objectives[1].strategy: is max but")


@pytest.mark.parametrize("algorithm", ["cmaes", "hyperband", "pbt"])
def test_single_objective_algorithms_refuse_several_objectives(algorithm: str) -> None:
    line = error(native({"algorithm": {"algorithmName": algorithm}}), check_algorithm=True)
    assert line.startswith(
        f"spec.algorithm.algorithmName: algorithm {algorithm} cannot tune 2 objectives; "
        "use one of: random, grid, sobol"
    ), line


@pytest.mark.parametrize("algorithm", ["random", "grid", "sobol"])
def test_sampling_algorithms_take_several_objectives_and_every_one_constraints(
    algorithm: str,
) -> None:
    doc = native({"algorithm": {"algorithmName": algorithm}, "maxTrialCount": 3})
    doc["spec"]["parameters"] = [
        {"name": "lr", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "3"}}
    ]
    assert parse_document(doc).objective.is_multi
    single = native(
        {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "cmaes"},
        }
    )
    del single["spec"]["objectives"]
    single["spec"]["parameters"].append(
        {"name": "wd", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
    )
    single["spec"]["trialTemplate"]["command"].append("${trialParameters.wd}")
    assert parse_document(single).objective.constraints
