"""``KatibClient``: Katib's Python SDK client, locally.

Every public method of Katib's ``kubeflow.katib.KatibClient`` with the same arguments and
defaults, on a tunery database instead of a Kubernetes cluster.  An experiment created here is
run by a controller in a background thread of this process (as Katib's controller would run it
on the cluster): the call returns at once and ``wait_for_experiment_condition`` waits.  Return
values are Katib's models (:mod:`tunery.katib.models`), built from what tunery stores
(:mod:`tunery.katib.convert`).
"""

from __future__ import annotations

import logging
import os
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tunery.client import Client
from tunery.errors import AlreadyExistsError, NotFoundError, UserInputError
from tunery.handle import ExperimentHandle
from tunery.katib import convert
from tunery.katib import models as m
from tunery.katib.constants import constants
from tunery.katib.tuning import (
    KatibValueError,
    kubernetes_only,
    time_budget_annotations,
    tune_document,
    warm_seeds,
)
from tunery.model import Experiment, Trial

__all__ = ["KatibClient", "KatibNotFoundError"]

logger = logging.getLogger(__name__)


class KatibNotFoundError(NotFoundError, RuntimeError):
    """No such experiment, trial or suggestion (Katib raises RuntimeError)."""


class KatibAlreadyExistsError(AlreadyExistsError, RuntimeError):
    """An experiment of that name already exists in the namespace."""


def print_experiment_status(experiment: m.V1beta1Experiment) -> None:
    """What Katib prints while it waits (``utils.print_experiment_status``)."""
    status = experiment.status
    if status:
        print(
            f"Experiment Trials status: {status.trials or 0} Trials, "
            f"{status.trials_pending or 0} Pending Trials, "
            f"{status.trials_running or 0} Running Trials, "
            f"{status.trials_succeeded or 0} Succeeded Trials, "
            f"{status.trials_failed or 0} Failed Trials, "
            f"{status.trials_early_stopped or 0} EarlyStopped Trials, "
            f"{status.trial_metrics_unavailable or 0} MetricsUnavailable Trials"
        )
        print(f"Current Optimal Trial:\n {status.current_optimal_trial}")
        print(f"Experiment conditions:\n {status.conditions}")


def _has_condition(conditions: list[Any], condition_type: str) -> bool:
    return any(
        c.type == condition_type and c.status == constants.CONDITION_STATUS_TRUE for c in conditions
    )


class KatibClient:
    """Katib's ``KatibClient`` on a local tunery database.

    ``config_file``, ``context`` and ``client_configuration`` configure a Kubernetes client in
    Katib: accepted and ignored here (with a one-time warning).  ``namespace`` is the default
    namespace of every method (Katib's default: ``default``).  ``db``: the database (URL or
    SQLite path; default ``$TUNERY_DB`` or ``./tunery.db``); ``runs_dir``: where trials'
    directories go (default ``./tunery-runs``).
    """

    def __init__(
        self,
        config_file: str | None = None,
        context: str | None = None,
        client_configuration: Any = None,
        namespace: str = "default",
        *,
        db: str | None = None,
        runs_dir: str | None = None,
    ) -> None:
        for value, what in (
            (config_file, "KatibClient(config_file=...)"),
            (context, "KatibClient(context=...)"),
            (client_configuration, "KatibClient(client_configuration=...)"),
        ):
            if value is not None:
                kubernetes_only(what)
        self.in_cluster = False
        self.namespace = namespace
        self.client = Client(db)
        self.runs_dir = os.path.abspath(runs_dir or "tunery-runs")
        self._handles: dict[str, ExperimentHandle] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lookups

    def _find(self, name: str, namespace: str | None) -> Experiment:
        ns = namespace or self.namespace
        exp = self.client.find_experiment(name, ns)
        if exp is None:
            raise KatibNotFoundError(
                f"Failed to get Katib Experiment: {ns}/{name}",
                "KatibClient.list_experiments(namespace=...) lists the experiments of a namespace",
            )
        return exp

    def _experiments(self, namespace: str | None) -> list[Experiment]:
        ns = namespace or self.namespace
        return self.client.list_experiments(ns)

    def _model(self, exp: Experiment) -> m.V1beta1Experiment:
        trials = self.client.store.list_trials(exp.key)
        return convert.experiment_model(exp, trials, self.client.clock.now())

    def _start(self, key: str) -> None:
        """Run the experiment in a background controller (Katib's controller, locally)."""
        with self._lock:
            old = self._handles.get(key)
            if old is not None and old._thread is not None and old._thread.is_alive():
                return
            handle = ExperimentHandle(self.client, key)
            handle.start()
            self._handles[key] = handle

    def _drive_if_orphaned(self, exp: Experiment) -> None:
        """Katib's controller drives every experiment until it completes; locally, when no
        controller does (the process that ran it ended: a restarted notebook kernel), this
        client's background controller takes it over."""
        if exp.status.is_completed or exp.runs_dir is None:  # done, or ask/tell
            return
        handle = self._handles.get(exp.key)
        if handle is not None and handle._thread is not None and handle._thread.is_alive():
            return
        if self._driven(exp.key):
            return
        logger.info("Experiment %s has no controller: running it in the background", exp.key)
        self._start(exp.key)

    def _raise_controller_error(self, key: str) -> None:
        """Re-raise what stopped this client's controller of ``key``, if anything did."""
        handle = self._handles.get(key)
        if handle is None or handle._thread is None or handle._thread.is_alive():
            return
        error = handle._error
        if error is not None:
            handle._error = None
            raise RuntimeError(f"the controller of experiment {key} stopped: {error}") from error

    # ------------------------------------------------------------------ creating

    def create_experiment(self, experiment: Any, namespace: str | None = None) -> None:
        """Create the experiment (a ``V1beta1Experiment``, a dict, anything with
        ``to_dict()``, or a YAML file's path) and start it in the background.

        Its namespace: ``namespace``, else its ``metadata.namespace``, else the client's.
        """
        self._start(self._create(experiment, namespace).key)

    def _create(self, experiment: Any, namespace: str | None) -> Experiment:
        """:meth:`create_experiment` without the start."""
        from tunery.spec import load_file

        if isinstance(experiment, str | os.PathLike):
            parsed = load_file(experiment)
            if len(parsed) != 1:
                raise KatibValueError(f"{experiment} holds {len(parsed)} experiments")
            spec = parsed[0].spec
            # The file's namespace unless it is the default one (a YAML without a namespace
            # reads as "default"): then the client's.
            ns = namespace or (spec.namespace if spec.namespace != "default" else self.namespace)
            doc: Any = experiment  # the client reads it again: base directory, ConfigMaps
            exp_name = spec.name
        else:
            doc = dict(m.document(experiment))
            meta = dict(doc.get("metadata") or {})
            exp_name = str(meta.get("name") or "")
            if not exp_name and meta.get("generateName"):
                suffix = "".join(
                    secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5)
                )
                exp_name = f"{meta['generateName']}{suffix}"
            if not exp_name:
                raise KatibValueError("Experiment must have a name or generateName")
            ns = namespace or meta.get("namespace") or self.namespace
            meta.pop("generateName", None)
            meta.update({"name": exp_name, "namespace": ns})
            doc["metadata"] = meta
            doc.setdefault("apiVersion", constants.API_VERSION)
            doc.setdefault("kind", constants.EXPERIMENT_KIND)
        try:
            created = self.client.create_experiment(doc, namespace=ns, runs_dir=self.runs_dir)
        except AlreadyExistsError:
            raise KatibAlreadyExistsError(
                f"A Katib Experiment with the name {ns}/{exp_name} already exists.",
                "delete it with KatibClient.delete_experiment(name) or choose another name",
            ) from None
        logger.debug("Experiment %s/%s has been created", ns, exp_name)
        return created

    def tune(
        self,
        name: str,
        model_provider_parameters: Any = None,
        dataset_provider_parameters: Any = None,
        trainer_parameters: Any = None,
        storage_config: dict[str, Any] | None = {  # noqa: B006 - Katib's default
            "size": constants.PVC_DEFAULT_SIZE,
            "storage_class": None,
            "access_modes": constants.PVC_DEFAULT_ACCESS_MODES,
        },
        objective: Callable[..., Any] | None = None,
        base_image: str = constants.BASE_IMAGE_PYTORCH,
        parameters: dict[str, Any] | None = None,
        namespace: str | None = None,
        env_per_trial: Any = None,
        algorithm_name: str = "random",
        algorithm_settings: Any = None,
        objective_metric_name: str | list[str] | None = None,
        additional_metric_names: list[str] = [],  # noqa: B006 - Katib's default
        objective_type: str | list[str] = "maximize",
        objective_goal: float | list[float | None] | None = None,
        max_trial_count: int | None = None,
        parallel_trial_count: int | None = None,
        max_failed_trial_count: int | None = None,
        resources_per_trial: Any = None,
        retain_trials: bool = False,
        packages_to_install: list[str] | None = None,
        pip_index_urls: list[str] | None = ["https://pypi.org/simple"],  # noqa: B006
        metrics_collector_config: dict[str, Any] = {"kind": "StdOut"},  # noqa: B006
        trial_active_deadline_seconds: int | None = None,
        *,
        max_duration: str | float | None = None,
        duration_policy: str | None = None,
        warm_start: Any = None,
    ) -> None:
        """Tune ``objective`` over ``parameters`` (Katib's ``tune``): creates the experiment
        and starts it in the background.  The function runs in its own process per trial and
        receives one dict: searched values as strings, as Katib passes them.

        tunery's extensions (keyword-only): ``max_duration`` (``"2h"``, ``"90m"``, seconds) and
        ``duration_policy`` (``"KillRunning"``, the default, or ``"LetFinish"``) set the time
        budget, written as the experiment's ``tunery.dev/max-experiment-duration`` and
        ``tunery.dev/experiment-duration-policy`` annotations; ``warm_start`` seeds the
        algorithm with known results before the first trial, as ``tunery.tune(warm_start=...)``
        does (an experiment's name in this storage, or ``(params, value)`` pairs).

        Several objectives (tunery's extension): lists, by position, in
        ``objective_metric_name``, ``objective_type`` (one direction each) and optionally
        ``objective_goal`` (one goal or None each), e.g. ``objective_metric_name=["accuracy",
        "latency"], objective_type=["maximize", "minimize"]``; the function prints every one."""
        llm = (model_provider_parameters, dataset_provider_parameters, trainer_parameters)
        if (any(p is not None for p in llm) and (objective or parameters)) or (
            all(p is None for p in llm) and objective is None and parameters is None
        ):
            raise KatibValueError(
                "Invalid configuration for creating a Katib Experiment for hyperparameter "
                "optimization: specify `objective` and `parameters` (a custom objective "
                "function), or the model, dataset and trainer parameters"
            )
        if any(p is not None for p in llm):
            raise KatibValueError(
                "tune(model_provider_parameters=, dataset_provider_parameters=, "
                "trainer_parameters=) needs Kubeflow's storage initializer and trainer images",
                "locally, write an objective function that loads the model and dataset and pass "
                "objective= and parameters=",
            )
        if not objective or not parameters:
            missing = "objective" if not objective else "parameters"
            raise KatibValueError(
                f"One of the required parameters is None: {missing}",
                "tune() needs objective= (a function of one dict) and parameters= (a dict of "
                "katib.search values and fixed values)",
            )
        if not name:
            raise KatibValueError("Please specify name for the Experiment.")
        if base_image != constants.BASE_IMAGE_PYTORCH:
            kubernetes_only("tune(base_image=...)")
        if storage_config != {
            "size": constants.PVC_DEFAULT_SIZE,
            "storage_class": None,
            "access_modes": constants.PVC_DEFAULT_ACCESS_MODES,
        }:
            kubernetes_only("tune(storage_config=...)")
        if not isinstance(metrics_collector_config, Mapping) or not metrics_collector_config.get(
            "kind"
        ):
            raise KatibValueError(
                f"metrics_collector_config: expected a dict with a kind, not "
                f"{metrics_collector_config!r}",
                'e.g. {"kind": "StdOut"} or {"kind": "Push"}',
            )
        ns = namespace or self.namespace
        if self.client.find_experiment(name, ns) is not None:
            raise KatibAlreadyExistsError(
                f"A Katib Experiment with the name {ns}/{name} already exists.",
                "delete it with KatibClient.delete_experiment(name) or choose another name",
            )
        doc = tune_document(
            name=name,
            namespace=ns,
            objective=objective,
            parameters=parameters,
            runs_dir=self.runs_dir,
            base_image=base_image,
            env_per_trial=env_per_trial,
            algorithm_name=algorithm_name,
            algorithm_settings=algorithm_settings,
            objective_metric_name=objective_metric_name,
            additional_metric_names=additional_metric_names,
            objective_type=objective_type,
            objective_goal=objective_goal,
            max_trial_count=max_trial_count,
            parallel_trial_count=parallel_trial_count,
            max_failed_trial_count=max_failed_trial_count,
            resources_per_trial=resources_per_trial,
            retain_trials=retain_trials,
            packages_to_install=packages_to_install,
            pip_index_urls=pip_index_urls,
            metrics_collector_config=metrics_collector_config,
            trial_active_deadline_seconds=trial_active_deadline_seconds,
        )
        doc["metadata"]["annotations"] = time_budget_annotations(max_duration, duration_policy)
        if not doc["metadata"]["annotations"]:
            del doc["metadata"]["annotations"]
        seeds = warm_seeds(self.client, doc, warm_start)
        created = self._create(doc, ns)
        if seeds is not None:
            from tunery.tuner import _seed

            _seed(self.client, created.key, *seeds)
        self._start(created.key)

    # ------------------------------------------------------------------ experiments

    def get_experiment(
        self,
        name: str,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> m.V1beta1Experiment:
        """The experiment as Katib's ``V1beta1Experiment`` (RuntimeError when missing)."""
        return self._model(self._find(name, namespace))

    def list_experiments(
        self,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> list[m.V1beta1Experiment]:
        """The experiments of the namespace ([] when there is none)."""
        return [self._model(e) for e in self._experiments(namespace)]

    def get_experiment_conditions(
        self,
        name: str,
        namespace: str | None = None,
        experiment: m.V1beta1Experiment | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> list[m.V1beta1ExperimentCondition]:
        """The experiment's conditions (of ``experiment`` when given)."""
        if experiment is None:
            experiment = self.get_experiment(name, namespace, timeout)
        if experiment.status and experiment.status.conditions:
            return list(experiment.status.conditions)
        return []

    def _is(
        self,
        condition: str,
        name: str,
        namespace: str | None,
        experiment: m.V1beta1Experiment | None,
        timeout: int,
    ) -> bool:
        return _has_condition(
            self.get_experiment_conditions(name, namespace, experiment, timeout), condition
        )

    def is_experiment_created(
        self,
        name: str,
        namespace: str | None = None,
        experiment: m.V1beta1Experiment | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> bool:
        return self._is(
            constants.EXPERIMENT_CONDITION_CREATED, name, namespace, experiment, timeout
        )

    def is_experiment_running(
        self,
        name: str,
        namespace: str | None = None,
        experiment: m.V1beta1Experiment | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> bool:
        return self._is(
            constants.EXPERIMENT_CONDITION_RUNNING, name, namespace, experiment, timeout
        )

    def is_experiment_restarting(
        self,
        name: str,
        namespace: str | None = None,
        experiment: m.V1beta1Experiment | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> bool:
        return self._is(
            constants.EXPERIMENT_CONDITION_RESTARTING, name, namespace, experiment, timeout
        )

    def is_experiment_succeeded(
        self,
        name: str,
        namespace: str | None = None,
        experiment: m.V1beta1Experiment | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> bool:
        return self._is(
            constants.EXPERIMENT_CONDITION_SUCCEEDED, name, namespace, experiment, timeout
        )

    def is_experiment_failed(
        self,
        name: str,
        namespace: str | None = None,
        experiment: m.V1beta1Experiment | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> bool:
        return self._is(constants.EXPERIMENT_CONDITION_FAILED, name, namespace, experiment, timeout)

    def wait_for_experiment_condition(
        self,
        name: str,
        namespace: str | None = None,
        expected_condition: str = constants.EXPERIMENT_CONDITION_SUCCEEDED,
        timeout: int = 600,
        polling_interval: int = 15,
        apiserver_timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> m.V1beta1Experiment:
        """Wait until the experiment reaches ``expected_condition`` and return it.

        RuntimeError when it fails (unless Failed is expected); TimeoutError after
        ``timeout`` seconds.  Prints the trials' status at each poll, as Katib does.  Locally
        the wait between polls ends early when the experiment's condition changes, and an
        unfinished experiment that no controller runs (its process ended) is run by this
        client in the background, as Katib's controller would go on with it.
        """
        ns = namespace or self.namespace
        if polling_interval <= 0:
            raise KatibValueError(f"polling_interval must be positive, not {polling_interval}")
        deadline = time.monotonic() + timeout
        key = self._find(name, ns).key
        self._drive_if_orphaned(self._find(name, ns))
        while True:
            self._raise_controller_error(key)
            experiment = self.get_experiment(name, ns, apiserver_timeout)
            failed = self.is_experiment_failed(name, ns, experiment)
            if expected_condition == constants.EXPERIMENT_CONDITION_FAILED and failed:
                print_experiment_status(experiment)
                return experiment
            if failed:
                raise RuntimeError(
                    f"Experiment: {ns}/{name} is Failed. "
                    f"Experiment conditions: {experiment.status.conditions}"  # type: ignore[union-attr]
                )
            if expected_condition != constants.EXPERIMENT_CONDITION_FAILED and self._is(
                expected_condition, name, ns, experiment, apiserver_timeout
            ):
                print_experiment_status(experiment)
                return experiment
            print_experiment_status(experiment)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._pause(key, min(polling_interval, left))
        raise TimeoutError(
            f"Timeout waiting for Experiment: {ns}/{name} to reach {expected_condition} state"
        )

    def _pause(self, key: str, seconds: float) -> None:
        """Sleep ``seconds``, or less: until the stored condition changes (looked at twice a
        second, a cheap read) or this client's controller of the experiment ends."""
        handle = self._handles.get(key)
        thread = handle._thread if handle is not None else None
        before = self.client.get_experiment(key).status
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if thread is not None and thread.is_alive():
                thread.join(min(left, 0.5))
            else:
                time.sleep(min(left, 0.5))
            if self.client.get_experiment(key).status != before:
                return

    def edit_experiment_budget(
        self,
        name: str,
        namespace: str | None = None,
        max_trial_count: int | None = None,
        parallel_trial_count: int | None = None,
        max_failed_trial_count: int | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> None:
        """Change the experiment's trial budget, live: a running controller picks it up; a
        completed experiment is extended (Restarting) and run again in the background."""
        if (
            max_trial_count is None
            and parallel_trial_count is None
            and (max_failed_trial_count is None)
        ):
            raise KatibValueError(
                "Invalid input arguments. You have to set max_trial_count, "
                "parallel_trial_count, or max_failed_trial_count to modify Experiment Trial "
                "budget."
            )
        key = self._find(name, namespace).key
        self.client.edit_experiment_budget(
            key,
            max_trial_count=max_trial_count,
            parallel_trial_count=parallel_trial_count,
            max_failed_trial_count=max_failed_trial_count,
        )
        if (
            self.client.get_experiment(key).status.value
            == constants.EXPERIMENT_CONDITION_RESTARTING
        ):
            self._start(key)

    def delete_experiment(
        self,
        name: str,
        namespace: str | None = None,
        delete_options: Any = None,
    ) -> None:
        """Delete the experiment and its trials (its running trials are stopped first)."""
        if delete_options is not None:
            kubernetes_only("delete_experiment(delete_options=...)")
        key = self._find(name, namespace).key
        handle = self._handles.pop(key, None)
        if self._driven(key) or (handle is not None and handle._thread is not None):
            # Its controller (here or in another process) stops it first: kills its trials.
            self.client.stop_experiment(key)
            end = time.monotonic() + 60
            if handle is not None and handle._thread is not None:
                handle._thread.join(60)
            while self._driven(key) and time.monotonic() < end:
                time.sleep(0.1)
        self.client.delete_experiment(key)

    def _driven(self, key: str) -> bool:
        """Whether a live controller holds the experiment's lease."""
        from tunery.ledger import owner_is_dead

        owner = self.client.store.lease_owner(key)
        return (
            owner is not None and owner[1] > self.client.clock.now() and not owner_is_dead(owner[0])
        )

    # ------------------------------------------------------------------ suggestions

    def get_suggestion(
        self,
        name: str,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> m.V1beta1Suggestion:
        """The experiment's algorithm as Katib's Suggestion (named after the experiment)."""
        try:
            exp = self._find(name, namespace)
        except KatibNotFoundError:
            ns = namespace or self.namespace
            raise KatibNotFoundError(f"Failed to get Katib Suggestion: {ns}/{name}") from None
        return convert.suggestion_model(exp, self.client.store.list_trials(exp.key))

    def list_suggestions(
        self,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> list[m.V1beta1Suggestion]:
        return [
            convert.suggestion_model(e, self.client.store.list_trials(e.key))
            for e in self._experiments(namespace)
        ]

    # ------------------------------------------------------------------ trials

    def _trials(self, experiment_name: str | None, namespace: str | None) -> list[Any]:
        """(experiment, trial) pairs of one experiment or of the whole namespace."""
        exps = (
            [self._find(experiment_name, namespace)]
            if experiment_name is not None
            else self._experiments(namespace)
        )
        return [(e, t) for e in exps for t in self.client.store.list_trials(e.key)]

    def get_trial(
        self,
        name: str,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> m.V1beta1Trial:
        exp, trial = self._trial(name, namespace)
        return convert.trial_model(exp, trial)

    def _trial(self, name: str, namespace: str | None) -> tuple[Experiment, Trial]:
        ns = namespace or self.namespace
        for exp in self._experiments(ns):
            if name.startswith((f"{exp.key}-", f"{exp.name}-")):
                try:
                    return exp, self.client.store.get_trial(exp.key, name)
                except NotFoundError:
                    continue
        raise KatibNotFoundError(f"Failed to get Katib Trial: {ns}/{name}")

    def list_trials(
        self,
        experiment_name: str | None = None,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> list[m.V1beta1Trial]:
        """The trials of ``experiment_name``, or of every experiment of the namespace."""
        try:
            pairs = self._trials(experiment_name, namespace)
        except KatibNotFoundError:
            return []
        parts: dict[str, m.V1beta1ExperimentSpec] = {}
        for e, _ in pairs:
            if e.key not in parts:
                parts[e.key] = convert.spec_model(e.spec)
        return [convert.trial_model(e, t, parts[e.key]) for e, t in pairs]

    def get_success_trial_details(
        self,
        experiment_name: str | None = None,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> list[dict[str, Any]]:
        """``{"name", "parameter_assignments", "metrics"}`` of each Succeeded trial."""
        out = []
        for trial in self.list_trials(experiment_name, namespace, timeout):
            conditions = trial.status.conditions if trial.status else None
            if conditions and _has_condition(conditions, constants.TRIAL_CONDITION_SUCCEEDED):
                out.append(
                    {
                        "name": trial.metadata.name,  # type: ignore[union-attr]
                        "parameter_assignments": trial.spec.parameter_assignments,  # type: ignore[union-attr]
                        "metrics": trial.status.observation.metrics,  # type: ignore[union-attr]
                    }
                )
        return out

    def get_optimal_hyperparameters(
        self,
        name: str,
        namespace: str | None = None,
        timeout: int = constants.DEFAULT_TIMEOUT,
    ) -> m.V1beta1OptimalTrial | list[m.V1beta1OptimalTrial] | None:
        """The current optimal trial, or None while there is none.

        With several objectives (tunery's extension), the Pareto front instead: one
        ``V1beta1OptimalTrial`` per feasible trial that no other dominates, best first on the
        first objective (the first is ``status.currentOptimalTrial``); [] while there is none.
        """
        exp = self._find(name, namespace)
        if exp.spec.objective.is_multi:
            trials = self.client.store.list_trials(exp.key)
            return convert.pareto_trials(exp.spec, trials)
        experiment = self.get_experiment(name, namespace, timeout)
        best = experiment.status.current_optimal_trial if experiment.status else None
        if best is not None and best.observation is not None and best.observation.metrics:
            return best
        return None

    def get_trial_metrics(
        self,
        name: str,
        namespace: str | None = None,
        db_manager_address: str = constants.DEFAULT_DB_MANAGER_ADDRESS,
        timeout: str | int = constants.DEFAULT_TIMEOUT,
    ) -> list[m.MetricLog]:
        """Every metric value the trial reported, in order (Katib's MetricLog objects:
        ``.time_stamp``, ``.metric.name``, ``.metric.value``)."""
        exp, trial = self._trial(name, namespace)
        logs = []
        for obs in self.client.store.get_observations(exp.key, trial.name):
            stamp = convert.when(
                obs.timestamp if obs.timestamp is not None else trial.completion_time
            )
            logs.append(
                m.MetricLog(
                    time_stamp=stamp.strftime(constants.RFC3339_FORMAT) if stamp else "",
                    metric=m.MetricLogValue(
                        name=obs.metric_name,
                        value=convert.metric_text(obs.value),
                    ),
                )
            )
        return logs

    def get_job_logs(
        self,
        name: str,
        trial_name: str,
        follow: bool | None = False,
        namespace: str | None = None,
    ) -> Iterator[str]:
        """The lines of a trial's output (its stdout and stderr); with ``follow``, also the
        lines it writes until it ends.  A generator, as in Katib."""
        if not name:
            raise KatibValueError("Experiment name is required")
        if not trial_name:
            raise KatibValueError("Trial name is required")
        from tunery.logs import follow_lines

        exp = self._find(name, namespace)
        try:
            trial = self.client.store.get_trial(exp.key, trial_name)
        except NotFoundError:
            raise KatibNotFoundError(
                f"Trial {trial_name} or associated job not found",
                f"KatibClient.list_trials({name!r}) lists its trials",
            ) from None
        if not exp.runs_dir:
            raise UserInputError(f"experiment {name} runs no commands: its trials have no logs")
        yield from follow_lines(self.client.store, exp, trial, bool(follow))
