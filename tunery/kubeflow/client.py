"""``OptimizerClient``: Kubeflow's optimizer API (``kubeflow.optimizer``) on tunery, locally.

Written against the Kubeflow SDK's ``kubeflow/optimizer/api/optimizer_client.py`` (kubeflow/sdk
commit 0097ef68) and its Kubernetes backend (02adc8ed): the same methods, argument names,
defaults and return types.  A job is a tunery experiment read from an ``OptimizationJob``
document (``tunery list``, ``tunery get NAME -o yaml``, the UI), stored in tunery's database; its
trials run the trainer's function in their own processes, from a controller thread of this
Python process (so the process must live until the job ends: ``wait_for_job_status``).
"""

from __future__ import annotations

import os
import random
import string
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunery.errors import UserInputError
from tunery.kubeflow.types import (
    Algorithm,
    BaseAlgorithm,
    CategoricalSearchSpace,
    ContainerBackendConfig,
    ContinuousSearchSpace,
    CustomTrainer,
    Direction,
    Distribution,
    GridSearch,
    KubernetesBackendConfig,
    Metric,
    Objective,
    OptimizationJob,
    RandomSearch,
    Result,
    Runtime,
    Step,
    TrainJob,
    TrainJobTemplate,
    Trial,
    TrialConfig,
)
from tunery.model import Experiment, ExperimentCondition, ParameterType, TrialCondition
from tunery.model import Objective as TuneryObjective
from tunery.model import Trial as TuneryTrial

__all__ = [
    "OPTIMIZATION_JOB_COMPLETE",
    "OPTIMIZATION_JOB_CREATED",
    "OPTIMIZATION_JOB_FAILED",
    "OPTIMIZATION_JOB_RUNNING",
    "OptimizerClient",
]

OPTIMIZATION_JOB_CREATED = "Created"
OPTIMIZATION_JOB_RUNNING = "Running"
OPTIMIZATION_JOB_COMPLETE = "Complete"
OPTIMIZATION_JOB_FAILED = "Failed"
_JOB_STATUSES = {
    OPTIMIZATION_JOB_CREATED,
    OPTIMIZATION_JOB_RUNNING,
    OPTIMIZATION_JOB_COMPLETE,
    OPTIMIZATION_JOB_FAILED,
}
#: Resource aliases of ``resources_per_node`` (as Kubeflow's SDK).
_RESOURCE_ALIASES = {"gpu": "nvidia.com/gpu", "storage": "ephemeral-storage"}
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


def _job_name() -> str:
    """A name as Kubeflow's: a lower-case letter and 11 hex digits."""
    return random.choice(string.ascii_lowercase) + uuid.uuid4().hex[:11]


def _resources(resources: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in resources.items():
        low = str(key).lower()
        name = _RESOURCE_ALIASES.get(low, low if low in ("cpu", "memory") else str(key))
        out[name] = str(value)
    return out


class OptimizerClient:
    """Kubeflow's ``OptimizerClient``, running every job on this machine.

    ``backend_config``: a ``KubernetesBackendConfig`` (its ``namespace`` is the namespace of the
    jobs created and listed; the other fields mean nothing locally and warn once) or a
    ``ContainerBackendConfig`` (trials run as processes, not containers; warns once).
    tunery's own keywords: ``storage`` (database URL or SQLite path; default ``$TUNERY_DB`` or
    ``./tunery.db``), ``runs_dir`` (trial directories; default ``./tunery-runs``).
    """

    def __init__(
        self,
        backend_config: KubernetesBackendConfig | ContainerBackendConfig | None = None,
        *,
        storage: str | None = None,
        runs_dir: str | None = None,
    ) -> None:
        from tunery.client import Client

        self.namespace = "default"
        if isinstance(backend_config, ContainerBackendConfig):
            _warn_once("container", "ContainerBackendConfig: tunery runs trials as local processes")
        elif isinstance(backend_config, KubernetesBackendConfig):
            self.namespace = backend_config.namespace or "default"
            used = [
                f
                for f in ("config_file", "context", "client_configuration")
                if getattr(backend_config, f) is not None
            ]
            if used:
                _warn_once(
                    "kubernetes",
                    f"KubernetesBackendConfig {', '.join(used)}: Kubernetes-only, ignored "
                    "(tunery runs trials locally)",
                )
        elif backend_config is not None:
            raise ValueError(f"Invalid backend config '{backend_config}'")
        self.client = Client(storage)
        self.runs_dir = os.path.abspath(runs_dir or "tunery-runs")
        self._handles: dict[str, Any] = {}

    # ------------------------------------------------------------------ creating

    def optimize(
        self,
        trial_template: TrainJobTemplate,
        *,
        trial_config: TrialConfig | None = None,
        search_space: dict[str, Any],
        objectives: list[Objective] | None = None,
        algorithm: BaseAlgorithm | None = None,
        max_duration: str | float | None = None,
        duration_policy: str | None = None,
        warm_start: Any = None,
    ) -> str:
        """Create an optimization job and start its trials; returns the job's name.

        tunery's extensions: ``max_duration`` (``"2h"``, ``"90m"``, seconds) and
        ``duration_policy`` (``"KillRunning"``, the default, or ``"LetFinish"``) set the job's
        time budget (``spec.maxExperimentDuration``); ``warm_start`` seeds the algorithm with
        known results before the first trial, as ``tunery.tune(warm_start=...)`` does (a job's
        or experiment's name in this storage, or ``(params, value)`` pairs of the first
        objective).  A bad one raises ValueError."""
        from tunery.kubeflow.template import job_document
        from tunery.spec import parse_document

        if not search_space:
            raise ValueError("Search space must be set.")
        objectives = objectives or [Objective()]
        algorithm = algorithm or RandomSearch()
        trial_config = trial_config or TrialConfig()
        trainer = trial_template.trainer
        if not isinstance(trainer, CustomTrainer) or not callable(trainer.func):
            raise ValueError("trial_template.trainer must be a CustomTrainer with a function")
        if trial_template.runtime is not None:
            _warn_once("runtime", "TrainJobTemplate.runtime: Kubernetes-only, ignored locally")
        if trial_template.initializer is not None:
            _warn_once(
                "initializer", "TrainJobTemplate.initializer: Kubernetes-only, ignored locally"
            )
        if trainer.packages_to_install:
            _warn_once(
                "packages",
                "CustomTrainer.packages_to_install: not installed locally; the function runs "
                "with this Python's packages",
            )
        if trainer.num_nodes is not None and trainer.num_nodes > 1:
            _warn_once(
                "nodes", f"CustomTrainer.num_nodes={trainer.num_nodes}: runs as one local process"
            )
        name = _job_name()
        script = Path(self.runs_dir, name, "objective.py")
        doc, code = job_document(
            name,
            self.namespace,
            trainer,
            search_space,
            trial_config,
            objectives,
            algorithm,
            script=str(script),
            resources=_resources(trainer.resources_per_node or {}),
        )
        from tunery.tuner import _seed, _time_budget, _warm_seeds

        try:
            doc["spec"].update(_time_budget(max_duration, duration_policy))
            spec = parse_document(doc)
            seeds = _warm_seeds(self.client, spec, warm_start)
        except UserInputError as exc:
            raise ValueError(exc.one_line()) from None
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(code)
        made = self.client.create_experiment(spec, base_dir=os.getcwd(), runs_dir=self.runs_dir)
        if seeds is not None:
            _seed(self.client, made.key, *seeds)
        from tunery.handle import ExperimentHandle

        handle = ExperimentHandle(self.client, name, namespace=self.namespace)
        handle.start()
        self._handles[name] = handle
        return name

    # ------------------------------------------------------------------ reading

    def _experiment(self, name: str) -> Experiment:
        from tunery.errors import NotFoundError

        try:
            exp = self.client.get_experiment(name, self.namespace)
        except NotFoundError as exc:
            raise RuntimeError(f"Failed to get OptimizationJob: {self.namespace}/{name}") from exc
        return exp

    def list_jobs(self) -> list[OptimizationJob]:
        """Every job (experiment) of this client's namespace."""
        return [self._job(exp) for exp in self.client.list_experiments(self.namespace)]

    def get_job(self, name: str) -> OptimizationJob:
        """The job ``name``; RuntimeError when there is none."""
        return self._job(self._experiment(name))

    def get_job_logs(
        self,
        name: str,
        trial_name: str | None = None,
        follow: bool = False,
    ) -> Iterator[str]:
        """The output lines of ``trial_name`` (default: the best trial, else the first one);
        with ``follow``, lines are yielded as the trial prints them until it ends."""
        exp = self._experiment(name)
        trials = self.client.store.list_trials(exp.key)
        if trial_name is None:
            from tunery.model import best_trial

            best = best_trial(exp.spec.objective, trials)
            if best is None and not trials:
                return
            trial_name = (best or trials[0]).name
        trial = next((t for t in trials if t.name == trial_name), None)
        if trial is None:
            raise RuntimeError(f"Failed to get Trial: {self.namespace}/{trial_name}")
        yield from _read_log(self.client, exp, trial, follow)

    def get_best_results(self, name: str) -> Result | list[Result] | None:
        """The best trial's parameters and metrics, or None while there is none.

        With several objectives (tunery's extension: Kubeflow keeps one best trial), the Pareto
        front instead: a list of ``Result``, one per feasible trial that no other dominates,
        best first on the first objective; an empty list while there is none.
        """
        from tunery.model import best_trial

        exp = self._experiment(name)
        trials = self.client.store.list_trials(exp.key)
        if exp.spec.objective.is_multi:
            return [_result(exp, t) for t in _front(exp, trials)]
        best = best_trial(exp.spec.objective, trials)
        if best is None:
            return None
        return _result(exp, best)

    def wait_for_job_status(
        self,
        name: str,
        status: set[str] = {OPTIMIZATION_JOB_COMPLETE},  # noqa: B006 - Kubeflow's signature
        timeout: int = 3600,
        polling_interval: int = 2,
    ) -> OptimizationJob:
        """Wait until the job reaches one of ``status``; RuntimeError when it fails instead,
        TimeoutError after ``timeout`` seconds."""
        if not set(status).issubset(_JOB_STATUSES):
            raise ValueError(f"Expected status {status} must be a subset of {_JOB_STATUSES}")
        if polling_interval > timeout:
            raise ValueError(
                f"Polling interval {polling_interval} must be less than timeout: {timeout}"
            )
        deadline = time.monotonic() + timeout
        while True:
            handle = self._handles.get(name)
            if handle is not None:
                handle.wait(0)  # re-raises a controller thread's error
            job = self.get_job(name)
            if OPTIMIZATION_JOB_FAILED not in status and job.status == OPTIMIZATION_JOB_FAILED:
                raise RuntimeError(f"OptimizationJob {name} is Failed")
            if job.status in status:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Timeout waiting for OptimizationJob {name} to reach status: {status}"
                )
            time.sleep(min(polling_interval, max(0.0, deadline - time.monotonic())))

    def delete_job(self, name: str) -> None:
        """Stop the job's trials (when it runs here) and delete it with its trials."""
        exp = self._experiment(name)
        handle = self._handles.pop(name, None)
        if handle is not None and not exp.status.is_completed:
            handle.stop()
        if handle is not None:
            handle.wait(60)
        self.client.delete_experiment(name, self.namespace)

    # ------------------------------------------------------------------ conversions

    def _job(self, exp: Experiment) -> OptimizationJob:
        spec = exp.spec
        trials = self.client.store.list_trials(exp.key)
        objectives = _objectives(spec.objective)
        settings = {s.name: s.value for s in spec.algorithm.algorithm_settings}
        algorithm: BaseAlgorithm
        if spec.algorithm.algorithm_name == "random":
            seed = settings.get("random_state")
            algorithm = RandomSearch(int(seed) if seed is not None else None)
        elif spec.algorithm.algorithm_name == "grid" and not settings:
            algorithm = GridSearch()
        else:
            algorithm = Algorithm(spec.algorithm.algorithm_name, settings or None)
        space: dict[str, ContinuousSearchSpace | CategoricalSearchSpace] = {}
        for p in spec.parameters:
            fs = p.feasible_space
            if p.parameter_type in (ParameterType.CATEGORICAL, ParameterType.DISCRETE):
                space[p.name] = CategoricalSearchSpace(choices=list(fs.list))
            else:
                number = int if p.parameter_type == ParameterType.INT else float
                log = fs.distribution is not None and fs.distribution.value == "logUniform"
                space[p.name] = ContinuousSearchSpace(
                    min=number(fs.min or 0),
                    max=number(fs.max or 0),
                    distribution=Distribution.LOG_UNIFORM if log else Distribution.UNIFORM,
                )
        if exp.status == ExperimentCondition.SUCCEEDED:
            status = OPTIMIZATION_JOB_COMPLETE
        elif exp.status == ExperimentCondition.FAILED:
            status = OPTIMIZATION_JOB_FAILED
        elif exp.status in (ExperimentCondition.RUNNING, ExperimentCondition.RESTARTING):
            status = OPTIMIZATION_JOB_RUNNING
        else:
            status = OPTIMIZATION_JOB_CREATED
        return OptimizationJob(
            name=exp.name,
            search_space=space,
            objectives=objectives,
            algorithm=algorithm,
            trial_config=TrialConfig(
                num_trials=spec.max_trial_count or 0,
                parallel_trials=spec.parallel_trial_count,
                max_failed_trials=spec.max_failed_trial_count,
            ),
            trials=[_trial(exp, t) for t in trials],
            creation_timestamp=_datetime(exp.created_time),
            status=status,
        )


def _objectives(objective: TuneryObjective) -> list[Objective]:
    """A job's objectives: each objective with its direction, then the other metrics collected
    (not the constraints'), with the first objective's direction, as Kubeflow's Katib backend
    reads ``additionalMetricNames``."""
    out = [Objective(t.metric, Direction(t.type.value)) for t in objective.terms]
    taken = {t.metric for t in objective.terms} | {c.metric for c in objective.constraints}
    direction = Direction(objective.type.value)
    out += [Objective(m, direction) for m in objective.additional_metric_names if m not in taken]
    return out


def _front(exp: Experiment, trials: list[TuneryTrial]) -> list[TuneryTrial]:
    """The Pareto front of a job's trials, best first on the first objective."""
    from tunery.objectives import objective_losses, pareto_front

    objective = exp.spec.objective
    front = pareto_front(objective, trials)
    return sorted(front, key=lambda t: (objective_losses(objective, t) or (0.0,))[0])


def _result(exp: Experiment, trial: TuneryTrial) -> Result:
    shown = _trial(exp, trial)
    return Result(parameters=shown.parameters, metrics=shown.metrics)


def _datetime(ts: float | None) -> datetime:
    return datetime.fromtimestamp(ts or 0.0, tz=UTC)


def _trainjob_status(trial: TuneryTrial) -> tuple[str, str]:
    """(TrainJob status, its node's pod phase) of a trial."""
    if trial.status == TrialCondition.CREATED:
        return "Created", "Pending"
    if trial.status == TrialCondition.RUNNING:
        return "Running", "Running"
    if trial.status in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED):
        return "Complete", "Succeeded"
    return "Failed", "Failed"


def _trial(exp: Experiment, trial: TuneryTrial) -> Trial:
    from tunery.spec import format_value

    status, phase = _trainjob_status(trial)
    nodes = 1
    text = "unavailable"
    metrics = [
        Metric(
            name=name,
            min=format_value(m.min) if m.min is not None else text,
            max=format_value(m.max) if m.max is not None else text,
            latest=format_value(m.latest) if m.latest is not None else text,
        )
        for name, m in trial.metrics.items()
    ]
    trainjob = TrainJob(
        name=trial.name,
        runtime=Runtime(name="local"),
        steps=[Step(name="node-0", status=phase, pod_name=trial.name)],
        num_nodes=nodes,
        creation_timestamp=_datetime(trial.created_time),
        status=status,
    )
    return Trial(
        name=trial.name,
        parameters={k: format_value(v) for k, v in trial.parameters.items()},
        metrics=metrics,
        trainjob=trainjob,
    )


def _log_path(exp: Experiment, trial: TuneryTrial) -> str | None:
    handle = trial.handle or {}
    if handle.get("trial_dir"):
        return os.path.join(str(handle["trial_dir"]), "output.log")
    if exp.runs_dir:
        return os.path.join(exp.runs_dir, exp.key, trial.name, "output.log")
    return None


def _read_log(client: Any, exp: Experiment, trial: TuneryTrial, follow: bool) -> Iterator[str]:
    offset = 0
    pending = b""
    while True:
        current = client.store.get_trial(exp.key, trial.name) if follow else trial
        path = _log_path(exp, current)
        ended = not follow or not current.status.is_active
        if path is not None and os.path.exists(path):
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
            offset += len(data)
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", errors="replace")
        if ended:
            if pending:
                yield pending.decode("utf-8", errors="replace")
            return
        time.sleep(0.2)
