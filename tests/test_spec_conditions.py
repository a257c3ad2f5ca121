"""``parameters[].activeWhen`` and the Katib annotation: reading, validation, round trips."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.helpers import katib_job_doc, native_doc
from tunery.errors import SpecError
from tunery.spec import parse_document, to_document
from tunery.spec.optimizationjob import to_optimization_job
from tunery.spec.status import to_katib_document

PARAMETERS: list[dict[str, Any]] = [
    {"name": "model", "parameterType": "categorical", "feasibleSpace": {"list": ["svm", "rf"]}},
    {
        "name": "C",
        "parameterType": "double",
        "feasibleSpace": {"min": "0.001", "max": "1000", "distribution": "logUniform"},
        "activeWhen": {"model": ["svm"]},
    },
    {
        "name": "kernel",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["rbf", "poly"]},
        "activeWhen": {"model": "svm"},
    },
    {
        "name": "degree",
        "parameterType": "int",
        "feasibleSpace": {"min": "2", "max": "5"},
        "activeWhen": {"kernel": ["poly"], "model": ["svm"]},
    },
]


def native(parameters: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    return native_doc(
        "cond", "print('score=1')", parameters=copy.deepcopy(parameters or PARAMETERS), **kw
    )


def katib(parameters: list[dict[str, Any]], annotation: Any = None) -> dict[str, Any]:
    doc = katib_job_doc(
        "cond",
        {
            "image": "python:3.12",
            "command": [
                "python",
                "t.py",
                *(f"--{p['name']}=${{trialParameters.{p['name']}}}" for p in parameters),
            ],
        },
        parameters=copy.deepcopy(parameters),
        trial_parameters=[{"name": p["name"], "reference": p["name"]} for p in parameters],
    )
    if annotation is not None:
        text = annotation if isinstance(annotation, str) else json.dumps(annotation)
        doc["metadata"]["annotations"] = {"tunery.dev/active-when": text}
    return doc


def plain(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in p.items() if k != "activeWhen"} for p in parameters]


def test_native_active_when_is_read_in_order_and_a_lone_value_is_a_list() -> None:
    spec = parse_document(native())
    by = {p.name: p.active_when for p in spec.parameters}
    assert by == {
        "model": (),
        "C": (("model", ("svm",)),),
        "kernel": (("model", ("svm",)),),
        "degree": (("kernel", ("poly",)), ("model", ("svm",))),
    }


def test_katib_form_reads_the_annotation_and_keeps_no_trace_of_it() -> None:
    conditions = {p["name"]: p["activeWhen"] for p in PARAMETERS if "activeWhen" in p}
    spec = parse_document(katib(plain(PARAMETERS), conditions))
    assert {p.name: p.active_when for p in spec.parameters} == {
        p.name: p.active_when for p in parse_document(native()).parameters
    }
    assert "tunery.dev/active-when" not in spec.annotations
    # Written back: the annotation again, no activeWhen field (Katib would prune it).
    doc = to_document(spec)
    assert all("activeWhen" not in p for p in doc["spec"]["parameters"])
    assert json.loads(doc["metadata"]["annotations"]["tunery.dev/active-when"]) == {
        "C": {"model": ["svm"]},
        "kernel": {"model": ["svm"]},
        "degree": {"kernel": ["poly"], "model": ["svm"]},
    }
    assert parse_document(doc) == spec


def test_a_katib_document_without_the_annotation_is_unchanged() -> None:
    doc = katib(plain(PARAMETERS))
    spec = parse_document(doc)
    assert all(not p.active_when for p in spec.parameters)
    assert "annotations" not in to_document(spec)["metadata"]


def test_native_round_trip_and_every_export_form_keep_the_tree() -> None:
    spec = parse_document(native())
    assert parse_document(to_document(spec)) == spec
    katib_doc = to_katib_document(spec)
    assert "tunery.dev/active-when" in katib_doc["metadata"]["annotations"]
    assert all("activeWhen" not in p for p in katib_doc["spec"]["parameters"])
    back = parse_document(katib_doc)
    assert [p.active_when for p in back.parameters] == [p.active_when for p in spec.parameters]
    job = parse_document(to_optimization_job(spec))
    assert [p.active_when for p in job.parameters] == [p.active_when for p in spec.parameters]


def _set(index: int, key: str, value: Any) -> list[dict[str, Any]]:
    params = copy.deepcopy(PARAMETERS)
    params[index][key] = value
    return params


@pytest.mark.parametrize(
    ("parameters", "path", "message"),
    [
        (
            _set(1, "activeWhen", {"mdl": ["svm"]}),
            "spec.parameters[1].activeWhen.mdl",
            "unknown parameter 'mdl'",
        ),
        (
            _set(1, "activeWhen", {"C": ["1"]}),
            "spec.parameters[1].activeWhen.C",
            "depends on itself",
        ),
        (_set(2, "activeWhen", {"C": ["1"]}), "spec.parameters[2].activeWhen.C", "is a double"),
        (
            _set(1, "activeWhen", {"model": ["lasso"]}),
            "spec.parameters[1].activeWhen.model[0]",
            "'lasso' is not a value of 'model'",
        ),
        (
            _set(1, "activeWhen", {"model": []}),
            "spec.parameters[1].activeWhen.model",
            "lists no value",
        ),
        (_set(1, "activeWhen", {}), "spec.parameters[1].activeWhen", "names no parent"),
        (_set(1, "activeWhen", ["model"]), "spec.parameters[1].activeWhen", "must be a mapping"),
        (
            _set(1, "activeWhen", {"model": [{"x": 1}]}),
            "spec.parameters[1].activeWhen.model[0]",
            "must be a string or a number",
        ),
        (_set(0, "activeWhen", {"degree": ["2"]}), "spec.parameters[2].activeWhen.model", "cycle"),
        (_set(1, "activeWhn", {"model": ["svm"]}), "spec.parameters[1].activeWhn", "unknown field"),
    ],
)
def test_bad_native_conditions_name_the_field(
    parameters: list[dict[str, Any]], path: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        parse_document(native(parameters))
    assert info.value.path == path
    assert message in str(info.value)
    assert info.value.hint


ANNOTATION = "metadata.annotations[tunery.dev/active-when]"


@pytest.mark.parametrize(
    ("annotation", "path", "message"),
    [
        ("{not json", ANNOTATION, "is not valid JSON"),
        ('["C"]', ANNOTATION, "must be a JSON object"),
        ({"D": {"model": ["svm"]}}, f"{ANNOTATION}.D", "names no parameter: 'D'"),
        ({"C": {"model": ["lasso"]}}, f"{ANNOTATION}.C.model[0]", "'lasso' is not a value"),
        ({"C": {"C": ["1"]}}, f"{ANNOTATION}.C.C", "depends on itself"),
    ],
)
def test_bad_katib_annotations_name_the_annotation(
    annotation: Any, path: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        parse_document(katib(plain(PARAMETERS[:2]), annotation))
    assert info.value.path == path
    assert message in str(info.value)


def test_active_when_in_a_katib_document_points_to_the_annotation() -> None:
    with pytest.raises(SpecError, match=r"tunery\.dev/active-when") as info:
        parse_document(katib(PARAMETERS[:2]))
    assert info.value.path == "spec.parameters[1].activeWhen"


def test_an_algorithm_without_conditionals_refuses_the_spec_with_its_reason() -> None:
    with pytest.raises(SpecError, match="cannot search conditional parameters") as info:
        parse_document(native(algorithm="cmaes"))
    assert info.value.path == "spec.algorithm.algorithmName"
    assert "random" in (info.value.hint or "")
    parse_document(
        native(
            algorithm="grid",
            parameters=_set(1, "feasibleSpace", {"min": "1", "max": "3", "step": "1"}),
        )
    )
