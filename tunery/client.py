"""The Python SDK: :class:`Client` (Katib's ``KatibClient`` in spirit) and :func:`tune`.

``tune`` runs a Python function as the trial, in a separate process per trial, exactly as an
experiment file would run a command::

    import tunery

    def objective(parameters):
        import math                      # imports inside: the function runs in a new process
        loss = (parameters["lr"] - 0.01) ** 2 + parameters["layers"]
        tunery.report(loss=loss)         # or print("loss=...") or return loss

    exp = tunery.tune(
        objective,
        {"lr": tunery.search.double(1e-4, 1e-1, log=True), "layers": tunery.search.int(1, 4)},
        objective_metric_name="loss",
        objective_type="minimize",
        algorithm="random",
        max_trial_count=20,
    )
    exp.wait()
    print(exp.best_trial.parameters)

The function receives a dict of typed parameter values (fixed, non-search values included) and
reports metrics by printing Katib lines, by calling :func:`tunery.report`, or by returning a
number (the objective) or a dict of metrics.  Functions defined in ``__main__`` (a script or a
notebook) are shipped as source, so they must import what they use inside their body, as with
Katib's ``tune`` (``tunery`` itself is always available); functions of an importable module are
imported by reference.

The experiment lives in the database like any other (``tunery list``, ``tunery trials``); the
same code with the same settings resumes the same experiment.

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

import hashlib
import inspect
import json
import os
import re
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunery.clock import Clock, SystemClock
from tunery.errors import AlreadyExistsError, MissingExtraError, UserInputError
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

    def create_experiment(
        self,
        experiment: str | os.PathLike[str] | Mapping[str, Any] | ExperimentSpec,
        *,
        base_dir: str | None = None,
        runs_dir: str | None = None,
        configmaps: Sequence[str | os.PathLike[str]] = (),
        trial_dirs: bool = True,
    ) -> Experiment:
        """Store an experiment from a YAML/JSON file, a document dict or a spec (not run yet).

        Relative paths of the spec resolve against ``base_dir`` (default: the file's directory,
        else the current directory); trial directories go under ``runs_dir`` (default
        ``./tunery-runs``).  ``configmaps``: YAML files (or directories) of ConfigMaps for a
        ``trialTemplate.configMap`` (also ``TUNERY_CONFIGMAPS`` and, for a file, the
        ``configmaps/`` directory next to it); the stored experiment keeps the inlined template.
        ``trial_dirs=False``: its trials run no process (ask/tell), so it has no ``runs_dir``.
        The experiment is stored ``Created``; AlreadyExistsError when the name is taken.
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
        spec: ExperimentSpec | None = None,
        max_trials: int | None = None,
    ) -> Resumption:
        """Make experiment ``name`` ready to run again, by Katib's rules; runs nothing.

        ``spec``: the spec to run it under (default: the stored one; the caller has checked
        :func:`same_search`); ``max_trials``: a new maxTrialCount.  An experiment that has not
        completed keeps going (its new spec stored when it changed).  A completed one is
        extended when :func:`can_extend` says so: its new spec is stored and it becomes
        ``Restarting`` (UserInputError when its resumePolicy is Never); otherwise nothing is
        written.
        """
        existing = self.store.get_experiment(name)
        spec = spec or existing.spec
        if max_trials is not None:
            spec = _with_budget(spec, max_trials)
        if not existing.status.is_completed:
            self._store_spec(existing, spec)
            return Resumption(self.store.get_experiment(name), ResumeAction.RESUME)
        completed = sum(1 for t in self.store.list_trials(name) if t.status.is_completed)
        if not can_extend(existing, spec, completed):
            return Resumption(existing, ResumeAction.COMPLETED)
        if spec.resume_policy is ResumePolicy.NEVER:
            raise UserInputError(
                f"experiment {name!r} has completed and its resumePolicy is Never",
                "set spec.resumePolicy: LongRunning to extend a finished experiment",
            )
        self._store_spec(existing, spec)
        self.store.set_experiment_status(
            name,
            ExperimentCondition.RESTARTING,
            ExperimentReason.RESTARTING,
            f"Experiment is restarting with maxTrialCount {spec.max_trial_count}",
            clear_completion=True,
        )
        return Resumption(self.store.get_experiment(name), ResumeAction.EXTEND)

    def _store_spec(self, existing: Experiment, spec: ExperimentSpec) -> None:
        from tunery.spec import to_document

        if spec != existing.spec:
            self.store.update_experiment_spec(existing.name, spec, to_document(spec))

    def run_experiment(
        self, name: str, *, wait: bool = True, executor: Any = None
    ) -> ExperimentHandle:
        """Drive experiment ``name`` (start or resume it); with ``wait`` block until it ends.

        ``executor``: where trials run: ``"local"`` (default), ``"dask://HOST:PORT"`` (a Dask
        scheduler), or an executor object.
        """
        handle = ExperimentHandle(self, name, executor=executor)
        handle.start()
        if wait:
            handle.wait()
        return handle

    def get_experiment(self, name: str) -> Experiment:
        return self.store.get_experiment(name)

    def list_experiments(self) -> list[Experiment]:
        return self.store.list_experiments()

    def list_trials(self, name: str) -> list[Trial]:
        return self.store.list_trials(name)

    def get_optimal_hyperparameters(self, name: str) -> dict[str, Any] | None:
        """The best trial's ``{"trial", "parameters", "objective", "metrics"}``, or None."""
        exp = self.store.get_experiment(name)
        best = best_trial(exp.spec.objective, self.store.list_trials(name))
        if best is None:
            return None
        return {
            "trial": best.name,
            "parameters": dict(best.parameters),
            "objective": best.objective,
            "metrics": {k: v.to_json() for k, v in best.metrics.items()},
        }

    def stop_experiment(self, name: str) -> None:
        """Ask the controller to stop ``name`` (kills its running trials)."""
        self.store.get_experiment(name)
        self.store.add_intent(name, IntentKind.STOP_EXPERIMENT, None, self.clock.now())

    def delete_experiment(self, name: str) -> None:
        self.store.delete_experiment(name)


class ExperimentHandle:
    """A running (or finished) experiment: its controller runs in a background thread."""

    def __init__(self, client: Client, name: str, *, executor: Any = None) -> None:
        self.client = client
        self.name = name
        self._executor = executor
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._warned = False

    # -- driving
    def start(self) -> None:
        if self._thread is not None:
            return
        exp = self.client.get_experiment(self.name)
        if exp.status.is_completed:
            return
        from tunery.execute import executor_url_of, open_executor

        given = self._executor
        # An unreachable scheduler or a bad URL raises here, in the caller's thread.
        executor = (
            open_executor(executor_url_of(exp.spec.annotations, given))
            if given is None or isinstance(given, str)
            else given
        )
        self._thread = threading.Thread(
            target=self._drive, args=(executor, executor is not given), name=f"tunery-{self.name}"
        )
        self._thread.start()

    def _drive(self, executor: Any, owned: bool) -> None:
        from tunery.controller import Controller

        try:
            # The store's engine is thread-safe: the controller thread shares it.
            Controller(self.client.store, self.name, executor, poll_interval=0.2).run()
        except BaseException as exc:  # re-raised by wait()
            self._error = exc
        finally:
            if owned:
                executor.close()

    def wait(self, timeout: float | None = None) -> ExperimentHandle:
        """Block until the experiment ends (or ``timeout`` seconds pass).

        When it has ended with failed trials, warns once (:class:`TrialsFailedWarning`) with
        how many failed and the first failure's message.
        """
        if self._thread is not None:
            self._thread.join(timeout)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if not self._warned and (self._thread is None or not self._thread.is_alive()):
            self._warn_failures()
        return self

    def _warn_failures(self) -> None:
        from tunery.outcome import TrialsFailedWarning, failure_warning

        if not self.experiment.status.is_completed:
            return
        self._warned = True
        message = failure_warning(self.name, self.trials)
        if message is not None:
            warnings.warn(message, TrialsFailedWarning, stacklevel=3)

    @property
    def done(self) -> bool:
        return self.experiment.status.is_completed

    def stop(self) -> None:
        self.client.stop_experiment(self.name)

    # -- reading
    @property
    def experiment(self) -> Experiment:
        return self.client.get_experiment(self.name)

    @property
    def status(self) -> str:
        return self.experiment.shown_status

    @property
    def trials(self) -> list[Trial]:
        return self.client.list_trials(self.name)

    @property
    def best_trial(self) -> Trial | None:
        return best_trial(self.experiment.spec.objective, self.trials)

    def trials_dataframe(self) -> Any:
        """The trial table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise MissingExtraError("pandas", "ui") from exc
        spec = self.experiment.spec
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "name": t.name,
                "status": t.status.value,
                "reason": t.reason,
                "message": t.message,
            }
            row.update({f"params.{k}": v for k, v in t.parameters.items()})
            row["objective"] = t.objective
            for metric in spec.objective.metric_names:
                summary = t.metrics.get(metric)
                row[f"metrics.{metric}"] = (
                    summary.pick(spec.objective.strategy_for(metric)) if summary else None
                )
            row["start_time"] = t.start_time
            row["completion_time"] = t.completion_time
            rows.append(row)
        frame = pd.DataFrame(rows)
        for col in ("start_time", "completion_time"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
        return frame

    def plot_optimization_history(self) -> Any:
        """A plotly figure: each finished trial's objective, and the best so far."""
        go = _plotly()
        spec = self.experiment.spec
        done = [t for t in self.trials if t.objective is not None]
        best: list[float] = []
        for t in done:
            value = float(t.objective)  # type: ignore[arg-type]
            best.append(value if not best or spec.objective.better(value, best[-1]) else best[-1])
        metric = spec.objective.objective_metric_name
        fig = go.Figure()
        fig.add_scatter(
            x=[t.index for t in done], y=[t.objective for t in done], mode="markers", name=metric
        )
        fig.add_scatter(x=[t.index for t in done], y=best, mode="lines", name="best so far")
        fig.update_layout(
            title=f"{self.name}: optimization history", xaxis_title="trial", yaxis_title=metric
        )
        return fig

    def plot_parallel_coordinates(self) -> Any:
        """A plotly figure: every parameter and the objective, coloured by the objective."""
        from tunery.plots import parcoords_dimension

        go = _plotly()
        spec = self.experiment.spec
        done = [t for t in self.trials if t.objective is not None]
        dims = [
            parcoords_dimension(p, [t.parameters.get(p.name) for t in done])
            for p in spec.parameters
        ]
        objective = [t.objective for t in done]
        metric = spec.objective.objective_metric_name
        dims.append({"label": metric, "values": objective})
        # Better trials at Viridis' yellow end, whichever the direction; the bar says which end.
        minimize = spec.objective.type.value == "minimize"
        better = "lower" if minimize else "higher"
        fig = go.Figure(
            go.Parcoords(
                line={
                    "color": objective,
                    "colorscale": "Viridis",
                    "reversescale": minimize,
                    "showscale": True,
                    "colorbar": {"title": {"text": f"{metric} ({better} is better)"}},
                },
                dimensions=dims,
            )
        )
        fig.update_layout(title=f"{self.name}: parameters against the objective")
        return fig

    def plot_slice(self) -> Any:
        """A plotly figure: the objective against each parameter, one panel each."""
        from tunery.plots import slice_figure

        return slice_figure(_plotly(), self.name, self.experiment.spec, self.trials)

    def plot_edf(self) -> Any:
        """A plotly figure: the empirical distribution of the objective."""
        from tunery.plots import edf_figure

        return edf_figure(_plotly(), self.name, self.experiment.spec, self.trials)

    def plot_intermediate_values(self) -> Any:
        """A plotly figure: every trial's curve of the objective metric, early stops marked."""
        from tunery.plots import intermediate_figure

        spec = self.experiment.spec
        observations = self.client.store.get_observations(
            self.name, metric=spec.objective.objective_metric_name
        )
        return intermediate_figure(_plotly(), self.name, spec, self.trials, observations)

    def plot_contour(self, pairs: int = 3) -> Any:
        """A plotly figure: the objective over pairs of the three most important parameters
        (epsilon-squared importance; the space's order with too few trials)."""
        from tunery.plots import contour_figure
        from tunery.ui.importance import parameter_importance

        spec = self.experiment.spec
        trials = self.trials
        done = [t for t in trials if t.objective is not None]
        ranked = parameter_importance(
            spec.parameters,
            [t.parameters for t in done],
            [float(t.objective) for t in done],  # type: ignore[arg-type]
        )
        order = [i.name for i in ranked] if ranked else [p.name for p in spec.parameters]
        return contour_figure(_plotly(), self.name, spec, trials, order, pairs)

    def plot_timeline(self) -> Any:
        """A plotly figure: the trials as bars over time, coloured by status."""
        import time

        from tunery.plots import timeline_figure

        return timeline_figure(_plotly(), self.name, self.trials, time.time())

    def __repr__(self) -> str:
        exp = self.experiment
        best = best_trial(exp.spec.objective, self.trials)
        best_text = f", best {best.objective:g} ({best.name})" if best and best.objective else ""
        return f"<tunery experiment {self.name}: {exp.shown_status}{best_text}>"


def _with_budget(spec: ExperimentSpec, max_trials: int) -> ExperimentSpec:
    """``spec`` with maxTrialCount ``max_trials``, validated again as a document would be."""
    from tunery.spec import parse_document, to_document

    return parse_document(to_document(replace(spec, max_trial_count=max_trials)))


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise MissingExtraError("plotly", "ui") from exc
    return go


# --------------------------------------------------------------------------- tune()

_RUNNER = '''"""Trial runner generated by tunery.tune for experiment {name}: do not edit."""

import json
import sys

import tunery  # available to the objective without an import of its own

sys.path[:0] = {paths!r}
TYPES = json.loads({types!r})
FIXED = json.loads({fixed!r})
METRIC = {metric!r}

{definition}


def _value(kind, raw):
    if kind == "double":
        return float(raw)
    if kind == "int":
        return int(raw)
    if kind == "discrete":
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw else number
    return raw


def _main():
    parameters = dict(FIXED)
    for arg in sys.argv[1:]:
        name, _, raw = arg.partition("=")
        parameters[name] = _value(TYPES[name], raw)
    result = _objective(parameters)
    if isinstance(result, dict):
        print(" ".join(f"{{k}}={{float(v)!r}}" for k, v in result.items()), flush=True)
    elif isinstance(result, (int, float)) and not isinstance(result, bool):
        print(f"{{METRIC}}={{float(result)!r}}", flush=True)


if __name__ == "__main__":
    _main()
'''


def _definition(objective: Callable[..., Any]) -> tuple[str, list[str]]:
    """Python code binding ``_objective`` to the function, and sys.path entries it needs."""
    module = getattr(objective, "__module__", None)
    qualname = getattr(objective, "__qualname__", "")
    if module and module != "__main__" and "<" not in qualname:
        mod = sys.modules.get(module)
        path = getattr(mod, "__file__", None)
        paths = []
        if path:
            root = Path(path).resolve().parent
            for _ in range(module.count(".")):
                root = root.parent
            paths.append(str(root))
        return f"from {module} import {qualname} as _objective", paths
    try:
        source = textwrap.dedent(inspect.getsource(objective))
    except (OSError, TypeError) as exc:
        raise UserInputError(
            f"cannot read the source of {objective!r}",
            "define the objective with `def` in a file or notebook cell (not a lambda)",
        ) from exc
    if objective.__name__ == "<lambda>":
        raise UserInputError(
            "tune() needs a function defined with `def`, not a lambda",
            "write `def objective(parameters): ...`",
        )
    lines = source.splitlines()
    while lines and lines[0].lstrip().startswith("@"):
        lines.pop(0)  # decorators belong to the caller's process
    return "\n".join(lines) + f"\n\n_objective = {objective.__name__}", [os.getcwd()]


def _experiment_name(objective: Callable[..., Any], digest: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", getattr(objective, "__name__", "tune").lower()).strip("-")
    base = (base or "tune")[:30].strip("-")
    if not base[0].isalpha():
        base = f"f-{base}"[:30]
    return f"{base}-{digest[:8]}"


def tune(
    objective: Callable[[dict[str, Any]], Any],
    parameters: Mapping[str, Any],
    objective_metric_name: str,
    objective_type: str = "maximize",
    algorithm: str = "bayesianoptimization",
    max_trial_count: int = 10,
    parallel_trial_count: int = 1,
    max_failed_trial_count: int | None = None,
    goal: float | None = None,
    name: str | None = None,
    storage: str | None = None,
    *,
    additional_metric_names: Sequence[str] = (),
    algorithm_settings: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    runs_dir: str | None = None,
    wait: bool = False,
    executor: Any = None,
) -> ExperimentHandle:
    """Tune ``objective`` over ``parameters``; returns a handle while trials run in the background.

    ``storage`` is the database (URL or SQLite path; default ``$TUNERY_DB`` or ``./tunery.db``).
    Without ``name`` the experiment is named after the function and a digest of its code and
    settings, so running the same code again resumes (or shows) the same experiment; with an
    explicit ``name``, a stored experiment of that name is resumed if its settings are the same.
    ``executor``: ``"local"`` (default), ``"dask://HOST:PORT"`` or an executor object; on a
    Dask cluster the workers must see ``runs_dir`` (the objective's script lives there).
    """
    from tunery.search import split_parameters
    from tunery.spec import parse_document

    searched, fixed = split_parameters(parameters)
    try:
        fixed_json = json.dumps(fixed, sort_keys=True)
    except TypeError as exc:
        raise UserInputError(
            f"fixed parameter values must be JSON values (numbers, strings, lists...): {exc}"
        ) from exc
    definition, paths = _definition(objective)
    types = {p.name: p.parameter_type.value for p in searched}
    settings = {
        "objective": objective_type,
        "metric": objective_metric_name,
        "algorithm": algorithm,
        "settings": dict(algorithm_settings or {}),
        "parameters": repr(searched),
        "fixed": fixed_json,
    }
    digest = hashlib.sha256(
        (definition + json.dumps(settings, sort_keys=True, default=str)).encode()
    ).hexdigest()
    exp_name = name or _experiment_name(objective, digest)
    runs = os.path.abspath(runs_dir or "tunery-runs")
    script = Path(runs, exp_name, "objective.py")
    code = _RUNNER.format(
        name=exp_name,
        paths=paths,
        types=json.dumps(types),
        fixed=fixed_json,
        metric=objective_metric_name,
        definition=definition,
    )
    objective_spec: dict[str, Any] = {
        "type": objective_type,
        "objectiveMetricName": objective_metric_name,
    }
    if goal is not None:
        objective_spec["goal"] = goal
    if additional_metric_names:
        objective_spec["additionalMetricNames"] = list(additional_metric_names)
    template: dict[str, Any] = {
        "command": [
            sys.executable,
            str(script),
            *[f"{p.name}=${{trialParameters.{p.name}}}" for p in searched],
        ],
        # The code's digest is part of the spec: changed code is a different experiment.
        "env": {"TUNERY_OBJECTIVE_SHA256": digest[:16], **dict(env or {})},
    }
    if timeout is not None:
        template["timeout"] = timeout
    spec_doc: dict[str, Any] = {
        "objective": objective_spec,
        "algorithm": {
            "algorithmName": algorithm,
            "algorithmSettings": [
                {"name": k, "value": str(v)} for k, v in (algorithm_settings or {}).items()
            ],
        },
        "parallelTrialCount": parallel_trial_count,
        "maxTrialCount": max_trial_count,
        "parameters": [],
        "trialTemplate": template,
    }
    if max_failed_trial_count is not None:
        spec_doc["maxFailedTrialCount"] = max_failed_trial_count
    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": exp_name},
        "spec": spec_doc,
    }
    from tunery.spec.katib import parameter_to_document

    spec_doc["parameters"] = [parameter_to_document(p) for p in searched]
    spec = parse_document(doc)

    client = Client(storage)
    existing = client.store.find_experiment(exp_name)
    if existing is None:
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(code)
        try:
            client.create_experiment(spec, base_dir=os.getcwd(), runs_dir=runs)
        except AlreadyExistsError:  # created by a racing process: fall through to resume
            existing = client.store.get_experiment(exp_name)
    if existing is not None and existing.spec != spec:
        raise UserInputError(
            f"an experiment named {exp_name!r} already exists with other settings or code",
            "choose another name=, or delete it with tunery.Client().delete_experiment(name)",
        )
    if not script.exists():
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(code)
    handle = ExperimentHandle(client, exp_name, executor=executor)
    handle.start()
    if wait:
        handle.wait()
    return handle
