"""spec.initialTrials (tunery.spec.initial): read in both forms, written back, validated with
one-line errors naming spec.initialTrials[i].<name>."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.helpers import katib_job_doc, native_doc
from tunery.errors import SpecError
from tunery.spec import parse_document, to_document
from tunery.spec.initial import INITIAL_TRIALS_ANNOTATION

PARAMS = [
    {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.001", "max": "0.1"}},
    {"name": "batch", "parameterType": "discrete", "feasibleSpace": {"list": ["32", "64"]}},
]


def native(initial: Any, **spec: Any) -> dict[str, Any]:
    doc = native_doc("init", "pass", parameters=PARAMS, max_trials=4)
    doc["spec"]["initialTrials"] = initial
    doc["spec"].update(spec)
    return doc


def refusal(doc: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        parse_document(doc)
    line = info.value.one_line()
    assert "\n" not in line
    return line


def test_native_field_round_trips() -> None:
    initial = [{"lr": 0.01, "batch": 32}, {"lr": 0.05, "batch": 64}]
    spec = parse_document(native(initial))
    assert spec.initial_trials == tuple(initial)
    document = to_document(spec)
    assert document["spec"]["initialTrials"] == initial
    assert parse_document(document) == spec


def test_katib_form_carries_them_in_an_annotation() -> None:
    doc = katib_job_doc("k", {"image": "busybox", "command": ["echo", "${trialParameters.lr}"]})
    doc["metadata"]["annotations"] = {INITIAL_TRIALS_ANNOTATION: json.dumps([{"lr": 0.02}])}
    spec = parse_document(doc)
    assert spec.initial_trials == ({"lr": 0.02},)
    assert INITIAL_TRIALS_ANNOTATION not in spec.annotations  # kept apart, written back
    document = to_document(spec)
    assert "initialTrials" not in document["spec"]  # Katib's webhook would refuse the field
    assert json.loads(document["metadata"]["annotations"][INITIAL_TRIALS_ANNOTATION]) == [
        {"lr": 0.02}
    ]
    assert parse_document(document) == spec


def test_katib_form_refuses_the_field_and_bad_json() -> None:
    doc = katib_job_doc("k", {"image": "busybox", "command": ["echo", "${trialParameters.lr}"]})
    field = copy.deepcopy(doc)
    field["spec"]["initialTrials"] = [{"lr": 0.02}]
    line = refusal(field)
    assert line.startswith("spec.initialTrials: is not a field of Katib's Experiment")
    assert INITIAL_TRIALS_ANNOTATION in line
    doc["metadata"]["annotations"] = {INITIAL_TRIALS_ANNOTATION: "[{lr: 0.02"}
    assert refusal(doc).startswith(
        f"metadata.annotations[{INITIAL_TRIALS_ANNOTATION}]: is not JSON"
    )


@pytest.mark.parametrize(
    ("initial", "expected"),
    [
        (
            [{"lr": 5, "batch": 32}],
            "spec.initialTrials[0].lr: 5 is outside [0.001, 0.1]; give a "
            "value inside spec.parameters[0].feasibleSpace",
        ),
        ([{"lr": 0.01, "batch": 32}, {"lr": 0.01, "batch": 48}], "spec.initialTrials[1].batch:"),
        (
            [{"lr": 0.01}],
            "spec.initialTrials[0].batch: is missing; give every parameter a value "
            "(the parameters are: lr, batch)",
        ),
        (
            [{"lr": 0.01, "batch": 32, "momentum": 0.9}],
            "spec.initialTrials[0].momentum: is not "
            "a parameter of the experiment; the parameters are: lr, batch",
        ),
        ([0.01], "spec.initialTrials[0]: must be a mapping of parameter names to values"),
        ({"lr": 0.01}, "spec.initialTrials: must be a list"),
    ],
)
def test_bad_entries_are_one_line_errors(initial: Any, expected: str) -> None:
    assert refusal(native(initial)).startswith(expected)


def test_more_entries_than_the_budget_are_refused() -> None:
    initial = [{"lr": 0.01, "batch": 32}] * 5
    line = refusal(native(initial))
    assert line.startswith("spec.initialTrials: 5 entries, more than maxTrialCount (4)")


def test_algorithms_that_plan_every_trial_refuse_them() -> None:
    doc = native([{"lr": 0.01, "batch": 32}])
    doc["spec"]["algorithm"] = {"algorithmName": "pbt"}
    assert refusal(doc).startswith("spec.initialTrials: pbt plans every trial itself")
