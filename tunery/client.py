"""The Python SDK's :class:`Client` (Katib's ``KatibClient`` in spirit); :func:`tune` lives in
:mod:`tunery.tuner` and the running experiment's :class:`ExperimentHandle` in :mod:`tunery.handle`
(both re-exported here).

The experiment's lifecycle has one home here: :meth:`Client.create_experiment` is the one way
an experiment is stored (the CLI, the UI, :func:`tune` and the ask/tell Optimizer call it),
and :meth:`Client.resume` holds Katib's rules for running a stored experiment again
(:func:`same_search`, :func:`can_extend`).  An experiment's status has one writer per
situation:

* **the client**, before any controller runs it: ``Created`` (creation) and ``Restarting``
  (a completed experiment extended by :meth:`Client.resume`);
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

from tunery.clock import Clock, SystemClock
from tunery.errors import NotFoundError, UserInputError
from tunery.handle import ExperimentHandle
from tunery.model import (
    Experiment,
    ExperimentCondition,
    ExperimentReason,
    ExperimentSpec,
    IntentKind,
    ResumePolicy,
    Trial,
    best_trial,
)

if TYPE_CHECKING:
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
    """Specs equal except for the budget knobs a user may change between runs."""
    keys: dict[str, Any] = {
        "parallel_trial_count": 0,
        "max_trial_count": 0,
        "max_failed_trial_count": 0,
    }
    return bool(replace(a, **keys) == replace(b, **keys))


def can_extend(existing: Experiment, spec: ExperimentSpec, completed: int) -> bool:
    """Whether Katib would run a completed experiment again under ``spec``: it ended because
    it reached maxTrialCount, and ``spec`` allows more trials than the ``completed`` ones."""
    return (
        existing.reason == ExperimentReason.MAX_TRIALS_REACHED
        and spec.max_trial_count is not None
        and spec.max_trial_count > completed
    )


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
        (NotFoundError naming namespace and name when it has none).  A stored key
        (``<namespace>.<name>``, :attr:`Experiment.key`) designates its experiment too.
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
        :func:`same_search`); ``max_trials``: a new maxTrialCount.  An experiment that has not
        completed keeps going (its new spec stored when it changed).  A completed one is
        extended when :func:`can_extend` says so: its new spec is stored and it becomes
        ``Restarting`` (UserInputError when its resumePolicy is Never); otherwise nothing is
        written.
        """
        key = self.resolve(name, namespace)
        existing = self.store.get_experiment(key)
        spec = spec or existing.spec
        if max_trials is not None:
            spec = _with_budget(spec, max_trials)
        if not existing.status.is_completed:
            self._store_spec(existing, spec)
            return Resumption(self.store.get_experiment(key), ResumeAction.RESUME)
        completed = sum(1 for t in self.store.list_trials(key) if t.status.is_completed)
        if not can_extend(existing, spec, completed):
            return Resumption(existing, ResumeAction.COMPLETED)
        if spec.resume_policy is ResumePolicy.NEVER:
            raise UserInputError(
                f"experiment {existing.name!r} has completed and its resumePolicy is Never",
                "set spec.resumePolicy: LongRunning to extend a finished experiment",
            )
        self._store_spec(existing, spec)
        self.store.set_experiment_status(
            key,
            ExperimentCondition.RESTARTING,
            ExperimentReason.RESTARTING,
            f"Experiment is restarting with maxTrialCount {spec.max_trial_count}",
            clear_completion=True,
        )
        return Resumption(self.store.get_experiment(key), ResumeAction.EXTEND)

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
    ) -> ExperimentHandle:
        """Drive experiment ``name`` (in ``namespace``: see :meth:`resolve`; start or resume
        it); with ``wait`` block until it ends.

        ``executor``: where trials run: ``"local"`` (default), ``"dask://HOST:PORT"`` (a Dask
        scheduler), or an executor object.
        """
        handle = ExperimentHandle(self, name, namespace=namespace, executor=executor)
        handle.start()
        if wait:
            handle.wait()
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


def _with_budget(spec: ExperimentSpec, max_trials: int) -> ExperimentSpec:
    """``spec`` with maxTrialCount ``max_trials``, validated again as a document would be."""
    from tunery.spec import parse_document, to_document

    return parse_document(to_document(replace(spec, max_trial_count=max_trials)))


# Re-exported: tune() lived here first.
from tunery.tuner import tune  # noqa: E402
