"""Katib's Python SDK, locally: ``from tunery import katib`` in place of
``import kubeflow.katib as katib``.

``katib.KatibClient`` (every public method of Katib's, same arguments and defaults),
``katib.search`` (``double``/``int``/``categorical``), ``katib.report_metrics`` (the Push
collector: :func:`tunery.collect.push.report_metrics`), Katib's models
(``katib.V1beta1Experiment``... and ``katib.models``),
``katib.TrainerResources`` and Katib's constants, at the import paths Katib's SDK has them
(``tunery.katib.constants.constants``, ``tunery.katib.types.types``), so replacing
``kubeflow.katib`` by ``tunery.katib`` in imports is the whole change.  See docs/sdk.md,
"Moving from KatibClient".
"""

from __future__ import annotations

from typing import Any

from tunery.collect.push import report_metrics
from tunery.katib import models, search
from tunery.katib.client import KatibClient
from tunery.katib.constants.constants import (
    BASE_IMAGE_PYTORCH,
    BASE_IMAGE_TENSORFLOW,
    BASE_IMAGE_TENSORFLOW_GPU,
)
from tunery.katib.models import (
    V1beta1AlgorithmSetting,
    V1beta1AlgorithmSpec,
    V1beta1CollectorSpec,
    V1beta1ConfigMapSource,
    V1beta1EarlyStoppingRule,
    V1beta1EarlyStoppingSetting,
    V1beta1EarlyStoppingSpec,
    V1beta1Experiment,
    V1beta1ExperimentCondition,
    V1beta1ExperimentList,
    V1beta1ExperimentSpec,
    V1beta1ExperimentStatus,
    V1beta1FeasibleSpace,
    V1beta1FileSystemPath,
    V1beta1FilterSpec,
    V1beta1GraphConfig,
    V1beta1Metric,
    V1beta1MetricsCollectorSpec,
    V1beta1MetricStrategy,
    V1beta1NasConfig,
    V1beta1ObjectiveSpec,
    V1beta1Observation,
    V1beta1Operation,
    V1beta1OptimalTrial,
    V1beta1ParameterAssignment,
    V1beta1ParameterSpec,
    V1beta1SourceSpec,
    V1beta1Suggestion,
    V1beta1SuggestionCondition,
    V1beta1SuggestionList,
    V1beta1SuggestionSpec,
    V1beta1SuggestionStatus,
    V1beta1Trial,
    V1beta1TrialAssignment,
    V1beta1TrialCondition,
    V1beta1TrialList,
    V1beta1TrialParameterSpec,
    V1beta1TrialSource,
    V1beta1TrialSpec,
    V1beta1TrialStatus,
    V1beta1TrialTemplate,
    V1ObjectMeta,
)
from tunery.katib.types.types import TrainerResources

__all__ = [
    "BASE_IMAGE_PYTORCH",
    "BASE_IMAGE_TENSORFLOW",
    "BASE_IMAGE_TENSORFLOW_GPU",
    "KatibClient",
    "TrainerResources",
    "V1ObjectMeta",
    "V1beta1AlgorithmSetting",
    "V1beta1AlgorithmSpec",
    "V1beta1CollectorSpec",
    "V1beta1ConfigMapSource",
    "V1beta1EarlyStoppingRule",
    "V1beta1EarlyStoppingSetting",
    "V1beta1EarlyStoppingSpec",
    "V1beta1Experiment",
    "V1beta1ExperimentCondition",
    "V1beta1ExperimentList",
    "V1beta1ExperimentSpec",
    "V1beta1ExperimentStatus",
    "V1beta1FeasibleSpace",
    "V1beta1FileSystemPath",
    "V1beta1FilterSpec",
    "V1beta1GraphConfig",
    "V1beta1Metric",
    "V1beta1MetricStrategy",
    "V1beta1MetricsCollectorSpec",
    "V1beta1NasConfig",
    "V1beta1ObjectiveSpec",
    "V1beta1Observation",
    "V1beta1Operation",
    "V1beta1OptimalTrial",
    "V1beta1ParameterAssignment",
    "V1beta1ParameterSpec",
    "V1beta1SourceSpec",
    "V1beta1Suggestion",
    "V1beta1SuggestionCondition",
    "V1beta1SuggestionList",
    "V1beta1SuggestionSpec",
    "V1beta1SuggestionStatus",
    "V1beta1Trial",
    "V1beta1TrialAssignment",
    "V1beta1TrialCondition",
    "V1beta1TrialList",
    "V1beta1TrialParameterSpec",
    "V1beta1TrialSource",
    "V1beta1TrialSpec",
    "V1beta1TrialStatus",
    "V1beta1TrialTemplate",
    "models",
    "report_metrics",
    "search",
    "tune",
]


def tune(name: str, **kwargs: Any) -> None:
    """``KatibClient().tune(name, ...)`` (not in Katib's SDK, which has only the method):
    ``namespace=`` and every other argument of :meth:`KatibClient.tune`, plus ``db=``."""
    db = kwargs.pop("db", None)
    KatibClient(db=db).tune(name, **kwargs)
