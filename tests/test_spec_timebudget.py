"""The time budget in documents: native fields, Katib annotations, errors, round trips."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.helpers import SCORE_IS_X, native_doc
from tunery.errors import SpecError
from tunery.spec import parse_document, to_document
from tunery.spec.timebudget import DURATION_ANNOTATION, POLICY_ANNOTATION, DurationPolicy


def _katib(doc: dict[str, Any]) -> dict[str, Any]:
    out = to_document(parse_document(doc))
    out["apiVersion"] = "kubeflow.org/v1beta1"
    return out


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("2h", 7200), ("90m", 5400), ("45s", 45), ("1h30m", 5400), (600, 600), ("3600", 3600)],
)
def test_native_durations(given: Any, seconds: float) -> None:
    doc = native_doc("t", SCORE_IS_X)
    doc["spec"]["maxExperimentDuration"] = given
    spec = parse_document(doc)
    assert spec.max_experiment_duration == seconds
    assert spec.experiment_duration_policy is None
    assert parse_document(to_document(spec)) == spec


@pytest.mark.parametrize("bad", ["2 hours", "-5m", "0", True, [1], "h"])
def test_a_bad_duration_is_one_line_naming_the_field_and_the_format(bad: Any) -> None:
    doc = native_doc("t", SCORE_IS_X)
    doc["spec"]["maxExperimentDuration"] = bad
    with pytest.raises(SpecError) as info:
        parse_document(doc)
    line = info.value.one_line()
    assert "\n" not in line
    assert line.startswith("spec.maxExperimentDuration: ")
    assert 'write "2h", "90m", "45s", "1h30m" or a number of seconds' in line


def test_policy_any_case_and_a_bad_one() -> None:
    doc = native_doc("t", SCORE_IS_X)
    doc["spec"]["maxExperimentDuration"] = "1h"
    doc["spec"]["experimentDurationPolicy"] = "letfinish"
    assert parse_document(doc).experiment_duration_policy is DurationPolicy.LET_FINISH
    doc["spec"]["experimentDurationPolicy"] = "Wait"
    with pytest.raises(SpecError) as info:
        parse_document(doc)
    assert info.value.one_line() == (
        "spec.experimentDurationPolicy: unknown policy 'Wait'; use KillRunning or LetFinish"
    )


def test_katib_form_carries_annotations_and_refuses_the_native_field() -> None:
    doc = native_doc("k", SCORE_IS_X)
    doc["spec"]["maxExperimentDuration"] = "2h"
    doc["spec"]["experimentDurationPolicy"] = "LetFinish"
    katib = copy.deepcopy(doc)
    katib["apiVersion"] = "kubeflow.org/v1beta1"
    with pytest.raises(SpecError) as info:
        parse_document(katib)
    assert info.value.path == "spec.maxExperimentDuration"
    assert DURATION_ANNOTATION in info.value.one_line()
    # Written in the Katib form, the budget is two annotations and no spec field.
    spec = parse_document(doc)
    from dataclasses import replace

    written = to_document(replace(spec, source_format="katib"))
    assert written["apiVersion"] == "kubeflow.org/v1beta1"
    assert "maxExperimentDuration" not in written["spec"]
    assert written["metadata"]["annotations"] == {
        DURATION_ANNOTATION: "2h",
        POLICY_ANNOTATION: "LetFinish",
    }
    read = parse_document(written)
    assert read.max_experiment_duration == 7200
    assert read.experiment_duration_policy is DurationPolicy.LET_FINISH
    assert read.annotations == {}  # they became the fields


def test_annotation_errors_name_the_annotation() -> None:
    doc = native_doc("a", SCORE_IS_X)
    doc["metadata"]["annotations"] = {DURATION_ANNOTATION: "soon"}
    with pytest.raises(SpecError) as info:
        parse_document(doc)
    assert info.value.path == f'metadata.annotations["{DURATION_ANNOTATION}"]'
    doc["metadata"]["annotations"] = {DURATION_ANNOTATION: "1h"}
    doc["spec"]["maxExperimentDuration"] = "2h"
    with pytest.raises(SpecError) as twice:
        parse_document(doc)
    assert "given twice" in twice.value.one_line()
