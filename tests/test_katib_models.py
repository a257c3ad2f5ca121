"""tunery.katib.models: Katib's SDK models as users read them, and documents both ways."""

from __future__ import annotations

import copy
import datetime as dt
import inspect

import pytest

from tunery import katib
from tunery.katib import models as m


def test_constructor_arguments_follow_katibs_generated_models() -> None:
    # Katib's generated models take their attributes alphabetically (openapi-generator).
    params = list(inspect.signature(m.V1beta1FeasibleSpace).parameters)
    assert params == ["distribution", "list", "max", "min", "step"]
    params = list(inspect.signature(m.V1beta1ExperimentSpec).parameters)
    assert params == sorted(params) and "max_trial_count" in params
    cond = m.V1beta1ExperimentCondition()
    assert (cond.status, cond.type) == ("", "")  # Katib's required fields default to ""


def test_to_dict_is_snake_case_with_nones_and_nested_dicts() -> None:
    trial = m.V1beta1OptimalTrial(
        best_trial_name="t-1",
        observation=m.V1beta1Observation(
            metrics=[m.V1beta1Metric(name="loss", min="0.1", max="0.5", latest="0.2")]
        ),
        parameter_assignments=[m.V1beta1ParameterAssignment(name="lr", value="0.01")],
    )
    assert trial.to_dict() == {
        "best_trial_name": "t-1",
        "observation": {"metrics": [{"latest": "0.2", "max": "0.5", "min": "0.1", "name": "loss"}]},
        "parameter_assignments": [{"name": "lr", "value": "0.01"}],
    }
    assert "'best_trial_name': 't-1'" in repr(trial)
    assert trial == copy.deepcopy(trial)
    assert trial != m.V1beta1OptimalTrial(best_trial_name="t-2")


def test_document_is_camel_case_without_nones_and_reads_back() -> None:
    experiment = m.V1beta1Experiment(
        api_version="kubeflow.org/v1beta1",
        kind="Experiment",
        metadata=m.V1ObjectMeta(name="e", labels={"team_name": "a"}),
        spec=m.V1beta1ExperimentSpec(
            max_trial_count=3,
            algorithm=m.V1beta1AlgorithmSpec(
                algorithm_name="tpe",
                algorithm_settings=[m.V1beta1AlgorithmSetting(name="n_startup_trials", value="5")],
            ),
            parameters=[katib.search.double(min=0.1, max=0.2)],
            trial_template=m.V1beta1TrialTemplate(
                primary_container_name="main",
                trial_spec={"apiVersion": "batch/v1", "kind": "Job"},
            ),
        ),
    )
    doc = m.document(experiment)
    assert doc["metadata"] == {"name": "e", "labels": {"team_name": "a"}}  # labels verbatim
    assert doc["spec"]["maxTrialCount"] == 3
    assert doc["spec"]["algorithm"]["algorithmSettings"] == [
        {"name": "n_startup_trials", "value": "5"}
    ]
    assert doc["spec"]["parameters"] == [
        {"feasibleSpace": {"max": "0.2", "min": "0.1"}, "parameterType": "double"}
    ]
    assert doc["spec"]["trialTemplate"]["trialSpec"] == {"apiVersion": "batch/v1", "kind": "Job"}
    assert m.from_document(m.V1beta1Experiment, doc) == experiment


class _K8sModel:
    """Shaped like a kubernetes-client model: ``openapi_types`` and ``attribute_map``."""

    openapi_types = {"name": "str", "value_from": "object", "value": "str"}
    attribute_map = {"name": "name", "value_from": "valueFrom", "value": "value"}

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value, self.value_from = name, value, None


class _ToDict:
    def to_dict(self) -> dict[str, object]:
        return {"max_trial_count": 2, "metadata": {"name": "x", "labels": {"a_b": "c"}}}


def test_document_of_foreign_models() -> None:
    assert m.document(_K8sModel("A", "1")) == {"name": "A", "value": "1"}
    assert m.document(_ToDict()) == {
        "maxTrialCount": 2,
        "metadata": {"name": "x", "labels": {"a_b": "c"}},
    }
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert m.document(m.V1ObjectMeta(creation_timestamp=when)) == {
        "creationTimestamp": "2026-01-02T03:04:05Z"
    }
    with pytest.raises(TypeError, match="expects a mapping"):
        m.from_document(m.V1beta1Experiment, ["not", "a", "mapping"])


def test_search_helpers_build_katibs_parameter_specs() -> None:
    assert katib.search.double(min=0.1, max=0.2, step=0.05).to_dict() == {
        "feasible_space": {
            "distribution": None,
            "list": None,
            "max": "0.2",
            "min": "0.1",
            "step": "0.05",
        },
        "name": None,
        "parameter_type": "double",
    }
    assert katib.search.int(min=1, max=5).feasible_space.max == "5"
    cat = katib.search.categorical(list=["sgd", "adam"])
    assert (cat.parameter_type, cat.feasible_space.list) == ("categorical", ["sgd", "adam"])
    with pytest.raises(ValueError, match="non-empty list"):
        katib.search.categorical(list=[])
    with pytest.raises(ValueError, match="must be a number"):
        katib.search.double(min=None, max=1)  # type: ignore[arg-type]


def test_katibs_import_paths_exist() -> None:
    from tunery.katib.constants import constants
    from tunery.katib.types.types import TrainerResources

    assert constants.EXPERIMENT_CONDITION_SUCCEEDED == "Succeeded"
    assert katib.TrainerResources is TrainerResources
    assert katib.V1beta1Experiment is m.V1beta1Experiment
    assert callable(katib.report_metrics) and callable(katib.tune)
    assert katib.BASE_IMAGE_PYTORCH.startswith("docker.io/pytorch/")
