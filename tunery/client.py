"""The Python SDK's :class:`Client` (Katib's ``KatibClient`` in spirit); :func:`tune` lives in
:mod:`tunery.tuner` and the running experiment's :class:`ExperimentHandle` in :mod:`tunery.handle`
(both re-exported here).

The experiment's lifecycle has one home here: :meth:`Client.create_experiment` is the one way
an experiment is stored (the CLI, the UI, :func:`tune` and the ask/tell Optimizer call it),
:meth:`Client.resume` runs a stored experiment again (:func:`same_search`; a completed one is
extended under the rules of :mod:`tunery.budget`, whatever its resumePolicy, :func:`can_extend`)
and :meth:`Client.edit_experiment_budget` changes its budget, live (an ``update-budget``
intent tells its controller).  An experiment's status has one writer per situation:

* **the client**, before any controller runs it: ``Created`` (creation) and ``Restarting``
  (a completed experiment extended by :meth:`Client.resume` or
  :meth:`Client.edit_experiment_budget`);
* **its controller**, which holds the experiment's lease, from then on: ``Running`` when it
  starts, and the final ``Succeeded``/``Failed`` (``tunery.controller``; the ask/tell
  Optimizer plays the controller for its own experiment, so it writes ``Running``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tunery.budget import (
    BUDGET_FIELDS,
    extension_refusal,
    too_few,
    trial_counts,
    whole_number,
    with_budget,
)
from tunery.clock import Clock, SystemClock
from tunery.errors import NotFoundError, UserInputError
from tunery.handle import ExperimentHandle
from tunery.model import (
    Experiment,
    ExperimentCondition,
    ExperimentReason,
    ExperimentSpec,
    IntentKind,
    Trial,
    best_trial,
)

if TYPE_CHECKING:
    from tunery.ledger import Counts
    from tunery.storage.base import BaseStore

__all__ = [
    "Client",
    "ExperimentHandle",
    "ResumeAction",
    "Resumption",
    "can_extend",
    "same_search",
    "tune",
    "with_namespace",
]


def same_search(a: ExperimentSpec, b: ExperimentSpec) -> bool:
    """Specs equal except for what a user may change between runs of the same search: the
    budget (maxTrialCount, parallelTrialCount, maxFailedTrialCount, the time budget) and the
    objective's goal
    (a stopping rule: a finished experiment goes on under a harder goal or none)."""
    keys: dict[str, Any] = {
        "parallel_trial_count": 0,
        "max_trial_count": 0,
        "max_failed_trial_count": 0,
        "max_experiment_duration": None,
        "experiment_duration_policy": None,
    }
    return bool(
        replace(a, objective=a.objective.without_goals(), **keys)
        == replace(b, objective=b.objective.without_goals(), **keys)
    )


def _time_budget(max_duration: str | float | None, policy: str | None) -> dict[str, Any]:
    """``edit_experiment_budget``'s time budget arguments as spec fields (checked)."""
    from tunery.spec.timebudget import DURATION_FIELD, POLICY_FIELD, parse_duration, parse_policy

    out: dict[str, Any] = {}
    if max_duration is not None:
        out["max_experiment_duration"] = parse_duration(max_duration, DURATION_FIELD)
    if policy is not None:
        out["experiment_duration_policy"] = parse_policy(policy, POLICY_FIELD)
    return out


def same_budget(a: ExperimentSpec, b: ExperimentSpec) -> bool:
    """Whether two specs have the same maxTrialCount, parallelTrialCount, maxFailedTrialCount."""
    return all(getattr(a, field) == getattr(b, field) for field in BUDGET_FIELDS)


def can_extend(existing: Experiment, spec: ExperimentSpec, trials: list[Trial]) -> bool:
    """Whether completed experiment ``existing`` goes on under ``spec`` (its new budget), by
    the rules of :mod:`tunery.budget` (whatever its resumePolicy)."""
    return extension_refusal(existing, spec, trials) is None


class ResumeAction(StrEnum):
    """What :meth:`Client.resume` found to do."""

    #: Not completed: its controller goes on with it.
    RESUME = "resume"
    #: Completed, and extended (Katib's resume with a larger maxTrialCount): now Restarting.
    EXTEND = "extend"
    #: Completed, and nothing more to run.
    COMPLETED = "completed"


@dataclass(frozen=True)
class Resumption:
    """The answer of :meth:`Client.resume`: ``experiment`` as stored now, and what to do."""

    experiment: Experiment
    action: ResumeAction
    #: Why a completed experiment was not extended (``COMPLETED``), else None.
    note: str | None = None

    @property
    def runs(self) -> bool:
        """Whether a controller should now run the experiment."""
        return self.action is not ResumeAction.COMPLETED


class Client:
    """Experiments in one database (``db``: URL or SQLite path; default ``$TUNERY_DB`` or
    ``./tunery.db``), or in an open ``store``.  ``clock`` dates what the client writes."""

    def __init__(
        self,
        db: str | None = None,
        *,
        store: BaseStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        if store is None:
            from tunery.storage import Store

            store = Store(db)
        self.store: BaseStore = store
        self.clock: Clock = clock or SystemClock()

    @property
    def url(self) -> str:
        return str(self.store.url)

    def resolve(self, name: str, namespace: str | None = None) -> str:
        """The store key of experiment ``name`` in ``namespace``.

        ``namespace`` None: the only experiment of that name in any namespace (UserInputError
        naming the namespaces when several hold it); a string: exactly that namespace
        (NotFoundError naming namespace and name when it has none).  ``<namespace>.<name>``
        and a stored key (:attr:`Experiment.key`) designate their experiment too.
        """
        return self.store.resolve(name, namespace)

    def create_experiment(
        self,
        experiment: str | os.PathLike[str] | Mapping[str, Any] | ExperimentSpec,
        *,
        namespace: str | None = None,
        base_dir: str | None = None,
        runs_dir: str | None = None,
        configmaps: Sequence[str | os.PathLike[str]] = (),
        trial_dirs: bool = True,
    ) -> Experiment:
        """Store an experiment from a YAML/JSON file, a document dict or a spec (not run yet).

        ``namespace``: where it lives (default: the spec's ``metadata.namespace``, whose
        default is ``default``); the same name may exist in several namespaces.
        Relative paths of the spec resolve against ``base_dir`` (default: the file's directory,
        else the current directory); trial directories go under ``runs_dir`` (default
        ``./tunery-runs``).  ``configmaps``: YAML files (or directories) of ConfigMaps for a
        ``trialTemplate.configMap`` (also ``TUNERY_CONFIGMAPS`` and, for a file, the
        ``configmaps/`` directory next to it); the stored experiment keeps the inlined template.
        ``trial_dirs=False``: its trials run no process (ask/tell), so it has no ``runs_dir``.
        The experiment is stored ``Created``; AlreadyExistsError when its namespace has an
        experiment of that name.
        """
        from tunery.spec import load_file, parse_document, to_document
        from tunery.spec.katib import inline_configmaps

        if isinstance(experiment, ExperimentSpec):
            spec = experiment
        elif isinstance(experiment, Mapping):
            spec = parse_document(inline_configmaps(experiment, configmaps))
        else:
            parsed = load_file(experiment, configmaps=configmaps)
            if len(parsed) != 1:
                raise UserInputError(
                    f"{experiment} holds {len(parsed)} experiments",
                    "create them one by one from documents",
                )
            spec = parsed[0].spec
            base_dir = base_dir or os.path.dirname(os.path.abspath(experiment))
        if namespace is not None and namespace != spec.namespace:
            spec = with_namespace(spec, namespace)
        return self.store.create_experiment(
            Experiment(
                name=spec.name,
                spec=spec,
                document=to_document(spec),
                created_time=self.clock.now(),
                base_dir=os.path.abspath(base_dir or os.getcwd()),
                runs_dir=os.path.abspath(runs_dir or "tunery-runs") if trial_dirs else None,
            )
        )

    def resume(
        self,
        name: str,
        *,
        namespace: str | None = None,
        spec: ExperimentSpec | None = None,
        max_trials: int | None = None,
    ) -> Resumption:
        """Make experiment ``name`` (in ``namespace``: see :meth:`resolve`) ready to run
        again, by Katib's rules; runs nothing.

        ``spec``: the spec to run it under (default: the stored one; the caller has checked
        :func:`same_search`); ``max_trials``: a new maxTrialCount, asked for explicitly
        (``tunery resume --max-trials``).  An experiment that has not completed keeps going
        (its new spec stored when it changed).  A completed one is extended when the rules
        of :mod:`tunery.budget` allow it, whatever its resumePolicy: its new spec is stored
        and it becomes ``Restarting``.  Otherwise nothing is written: with ``max_trials``
        that is a UserInputError saying why; without, the answer is ``COMPLETED`` and its
        ``note`` says why.  A ``max_trials`` below the trials already used (completed and
        running) is a UserInputError too.
        """
        key = self.resolve(name, namespace)
        existing = self.store.get_experiment(key)
        name = existing.name
        spec = spec or existing.spec
        needed = max_trials is not None or existing.status.is_completed
        trials = self.store.list_trials(key) if needed else []  # thousands: read once, if needed
        if max_trials is not None:
            max_trials = whole_number(max_trials, "max_trial_count", 1)
            if existing.status.is_completed:
                _check_above_completed(existing, max_trials, trials)
            else:
                _check_not_below_used(name, max_trials, trial_counts(trials))
            spec = with_budget(spec, max_trial_count=max_trials)
        if not existing.status.is_completed:
            self._store_spec(existing, spec)
            if not same_budget(existing.spec, spec):
                # A controller may be running it (another process): it reloads the budget.
                self.store.add_intent(key, IntentKind.UPDATE_BUDGET, None, self.clock.now())
            return Resumption(self.store.get_experiment(key), ResumeAction.RESUME)
        refusal = extension_refusal(existing, spec, trials, driven=self._driven(key))
        if refusal is not None:
            if max_trials is not None:
                raise UserInputError(*refusal)
            note = refusal[0]
            if existing.reason == ExperimentReason.TIME_BUDGET_REACHED:
                note = f"{refusal[0]}; {refusal[1]}"
            completed = trial_counts(trials).completed
            if spec.max_trial_count is not None and refusal == too_few(
                name, spec.max_trial_count, completed
            ):
                note = (
                    f"it has completed its {completed} trials; a larger maxTrialCount extends "
                    f"it (`tunery resume {existing.command_ref} --max-trials {completed + 10}`)"
                )
            return Resumption(existing, ResumeAction.COMPLETED, note=note)
        return Resumption(self._extend(existing, spec), ResumeAction.EXTEND)

    def _extend(self, existing: Experiment, spec: ExperimentSpec) -> Experiment:
        """Store ``spec`` and mark completed experiment ``existing`` Restarting."""
        self._store_spec(existing, spec)
        limit = spec.max_trial_count if spec.max_trial_count is not None else "unlimited"
        self.store.set_experiment_status(
            existing.key,
            ExperimentCondition.RESTARTING,
            ExperimentReason.RESTARTING,
            f"Experiment is restarting with maxTrialCount {limit}",
            clear_completion=True,
        )
        return self.store.get_experiment(existing.key)

    def edit_experiment_budget(
        self,
        name: str,
        *,
        namespace: str | None = None,
        max_trial_count: int | None = None,
        parallel_trial_count: int | None = None,
        max_failed_trial_count: int | None = None,
        max_duration: str | float | None = None,
        duration_policy: str | None = None,
    ) -> Experiment:
        """Change experiment ``name``'s budget (in ``namespace``: see :meth:`resolve`; Katib's
        ``edit_experiment_budget``); returns the experiment as stored now.

        On a running experiment the change is live: its controller (another process, or an
        :class:`ExperimentHandle`'s thread) reads it at its next tick, so a higher
        parallelTrialCount starts more trials at once and a lower maxTrialCount ends it
        sooner; running trials are never killed for it, so maxTrialCount may not go below
        the trials already used (completed and running).  On an experiment that has not
        started or was interrupted, the next run uses it.  On a completed experiment it
        extends it as :meth:`resume` does (``Restarting``; the next ``tunery resume`` or
        :meth:`run_experiment` continues the same search), or raises why it cannot.

        ``max_duration`` is the time budget (``maxExperimentDuration``: ``"3h"``, ``"90m"``
        or seconds) and ``duration_policy`` what it does to running trials (``KillRunning``,
        ``LetFinish``); an experiment that ended on its time budget goes on once it is raised
        above the time it was driven.

        Values are validated as the spec's (UserInputError naming the field); nothing is
        stored when one is refused.
        """
        budget = {
            "max_trial_count": max_trial_count,
            "parallel_trial_count": parallel_trial_count,
            "max_failed_trial_count": max_failed_trial_count,
        }
        if all(v is None for v in budget.values()) and max_duration is duration_policy is None:
            raise UserInputError(
                "no budget to edit",
                "give max_trial_count=, parallel_trial_count=, max_failed_trial_count= or "
                "max_duration= (--max-trials, --parallel, --max-failed, --max-duration)",
            )
        checked: dict[str, Any] = {
            field: None if v is None else whole_number(v, field, 0 if "failed" in field else 1)
            for field, v in budget.items()
        }
        checked.update(_time_budget(max_duration, duration_policy))
        key = self.resolve(name, namespace)
        existing = self.store.get_experiment(key)
        name = existing.name
        if existing.runs_dir is None:
            raise UserInputError(
                f"experiment {name!r} is an ask/tell experiment: its budget is its Optimizer's",
                "open it again with tunery.Optimizer(..., max_trial_count=N, storage=...)",
            )
        trials = self.store.list_trials(key)
        counts = trial_counts(trials)
        limit = checked["max_trial_count"]
        failed = checked["max_failed_trial_count"]
        if existing.status.is_completed:
            if limit is not None:
                _check_above_completed(existing, limit, trials)
        else:
            if limit is not None:
                _check_not_below_used(name, limit, counts)
            if failed is not None and counts.failed and failed <= counts.failed:
                raise UserInputError(
                    f"maxFailedTrialCount {failed} is not above the {counts.failed} trials "
                    f"experiment {name!r} has failed: it would fail at once",
                    f"give more than {counts.failed}; `tunery stop {name}` ends it now",
                )
        spec = with_budget(existing.spec, **checked)
        if existing.status.is_completed:
            refusal = extension_refusal(existing, spec, trials, driven=self._driven(key))
            if refusal is not None:
                raise UserInputError(*refusal)
            return self._extend(existing, spec)
        self._store_spec(existing, spec)
        # The running controller reloads its spec when it sees this intent.
        self.store.add_intent(key, IntentKind.UPDATE_BUDGET, None, self.clock.now())
        now = self.store.get_experiment(key)
        # Its controller may have reached the old maxTrialCount while this edit was written:
        # then extend it if the new one allows, as if the edit had come just after the end.
        if (
            now.status.is_completed
            and now.reason == ExperimentReason.MAX_TRIALS_REACHED
            and extension_refusal(now, spec, self.store.list_trials(key)) is None
        ):
            return self._extend(now, spec)
        return now

    def _driven(self, key: str) -> float:
        """The seconds experiment ``key`` was driven (its time budget's clock)."""
        from tunery.deadline import driven_seconds

        return driven_seconds(self.store, key)

    def _store_spec(self, existing: Experiment, spec: ExperimentSpec) -> None:
        from tunery.spec import to_document

        if spec.namespace != existing.namespace:
            # The namespace is where the experiment lives, not a knob of its run.
            spec = replace(spec, namespace=existing.namespace)
        if spec != existing.spec:
            self.store.update_experiment_spec(existing.key, spec, to_document(spec))

    def run_experiment(
        self,
        name: str,
        *,
        namespace: str | None = None,
        wait: bool = True,
        executor: Any = None,
        progress: bool | None = None,
        mlflow_tracking_uri: str | None = None,
    ) -> ExperimentHandle:
        """Drive experiment ``name`` (in ``namespace``: see :meth:`resolve`; start or resume
        it); with ``wait`` block until it ends.

        ``executor``: where trials run: ``"local"`` (default), ``"dask://HOST:PORT"`` (a Dask
        scheduler), or an executor object.  ``progress``: a progress bar while it waits
        (default: in an interactive session only; :meth:`ExperimentHandle.wait`).
        ``mlflow_tracking_uri``: mirror it into MLflow while it runs
        (:mod:`tunery.integration.mlflow`).
        """
        handle = ExperimentHandle(
            self,
            name,
            namespace=namespace,
            executor=executor,
            mlflow_tracking_uri=mlflow_tracking_uri,
        )
        handle.start()
        if wait:
            handle.wait(progress=progress)
        return handle

    def get_experiment(self, name: str, namespace: str | None = None) -> Experiment:
        """Experiment ``name`` in ``namespace`` (see :meth:`resolve`)."""
        return self.store.get_experiment(self.resolve(name, namespace))

    def find_experiment(self, name: str, namespace: str | None = None) -> Experiment | None:
        """Experiment ``name`` in ``namespace`` (see :meth:`resolve`), or None when there is
        none (several of that name with ``namespace`` None is still an error)."""
        try:
            key = self.resolve(name, namespace)
        except NotFoundError:
            return None
        return self.store.find_experiment(key)

    def list_experiments(self, namespace: str | None = None) -> list[Experiment]:
        """The experiments of ``namespace`` (None: of every namespace), oldest first."""
        return self.store.list_experiments(namespace)

    def list_namespaces(self) -> list[str]:
        """The namespaces that hold experiments, sorted."""
        return sorted({e.namespace for e in self.store.list_experiments()})

    def list_trials(self, name: str, namespace: str | None = None) -> list[Trial]:
        """The trials of experiment ``name`` in ``namespace`` (see :meth:`resolve`), by index."""
        return self.store.list_trials(self.resolve(name, namespace))

    def get_optimal_hyperparameters(
        self, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The best trial's ``{"trial", "parameters", "objective", "metrics"}``, or None."""
        key = self.resolve(name, namespace)
        exp = self.store.get_experiment(key)
        best = best_trial(exp.spec.objective, self.store.list_trials(key))
        if best is None:
            return None
        return {
            "trial": best.name,
            "parameters": dict(best.parameters),
            "objective": best.objective,
            "metrics": {k: v.to_json() for k, v in best.metrics.items()},
        }

    def stop_experiment(self, name: str, namespace: str | None = None) -> None:
        """Ask the controller to stop ``name`` (kills its running trials)."""
        key = self.resolve(name, namespace)
        self.store.add_intent(key, IntentKind.STOP_EXPERIMENT, None, self.clock.now())

    def delete_experiment(self, name: str, namespace: str | None = None) -> None:
        """Delete experiment ``name`` in ``namespace`` (see :meth:`resolve`) with its trials."""
        self.store.delete_experiment(self.resolve(name, namespace))


def with_namespace(spec: ExperimentSpec, namespace: str) -> ExperimentSpec:
    """``spec`` in ``namespace``, validated again as a document would be (a namespace is a DNS
    label)."""
    from tunery.spec import parse_document, to_document

    return parse_document(to_document(replace(spec, namespace=namespace)))


def _check_above_completed(existing: Experiment, max_trials: int, trials: list[Trial]) -> None:
    """A completed experiment's new maxTrialCount must be above the trials it completed (said
    before a spec check that would name parallelTrialCount instead)."""
    completed = trial_counts(trials).completed
    if max_trials <= completed:
        raise UserInputError(*too_few(existing.name, max_trials, completed))


def _check_not_below_used(name: str, max_trials: int, counts: Counts) -> None:
    """A new maxTrialCount of a live experiment may not go below the trials it has used:
    running trials are never killed for a budget."""
    used = counts.completed + counts.active
    if max_trials < used:
        raise UserInputError(
            f"maxTrialCount {max_trials} is below the {used} trials experiment {name!r} has "
            f"already used ({counts.completed} completed, {counts.active} running)",
            f"give at least {used}; `tunery stop {name}` ends it now",
        )


# Re-exported: tune() lived here first.
from tunery.tuner import tune  # noqa: E402
