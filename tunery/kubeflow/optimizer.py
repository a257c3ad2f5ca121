"""``from tunery.kubeflow import optimizer``: the names of ``kubeflow.optimizer``, locally.

``optimizer.OptimizerClient``, ``optimizer.TrainJobTemplate``, ``optimizer.Search``... as in
Kubeflow's SDK, plus tunery's ``Algorithm`` (any tunery algorithm by name).
"""

from __future__ import annotations

from tunery.collect.push import report_json as report_metrics
from tunery.kubeflow.client import (
    OPTIMIZATION_JOB_COMPLETE,
    OPTIMIZATION_JOB_CREATED,
    OPTIMIZATION_JOB_FAILED,
    OPTIMIZATION_JOB_RUNNING,
    OptimizerClient,
)
from tunery.kubeflow.types import (
    Algorithm,
    BaseAlgorithm,
    CategoricalSearchSpace,
    ContainerBackendConfig,
    ContinuousSearchSpace,
    CustomTrainer,
    Direction,
    GridSearch,
    Initializer,
    KubernetesBackendConfig,
    Metric,
    Objective,
    OptimizationJob,
    RandomSearch,
    Result,
    Search,
    TrainJobTemplate,
    Trial,
    TrialConfig,
)

__all__ = [
    "OPTIMIZATION_JOB_COMPLETE",
    "OPTIMIZATION_JOB_CREATED",
    "OPTIMIZATION_JOB_FAILED",
    "OPTIMIZATION_JOB_RUNNING",
    "Algorithm",
    "BaseAlgorithm",
    "CategoricalSearchSpace",
    "ContainerBackendConfig",
    "ContinuousSearchSpace",
    "CustomTrainer",
    "Direction",
    "GridSearch",
    "Initializer",
    "KubernetesBackendConfig",
    "Metric",
    "Objective",
    "OptimizationJob",
    "OptimizerClient",
    "RandomSearch",
    "Result",
    "Search",
    "TrainJobTemplate",
    "Trial",
    "TrialConfig",
    "report_metrics",
]
