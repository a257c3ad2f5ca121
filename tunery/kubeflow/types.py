"""The types of Kubeflow's optimizer API (``kubeflow.optimizer``, ``kubeflow.trainer``), locally.

Written against the Kubeflow SDK (kubeflow/sdk: ``kubeflow/optimizer/types/*.py`` at commits
2bd15408 and 192299c2, ``kubeflow/trainer/types/types.py`` at 02adc8ed, the Kubernetes backend
at 02adc8ed): the same class names, fields, defaults and order, as tunery's own dataclasses.
Kubernetes-only values (a runtime, initializers, a backend's namespace) are accepted and
ignored with a one-time warning by :class:`~tunery.kubeflow.client.OptimizerClient`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

from tunery.model import Distribution as _Dist
from tunery.model import FeasibleSpace, ParameterType
from tunery.search import SearchParameter

__all__ = [
    "Algorithm",
    "BaseAlgorithm",
    "CategoricalSearchSpace",
    "ChoiceParameter",
    "ContainerBackendConfig",
    "ContinuousSearchSpace",
    "CustomTrainer",
    "Direction",
    "Distribution",
    "GridSearch",
    "Initializer",
    "KubernetesBackendConfig",
    "Metric",
    "Objective",
    "OptimizationJob",
    "RandomSearch",
    "Result",
    "Runtime",
    "Search",
    "Step",
    "TrainJob",
    "TrainJobTemplate",
    "Trial",
    "TrialConfig",
]

#: ``kubeflow.common.constants.UNKNOWN``.
UNKNOWN = "Unknown"


# --------------------------------------------------------------------------- search space


class Distribution(Enum):
    UNIFORM = "uniform"
    LOG_UNIFORM = "logUniform"


@dataclass
class ContinuousSearchSpace:
    min: float | int
    max: float | int
    distribution: Distribution


@dataclass
class CategoricalSearchSpace:
    choices: list[Any]


@dataclass(frozen=True)
class ChoiceParameter(SearchParameter):
    """A categorical parameter that remembers whether its values were Python literals."""

    literal_values: bool = False
    values: tuple[Any, ...] = ()


def _is_literal(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, bool | int)


class Search:
    """``Search.uniform``, ``Search.loguniform`` and ``Search.choice``, as Kubeflow's."""

    @staticmethod
    def uniform(min: float, max: float) -> SearchParameter:
        """A float drawn uniformly between ``min`` and ``max``."""
        from tunery import search

        return search.double(min, max)

    @staticmethod
    def loguniform(min: float, max: float) -> SearchParameter:
        """A float drawn log-uniformly between ``min`` and ``max``."""
        from tunery import search

        return search.double(min, max, log=True)

    @staticmethod
    def choice(values: list[Any]) -> ChoiceParameter:
        """One of ``values``; the function gets it with its type when every value is a finite
        number or a boolean, else as a string."""
        if isinstance(values, str) or not values:
            raise ValueError("Search.choice needs a non-empty list of values")
        return ChoiceParameter(
            ParameterType.CATEGORICAL,
            FeasibleSpace(list=tuple(str(v) for v in values), distribution=_Dist.UNIFORM),
            literal_values=all(_is_literal(v) for v in values),
            values=tuple(values),
        )


# --------------------------------------------------------------------------- algorithms


class BaseAlgorithm:
    """An optimization algorithm: its Katib name and settings."""

    @property
    def algorithm_name(self) -> str:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The algorithm settings (fields that are set)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return {k: v for k, v in values.items() if v is not None}


@dataclass
class GridSearch(BaseAlgorithm):
    """Grid search."""

    @property
    def algorithm_name(self) -> str:
        return "grid"


@dataclass
class RandomSearch(BaseAlgorithm):
    """Random search; ``random_state`` seeds it."""

    random_state: int | None = None

    @property
    def algorithm_name(self) -> str:
        return "random"


@dataclass
class Algorithm(BaseAlgorithm):
    """Any of tunery's algorithms by its Katib name (``tpe``, ``bayesianoptimization``,
    ``cmaes``, ``sobol``, ``hyperband``, ``multivariate-tpe``, ``pbt``...) with its settings:
    ``Algorithm("tpe", {"n_startup_trials": 5})``.  A tunery extension."""

    name: str
    algorithm_settings: dict[str, Any] | None = None

    @property
    def algorithm_name(self) -> str:
        return self.name

    def settings(self) -> dict[str, Any]:
        return dict(self.algorithm_settings or {})


# --------------------------------------------------------------------------- job configuration


class Direction(Enum):
    """Direction for optimization objective."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


@dataclass
class Objective:
    """The metric to optimize (default ``loss``) and its direction (default minimize)."""

    metric: str = "loss"
    direction: Direction | str = Direction.MINIMIZE

    def __post_init__(self) -> None:
        if isinstance(self.direction, str):
            self.direction = Direction(self.direction.lower())


@dataclass
class TrialConfig:
    """How many trials run (default 10), at once (default 1), and may fail."""

    num_trials: int = 10
    parallel_trials: int = 1
    max_failed_trials: int | None = None


@dataclass
class Metric:
    name: str
    min: str
    max: str
    latest: str


@dataclass
class Result:
    """The best trial's parameters and metrics."""

    parameters: dict[str, str]
    metrics: list[Metric]


# --------------------------------------------------------------------------- trainer


@dataclass
class CustomTrainer:
    """A self-contained training function run once per trial, in its own process, called as
    ``func(**func_args)`` with the trial's values merged into ``func_args``."""

    func: Callable[..., Any]
    func_args: dict[str, Any] | None = None
    packages_to_install: list[str] | None = None
    pip_index_urls: list[str] = field(default_factory=lambda: ["https://pypi.org/simple"])
    num_nodes: int | None = None
    resources_per_node: dict[str, Any] | None = None
    env: dict[str, str] | None = None


@dataclass
class Initializer:
    """Dataset and model initializers (Kubernetes-only: ignored locally)."""

    dataset: Any = None
    model: Any = None


@dataclass
class RuntimeTrainer:
    trainer_type: str = "CustomTrainer"
    framework: str = "torch"
    image: str = UNKNOWN
    num_nodes: int = 1
    device: str = UNKNOWN
    device_count: str = UNKNOWN


@dataclass
class Runtime:
    name: str
    trainer: RuntimeTrainer = field(default_factory=RuntimeTrainer)
    pretrained_model: str | None = None


@dataclass
class TrainJobTemplate:
    """The trial: a trainer, plus Kubernetes-only runtime and initializer."""

    trainer: CustomTrainer
    runtime: Runtime | str | None = None
    initializer: Initializer | None = None

    def keys(self) -> list[str]:
        return ["trainer", "runtime", "initializer"]

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class Step:
    name: str
    status: str | None
    pod_name: str
    device: str = UNKNOWN
    device_count: str = UNKNOWN


@dataclass
class TrainJob:
    """A trial's run, as Kubeflow Trainer's TrainJob (one local process: step ``node-0``)."""

    name: str
    runtime: Runtime
    steps: list[Step]
    num_nodes: int
    creation_timestamp: datetime
    status: str = UNKNOWN


@dataclass
class Trial:
    """One trial: its name, parameters, metrics and TrainJob."""

    name: str
    parameters: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    trainjob: TrainJob | None = None


@dataclass
class OptimizationJob:
    """An optimization job (a tunery experiment)."""

    name: str
    search_space: dict[str, ContinuousSearchSpace | CategoricalSearchSpace]
    objectives: list[Objective]
    algorithm: BaseAlgorithm
    trial_config: TrialConfig
    trials: list[Trial]
    creation_timestamp: datetime
    status: str = UNKNOWN


# --------------------------------------------------------------------------- backends


@dataclass
class KubernetesBackendConfig:
    """Accepted for compatibility; there is no cluster locally (a one-time warning)."""

    namespace: str | None = None
    config_file: str | None = None
    context: str | None = None
    client_configuration: Any = None


@dataclass
class ContainerBackendConfig:
    """Accepted for compatibility; trials run as local processes, not containers."""

    container_runtime: str | None = None
    image: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
