"""tunery's extensions of an OptimizationJob: initialTrials and the time budget
(tunery/spec/optimizationjob_extras.py)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers import katib_job_doc, native_doc
from tests.test_spec_optimizationjob import sample
from tunery.errors import SpecError
from tunery.spec import parse_document, parse_text
from tunery.spec.optimizationjob import to_optimization_job

FIRST = [{"learning_rate": 0.01, "batch-size": "32"}, {"learning_rate": 0.001, "batch-size": "64"}]


def test_a_job_reads_and_exports_its_initial_trials_and_time_budget() -> None:
    spec = parse_document(
        sample(
            initialTrials=FIRST, maxExperimentDuration="90m", experimentDurationPolicy="LetFinish"
        )
    )
    assert spec.initial_trials == tuple(FIRST)
    assert (spec.max_experiment_duration, spec.experiment_duration_policy) == (5400.0, "LetFinish")
    body = to_optimization_job(spec)["spec"]
    assert body["initialTrials"] == FIRST
    assert (body["maxExperimentDuration"], body["experimentDurationPolicy"]) == (
        "90m",
        "LetFinish",
    )
    (again,) = parse_text(yaml.safe_dump(to_optimization_job(spec)))
    assert again.spec == spec


def test_a_job_without_them_exports_none() -> None:
    body = to_optimization_job(parse_document(sample()))["spec"]
    assert not {"initialTrials", "maxExperimentDuration", "experimentDurationPolicy"} & set(body)


def test_katib_annotations_export_as_the_job_s_fields() -> None:
    doc: dict[str, Any] = katib_job_doc(
        "kexp",
        {
            "image": "python:3",
            "command": ["python3", "-c", "print(1)", "--lr=${trialParameters.lr}"],
        },
        maxTrialCount=3,
    )
    name = doc["spec"]["parameters"][0]["name"]
    low = doc["spec"]["parameters"][0]["feasibleSpace"]["min"]
    doc["metadata"]["annotations"] = {
        "tunery.dev/initial-trials": f'[{{"{name}": {low}}}]',
        "tunery.dev/max-experiment-duration": "2h",
    }
    spec = parse_document(doc)
    exported = to_optimization_job(spec)
    assert exported["spec"]["initialTrials"] == [{name: float(low)}]
    assert exported["spec"]["maxExperimentDuration"] == "2h"
    assert "tunery.dev/initial-trials" not in exported["metadata"].get("annotations", {})
    back = parse_document(exported)
    assert back.initial_trials == spec.initial_trials
    assert back.max_experiment_duration == 7200.0


def test_a_native_experiment_keeps_them_through_a_job() -> None:
    extra = {"initialTrials": [{"x": 0.5}], "maxExperimentDuration": 30}
    doc = native_doc("exp", "print('score=1')", extra_spec=extra)
    spec = parse_document(doc)
    back = parse_document(to_optimization_job(spec))
    assert (back.initial_trials, back.max_experiment_duration) == (
        spec.initial_trials,
        spec.max_experiment_duration,
    )


def test_a_bad_initial_trial_in_a_job_names_the_field() -> None:
    with pytest.raises(SpecError, match="initialTrials") as exc:
        parse_document(sample(initialTrials=[{"learning_rate": 5.0, "batch-size": "32"}]))
    assert "spec.initialTrials" in exc.value.path
    with pytest.raises(SpecError) as exc:
        parse_document(sample(maxExperimentDuration="soon"))
    assert exc.value.path == "spec.maxExperimentDuration"
