"""Mirror a tunery experiment into MLflow: :class:`MlflowSink`.

One parent run per experiment (its spec as params, its status, budget and best trial as tags),
one nested run per trial (its parameters as params, every stored observation as a metric with
its step and time, its status as the run's status, tunery's status and reason as tags)::

    tunery run experiment.yaml --mlflow sqlite:///mlflow.db
    tunery mlflow sync mnist --uri file:./mlruns      # an experiment that already ran

    exp = tunery.tune(objective, space, "loss", "minimize", mlflow_tracking_uri="file:./mlruns")

The sink only reads the store and writes MLflow: it runs in its own thread beside the
controller (every ``interval`` seconds) and never blocks the controller's loop.  It is
idempotent: the runs are found again by their tags (``tunery.experiment``,
``tunery.trial``), and each trial run carries, per metric, how far its curve was logged
(``tunery.cursor.<metric>``: last step and how many points at that step), written in the same
``log_batch`` call as the points, so a resume, a second ``mlflow sync`` or a crash in between
neither duplicates runs nor metric points.  A curve's steps are taken as non-decreasing (what
the collectors and ``tunery.report`` write); a point whose step goes back behind one already
logged is not logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    from mlflow.entities import Metric, Param, RunStatus, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'tunery.integration.mlflow needs MLflow: pip install "tunery[mlflow]"'
    ) from exc

from tunery.errors import UserInputError
from tunery.model import Experiment, ExperimentCondition, ParameterSpec, Trial, TrialCondition
from tunery.objectives import best_trial, pareto_front
from tunery.storage.base import BaseStore
from tunery.thinning import THINNED_LABEL

__all__ = ["MlflowSink", "run_status", "sync_experiment", "tracking_client"]

log = logging.getLogger("tunery")

#: MLflow's limits per ``log_batch`` call (``mlflow.utils.validation``).
_BATCH_ENTITIES = 1000
_BATCH_PARAMS_TAGS = 100
_TAG_MAX = 8000
_PARAM_MAX = 6000

KIND_TAG = "tunery.kind"
EXPERIMENT_TAG = "tunery.experiment"
CREATED_TAG = "tunery.created"
TRIAL_TAG = "tunery.trial"
STATUS_TAG = "tunery.status"
REASON_TAG = "tunery.reason"
CURSOR_TAG = "tunery.cursor."
PARENT_TAG = "mlflow.parentRunId"

_STATUS = {
    TrialCondition.SUCCEEDED: "FINISHED",
    TrialCondition.FAILED: "FAILED",
    TrialCondition.METRICS_UNAVAILABLE: "FAILED",
    TrialCondition.KILLED: "KILLED",
    TrialCondition.EARLY_STOPPED: "KILLED",
}


def run_status(status: TrialCondition) -> str:
    """The MLflow run status of a trial status: Succeeded is FINISHED, Failed and
    MetricsUnavailable FAILED, Killed and EarlyStopped KILLED (``tunery.status`` keeps the
    exact one), an active trial RUNNING."""
    return _STATUS.get(status, "RUNNING")


_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def _key(name: str) -> str:
    """A metric, param or tag key MLflow accepts (letters, digits, ``_-. /``)."""
    return _BAD_KEY.sub("_", name)[:250]


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _space(p: ParameterSpec) -> str:
    fs = p.feasible_space
    if fs.list:
        text = f"{p.parameter_type.value} {list(fs.list)}"
    else:
        text = f"{p.parameter_type.value} [{fs.min}, {fs.max}]"
        if fs.step:
            text += f" step {fs.step}"
        if fs.distribution is not None:
            text += f" {fs.distribution.value}"
    return text


def _experiment_params(exp: Experiment) -> dict[str, str]:
    """What never changes in an experiment (MLflow params are write-once)."""
    spec = exp.spec
    params = {"algorithm": spec.algorithm.algorithm_name}
    for s in spec.algorithm.algorithm_settings:
        params[f"algorithm.{s.name}"] = s.value
    if spec.early_stopping is not None:
        params["early_stopping"] = spec.early_stopping.algorithm_name
        for s in spec.early_stopping.algorithm_settings:
            params[f"early_stopping.{s.name}"] = s.value
    for i, term in enumerate(spec.objective.terms):
        suffix = "" if len(spec.objective.terms) == 1 else f".{i}"
        params[f"objective{suffix}"] = f"{term.type.value} {term.metric}"
    for c in spec.objective.constraints:
        bounds = [f"{k} {v}" for k, v in (("min", c.min), ("max", c.max)) if v is not None]
        params[f"constraint.{c.metric}"] = " ".join(bounds)
    params["metrics_collector"] = spec.metrics_collector.kind.value
    for p in spec.parameters:
        params[f"space.{p.name}"] = _space(p)
    return {_key(k): _text(v, _PARAM_MAX) for k, v in params.items()}


def _experiment_tags(exp: Experiment) -> dict[str, str]:
    """What may change (budget, goal, status) or is too long for a param."""
    spec = exp.spec
    tags = {
        STATUS_TAG: exp.shown_status,
        REASON_TAG: exp.reason or "",
        "tunery.namespace": exp.namespace,
        "tunery.max_trial_count": str(spec.max_trial_count or "unlimited"),
        "tunery.parallel_trial_count": str(spec.parallel_trial_count),
        "tunery.max_failed_trial_count": str(spec.max_failed_trial_count or "unlimited"),
    }
    for term in spec.objective.terms:
        if term.goal is not None:
            tags[f"tunery.goal.{_key(term.metric)}"] = str(term.goal)
    return tags


@dataclass
class _Mirror:
    """What the sink knows of one trial's run."""

    run_id: str
    #: Per metric: the last step logged and how many points were logged at that step.
    cursor: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Stored observations already read (offset of the next read; 0 after thinning).
    seen: int = 0
    done: bool = False
    labels: dict[str, str] = field(default_factory=dict)


def _cursor_of(tags: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    cursor = {}
    for key, value in tags.items():
        if key.startswith(CURSOR_TAG):
            step, _, n = value.partition(":")
            try:
                cursor[key[len(CURSOR_TAG) :]] = (int(step), int(n))
            except ValueError:
                continue
    return cursor


def _uri_error(uri: str, exc: Exception) -> UserInputError:
    text = str(exc)
    if "MLFLOW_ALLOW_FILE_STORE" in text:
        return UserInputError(
            f"MLflow tracking URI {uri}: MLflow {_version()} refuses its file store unless "
            "MLFLOW_ALLOW_FILE_STORE=true is set",
            "use a database (sqlite:///mlflow.db) or set MLFLOW_ALLOW_FILE_STORE=true",
        )
    first = re.split(r"(?<=\.)\s", text.strip(), maxsplit=1)[0].rstrip(".;") if text else ""
    return UserInputError(
        f"MLflow tracking URI {uri}: {first or type(exc).__name__}",
        "give a tracking URI such as sqlite:///mlflow.db, file:./mlruns or http://host:5000",
    )


def _version() -> str:
    import mlflow

    return str(mlflow.__version__)


def tracking_client(uri: str) -> Any:
    """An ``MlflowClient`` of ``uri`` that has answered once (a database is created and
    migrated, a server reached); :class:`~tunery.errors.UserInputError` in one line otherwise."""
    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except MlflowException as exc:
        raise _uri_error(uri, exc) from exc
    except Exception as exc:  # e.g. an unreachable server, an unwritable path
        raise _uri_error(uri, exc) from exc
    return client


class MlflowSink:
    """Mirrors experiment ``key`` of ``store`` into the MLflow tracking store at
    ``tracking_uri`` (``file:./mlruns``, ``sqlite:///mlflow.db``, ``http://host:5000``...).

    ``experiment_name``: the MLflow experiment holding the runs (default: the tunery
    experiment's name).  :meth:`open` finds or creates the runs and raises
    :class:`~tunery.errors.UserInputError` for an unusable URI; :meth:`sync` logs what changed
    since the last call; :meth:`start` runs :meth:`sync` every ``interval`` seconds in a
    daemon thread and :meth:`close` stops it, syncs a last time and ends the parent run as
    the experiment stands.  A sync that fails (the tracking store unreachable) is logged as
    a warning and retried at the next interval: MLflow never stops an experiment.
    """

    def __init__(
        self,
        store: BaseStore,
        key: str,
        tracking_uri: str,
        *,
        experiment_name: str | None = None,
        interval: float = 2.0,
    ) -> None:
        self.store = store
        self.key = key
        self.tracking_uri = tracking_uri
        self.interval = interval
        self._experiment_name = experiment_name
        self.client: Any = None
        self.experiment_id = ""
        self.parent_id = ""
        self._runs: dict[str, _Mirror] = {}
        self._parent_tags: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        #: Points, params and tags logged so far by this sink (for tests and reports).
        self.logged = 0

    @property
    def runs(self) -> dict[str, str]:
        """The MLflow run id of each mirrored trial, by trial name."""
        return {name: m.run_id for name, m in self._runs.items()}

    # ------------------------------------------------------------------ setup

    def open(self) -> MlflowSink:
        """Find or create the MLflow experiment, the parent run and the trial runs."""
        if self.client is not None:
            return self
        exp = self.store.get_experiment(self.key)
        name = self._experiment_name or exp.name
        client = tracking_client(self.tracking_uri)
        try:
            found = client.get_experiment_by_name(name)
            if found is None:
                self.experiment_id = client.create_experiment(name)
            elif found.lifecycle_stage != "active":
                raise UserInputError(
                    f"MLflow experiment {name!r} at {self.tracking_uri} is deleted",
                    "restore it (mlflow experiments restore) or remove it for good "
                    "(mlflow gc), then run again",
                )
            else:
                self.experiment_id = found.experiment_id
            self.client = client
            self._find_runs(exp)
        except MlflowException as exc:
            raise _uri_error(self.tracking_uri, exc) from exc
        return self

    def _search(self, filter_string: str) -> list[Any]:
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def _find_runs(self, exp: Experiment) -> None:
        created = repr(exp.created_time)
        parents = [
            r
            for r in self._search(
                f"tags.`{KIND_TAG}` = 'experiment' and tags.`{EXPERIMENT_TAG}` = '{exp.key}'"
            )
            if r.data.tags.get(CREATED_TAG) == created
        ]
        if parents:
            parent = min(parents, key=lambda r: r.info.start_time or 0)
            self.parent_id = parent.info.run_id
            self._parent_tags = dict(parent.data.tags)
        else:
            tags = {KIND_TAG: "experiment", EXPERIMENT_TAG: exp.key, CREATED_TAG: created}
            run = self.client.create_run(
                self.experiment_id, start_time=_ms(exp.created_time), tags=tags, run_name=exp.name
            )
            self.parent_id = run.info.run_id
            self._parent_tags = dict(tags)
            params = [Param(k, v) for k, v in _experiment_params(exp).items()]
            spec_text = json.dumps(dict(exp.document), default=str)
            extra = [RunTag("tunery.spec", spec_text)] if len(spec_text) <= _TAG_MAX else []
            self._log(self.parent_id, params=params, tags=extra)
        for run in self._search(f"tags.`{PARENT_TAG}` = '{self.parent_id}'"):
            tags = run.data.tags
            trial = tags.get(TRIAL_TAG)
            if trial is None or trial in self._runs:
                continue
            terminal = run.info.status != "RUNNING" and tags.get(STATUS_TAG) not in (
                None,
                TrialCondition.RUNNING.value,
                TrialCondition.CREATED.value,
            )
            self._runs[trial] = _Mirror(run.info.run_id, _cursor_of(tags), done=terminal)

    def _log(
        self,
        run_id: str,
        *,
        metrics: Sequence[Any] = (),
        params: Sequence[Any] = (),
        tags: Sequence[Any] = (),
    ) -> None:
        """``log_batch`` within MLflow's limits (params and tags in calls of 100)."""
        items = list(params) + list(tags)
        for i in range(0, max(len(items), 1), _BATCH_PARAMS_TAGS):
            chunk = items[i : i + _BATCH_PARAMS_TAGS]
            if not chunk and not metrics:
                return
            p = [x for x in chunk if isinstance(x, Param)]
            t = [x for x in chunk if isinstance(x, RunTag)]
            self.client.log_batch(run_id, metrics=list(metrics), params=p, tags=t)
            self.logged += len(chunk) + len(metrics)
            metrics = ()

    # ------------------------------------------------------------------ syncing

    def sync(self) -> None:
        """Log what changed in the store since the last sync (opens the sink if needed)."""
        self.open()
        with self._lock:
            exp = self.store.get_experiment(self.key)
            trials = self.store.list_trials(self.key)
            for trial in trials:
                self._sync_trial(trial)
            self._sync_parent(exp, trials)

    def _sync_trial(self, trial: Trial) -> None:
        mirror = self._runs.get(trial.name)
        if mirror is not None and mirror.done:
            return
        if trial.status is TrialCondition.CREATED and trial.start_time is None:
            return
        if mirror is None:
            tags = {
                PARENT_TAG: self.parent_id,
                KIND_TAG: "trial",
                EXPERIMENT_TAG: self.key,
                TRIAL_TAG: trial.name,
                STATUS_TAG: trial.status.value,
            }
            run = self.client.create_run(
                self.experiment_id,
                start_time=_ms(trial.start_time or trial.created_time),
                tags=tags,
                run_name=trial.name,
            )
            mirror = self._runs[trial.name] = _Mirror(run.info.run_id)
            params = [Param(_key(k), _text(v, _PARAM_MAX)) for k, v in trial.parameters.items()]
            self._log(mirror.run_id, params=params)
        labels = {f"tunery.label.{_key(k)}": _text(v, _TAG_MAX) for k, v in trial.labels.items()}
        if labels != mirror.labels:
            self._log(mirror.run_id, tags=[RunTag(k, v) for k, v in labels.items()])
            mirror.labels = labels
        self._sync_curves(trial, mirror)
        if trial.status.is_completed:
            self._finish_trial(trial, mirror)

    def _sync_curves(self, trial: Trial, mirror: _Mirror) -> None:
        """Log the trial's observations not logged yet, in slices that carry their cursor.

        Read from the last offset (every row new) while the curve is not thinned; from the
        start otherwise and after a restart, then the cursor says which were logged."""
        thinned = THINNED_LABEL in trial.labels
        offset = 0 if thinned else mirror.seen
        rows = self.store.get_observations(self.key, trial.name, offset=offset)
        mirror.seen = 0 if thinned else offset + len(rows)
        cursor = mirror.cursor
        at_last: dict[str, int] = {}
        fresh: list[tuple[str, int, float | None, float | None]] = []
        for obs in rows:
            metric = _key(obs.metric_name)
            if offset == 0 and metric in cursor:
                last_step, n = cursor[metric]
                if obs.step < last_step:
                    continue
                if obs.step == last_step:
                    at_last[metric] = at_last.get(metric, 0) + 1
                    if at_last[metric] <= n:
                        continue
            fresh.append((metric, obs.step, obs.value, obs.timestamp))
        size = _BATCH_ENTITIES - _BATCH_PARAMS_TAGS
        for i in range(0, len(fresh), size):
            metrics = []
            touched = set()
            for metric, step, value, stamp in fresh[i : i + size]:
                if value is not None:
                    metrics.append(Metric(metric, value, _ms(stamp) or 0, step))
                last = cursor.get(metric)
                if last is None or step > last[0]:
                    cursor[metric] = (step, 1)
                elif step == last[0]:
                    cursor[metric] = (step, last[1] + 1)
                touched.add(metric)
            tags = [RunTag(CURSOR_TAG + k, f"{cursor[k][0]}:{cursor[k][1]}") for k in touched]
            self._log(mirror.run_id, metrics=metrics, tags=tags)

    def _finish_trial(self, trial: Trial, mirror: _Mirror) -> None:
        tags = [
            RunTag(STATUS_TAG, trial.status.value),
            RunTag(REASON_TAG, trial.reason or ""),
            RunTag("tunery.message", _text(trial.message or "", _TAG_MAX)),
        ]
        metrics = []
        if trial.objective is not None:
            stamp = _ms(trial.completion_time) or 0
            metrics.append(Metric("tunery.objective", trial.objective, stamp, 0))
        self._log(mirror.run_id, metrics=metrics, tags=tags)
        self.client.set_terminated(
            mirror.run_id, run_status(trial.status), end_time=_ms(trial.completion_time)
        )
        mirror.done = True

    def _sync_parent(self, exp: Experiment, trials: Sequence[Trial]) -> None:
        tags = _experiment_tags(exp)
        objective = exp.spec.objective
        if objective.is_multi:
            front = sorted(t.name for t in pareto_front(objective, trials))
            tags["tunery.pareto_front"] = _text(",".join(front), _TAG_MAX)
        else:
            best = best_trial(objective, trials)
            if best is not None:
                tags["tunery.best_trial"] = best.name
                mirror = self._runs.get(best.name)
                if mirror is not None:
                    tags["tunery.best_run_id"] = mirror.run_id
                if best.objective is not None:
                    tags["tunery.best_objective"] = repr(best.objective)
        changed = {k: v for k, v in tags.items() if self._parent_tags.get(k) != v}
        if changed:
            self._mark_best(tags)
            self._log(self.parent_id, tags=[RunTag(k, v) for k, v in changed.items()])
            self._parent_tags.update(changed)

    def _mark_best(self, tags: Mapping[str, str]) -> None:
        """Tag the best trial's run (or the Pareto front's) ``tunery.best``; untag others."""

        def names(key: str, mapping: Mapping[str, str]) -> set[str]:
            value = mapping.get(key)
            return set(value.split(",")) if value else set()

        key = "tunery.pareto_front" if "tunery.pareto_front" in tags else "tunery.best_trial"
        old, new = names(key, self._parent_tags), names(key, tags)
        for name in old - new:
            mirror = self._runs.get(name)
            if mirror is not None:
                self.client.set_tag(mirror.run_id, "tunery.best", "false")
        for name in new - old:
            mirror = self._runs.get(name)
            if mirror is not None:
                self.client.set_tag(mirror.run_id, "tunery.best", "true")

    def finish(self) -> None:
        """A last sync, then the parent run's status: FINISHED when the experiment
        Succeeded, FAILED when it Failed, KILLED when it stopped unfinished (interrupted)."""
        self.sync()
        exp = self.store.get_experiment(self.key)
        if exp.status is ExperimentCondition.SUCCEEDED:
            status = "FINISHED"
        elif exp.status is ExperimentCondition.FAILED:
            status = "FAILED"
        else:
            status = "KILLED"
        self.client.set_terminated(self.parent_id, status, end_time=_ms(exp.completion_time))

    def reopen(self) -> None:
        """Mark the parent run RUNNING again (a resumed experiment)."""
        self.open()
        run = self.client.get_run(self.parent_id)
        if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
            self.client.update_run(self.parent_id, status="RUNNING")

    # ------------------------------------------------------------------ the side process

    def start(self) -> MlflowSink:
        """Open, mark the parent running, and sync every ``interval`` seconds beside the
        caller: in a child process for a database store (MLflow's logging is CPU-bound
        Python: in a thread it would hold the GIL against the controller's loop), else in
        a daemon thread."""
        self.reopen()
        db = _database_url(self.store)
        if db is not None:
            config = {
                "db": db,
                "key": self.key,
                "uri": self.tracking_uri,
                "experiment": self._experiment_name,
                "interval": self.interval,
            }
            # The child imports this very tunery, wherever it was imported from.
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tunery.integration.mlflow"],
                stdin=subprocess.PIPE,
                env={**os.environ, _CHILD_ENV: json.dumps(config), "PYTHONPATH": path},
            )
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"tunery-mlflow-{self.key}", daemon=True
        )
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._safe(self.sync)

    def _safe(self, action: Any) -> bool:
        try:
            action()
            return True
        except Exception as exc:  # MLflow must never stop the experiment
            text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if text not in self._warned:
                self._warned.add(text)
                log.warning("MLflow sync to %s failed (retrying): %s", self.tracking_uri, text)
            return False

    def close(self) -> bool:
        """Stop the syncing, sync a last time and end the parent run; False when that failed
        (a warning says why)."""
        if self._process is not None:
            process, self._process = self._process, None
            assert process.stdin is not None
            process.stdin.close()  # the child's signal: a last sync, then exit
            if process.wait() == 0:
                return True
            # The child could not do it (it said why on standard error): do it here.
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        return self._safe(self.finish)

    def __enter__(self) -> MlflowSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def sync_experiment(
    store: BaseStore, key: str, tracking_uri: str, *, experiment_name: str | None = None
) -> MlflowSink:
    """Mirror experiment ``key`` into MLflow once (``tunery mlflow sync``): runs created or
    completed, missing points logged; the parent run ended when the experiment has."""
    sink = MlflowSink(store, key, tracking_uri, experiment_name=experiment_name).open()
    exp = store.get_experiment(key)
    if exp.status.is_completed:
        sink.finish()
    else:
        sink.sync()
    return sink


#: The environment variable that hands the child process its work (JSON).
_CHILD_ENV = "TUNERY_MLFLOW_SINK"


def _database_url(store: BaseStore) -> str | None:
    """The store's database URL, password included (the child opens its own connection; it
    travels in the environment, not in argv), or None for a store with no database."""
    url = getattr(store, "_url", None)
    if url is None or str(getattr(url, "database", None) or "") in ("", ":memory:"):
        return None
    return str(url.render_as_string(hide_password=False))


def _child() -> int:
    """The side process of :meth:`MlflowSink.start`: sync every interval until standard
    input closes (the parent's ``close``, or the parent's death), then a last sync."""
    import signal

    from tunery.storage import Store

    # Ctrl-C reaches the whole process group: the parent decides when this child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = json.loads(os.environ[_CHILD_ENV])
    os.nice(10)  # behind the controller and the trials when CPUs are short
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    closed = threading.Event()

    def _watch() -> None:
        sys.stdin.buffer.read()
        closed.set()

    threading.Thread(target=_watch, daemon=True).start()
    store = Store(config["db"])
    sink = MlflowSink(
        store,
        config["key"],
        config["uri"],
        experiment_name=config["experiment"],
        interval=config["interval"],
    )
    if not sink._safe(sink.open):
        closed.wait()
        return 1
    while not closed.wait(sink.interval):
        sink._safe(sink.sync)
    return 0 if sink._safe(sink.finish) else 1


if __name__ == "__main__":
    sys.exit(_child())
