"""Optuna interop: a tunery experiment as an ``optuna.Study`` and back.

* :func:`to_study` builds a study (in memory, or in any Optuna storage: an RDB URL, a
  ``JournalStorage``) holding every finished trial of an experiment: parameters with their
  distributions (from the parameter types), values (several with several objectives),
  intermediate values (the first objective's curve by step), states, and tunery's status,
  reason and metric summaries as user attributes.  ``optuna.visualization`` and
  optuna-dashboard read it like any study::

      study = tunery.integration.optuna.to_study("mnist")
      optuna.visualization.plot_optimization_history(study).show()

      tunery export mnist -o optuna-journal mnist.log
      optuna-dashboard mnist.log

* :func:`import_study` stores an Optuna study (RDB or journal) as a finished tunery
  experiment (``tunery import optuna``): a native spec derived from its distributions and
  directions, a trial per finished Optuna trial with its values and intermediate values.

Mapping (tunery -> Optuna): ``double`` -> ``FloatDistribution`` (``logUniform``/``logNormal``
-> ``log=True``; a ``step`` -> ``step``; ``normal`` has no Optuna counterpart and is shown as
its bounds), ``int`` -> ``IntDistribution``, ``discrete`` and ``categorical`` ->
``CategoricalDistribution``.  States: Succeeded -> COMPLETE, EarlyStopped -> PRUNED, Failed,
MetricsUnavailable and Killed -> FAIL; trials still running and trials killed by an
interruption (run again on resume) are left out.  Constraints become Optuna's ``constraints``
system attribute (each bound's value minus bound, <= 0 when met), as Optuna's samplers store
them.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

try:
    import optuna
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.study import StudyDirection
    from optuna.trial import FrozenTrial, TrialState, create_trial
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'tunery.integration.optuna needs Optuna: pip install "tunery[optuna]"'
    ) from exc

from tunery.errors import UserInputError
from tunery.model import (
    Distribution,
    Experiment,
    ObjectiveType,
    ParameterSpec,
    ParameterType,
    Trial,
    TrialCondition,
    is_interrupted,
)
from tunery.objectives import objective_values, violations
from tunery.space import SearchSpace

if TYPE_CHECKING:
    from tunery.client import Client

__all__ = ["distribution_of", "import_study", "journal_storage", "load_study", "to_study"]

_STATES = {
    TrialCondition.SUCCEEDED: TrialState.COMPLETE,
    TrialCondition.EARLY_STOPPED: TrialState.PRUNED,
    TrialCondition.FAILED: TrialState.FAIL,
    TrialCondition.METRICS_UNAVAILABLE: TrialState.FAIL,
    TrialCondition.KILLED: TrialState.FAIL,
}
_LOG = (Distribution.LOG_UNIFORM, Distribution.LOG_NORMAL)


def distribution_of(param: ParameterSpec) -> BaseDistribution:
    """The Optuna distribution of a tunery parameter."""
    fs = param.feasible_space
    log = fs.distribution in _LOG
    if param.parameter_type is ParameterType.DOUBLE:
        step = float(fs.step) if fs.step and not log else None
        return FloatDistribution(float(fs.min or 0), float(fs.max or 0), log=log, step=step)
    if param.parameter_type is ParameterType.INT:
        step = int(float(fs.step)) if fs.step else 1
        return IntDistribution(
            int(float(fs.min or 0)), int(float(fs.max or 0)), log=log and step == 1, step=step
        )
    space = SearchSpace([param])
    choices: list[Any] = []
    for entry in fs.list:
        value = space.validate_value(param.name, entry)
        if value not in choices:
            choices.append(value)
    return CategoricalDistribution(choices)


def _when(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds)


def _param_value(distribution: BaseDistribution, value: Any) -> Any:
    """``value`` as the distribution holds it (a categorical's own choice), or None when
    it is outside the distribution."""
    if isinstance(distribution, CategoricalDistribution):
        for choice in distribution.choices:
            if choice == value or str(choice) == str(value):
                return choice
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if isinstance(distribution, IntDistribution):
        number = round(number)
    if not distribution._contains(distribution.to_internal_repr(number)):
        return None
    return number


def _frozen(
    exp: Experiment,
    trial: Trial,
    distributions: Mapping[str, BaseDistribution],
    curve: Mapping[int, float],
) -> FrozenTrial | None:
    state = _STATES.get(trial.status)
    if state is None or is_interrupted(trial):
        return None
    objective = exp.spec.objective
    values = objective_values(objective, trial)
    if state is TrialState.COMPLETE and (
        values is None or not all(math.isfinite(v) for v in values)
    ):
        state, values = TrialState.FAIL, None
    params: dict[str, Any] = {}
    dists: dict[str, BaseDistribution] = {}
    for name, raw in trial.parameters.items():
        distribution = distributions.get(name)
        value = None if distribution is None else _param_value(distribution, raw)
        if distribution is not None and value is not None:
            params[name], dists[name] = value, distribution
    start = _when(trial.start_time or trial.created_time)
    complete = _when(trial.completion_time) or start
    system: dict[str, Any] = {}
    if objective.constraints:
        violated = violations(objective, trial)
        if violated is not None:
            system["constraints"] = list(violated)
    user = {
        "tunery_trial": trial.name,
        "tunery_status": trial.status.value,
        "tunery_reason": trial.reason or "",
        "tunery_metrics": {
            name: {"min": s.min, "max": s.max, "latest": s.latest}
            for name, s in trial.metrics.items()
        },
    }
    frozen = create_trial(
        state=state,
        values=list(values) if state is TrialState.COMPLETE and values is not None else None,
        params=params,
        distributions=dists,
        user_attrs=user,
        system_attrs=system,
        intermediate_values={s: v for s, v in curve.items() if math.isfinite(v)},
    )
    if start is not None:
        frozen.datetime_start = start
        frozen.datetime_complete = complete
    return frozen


def _experiment_of(exp_or_name: Any, client: Client | None, namespace: str | None) -> Any:
    """(client, experiment) of a name, an ExperimentHandle or a stored Experiment."""
    from tunery.client import Client
    from tunery.handle import ExperimentHandle

    if isinstance(exp_or_name, ExperimentHandle):
        return exp_or_name.client, exp_or_name.experiment
    client = client or Client()
    if isinstance(exp_or_name, Experiment):
        return client, client.store.get_experiment(exp_or_name.key)
    return client, client.get_experiment(str(exp_or_name), namespace)


def to_study(
    exp_or_name: Any,
    storage: Any = None,
    *,
    client: Client | None = None,
    namespace: str | None = None,
    study_name: str | None = None,
) -> optuna.Study:
    """An ``optuna.Study`` holding the finished trials of an experiment.

    ``exp_or_name``: an experiment name (in ``client``'s store, default ``Client()``), an
    :class:`~tunery.handle.ExperimentHandle` or a stored :class:`~tunery.model.Experiment`.
    ``storage``: None (in memory), an Optuna storage URL or object (e.g.
    :func:`journal_storage`); the study, named ``study_name`` (default: the experiment's
    name), must not exist there yet.  Cost: one read of the trials, one of the first
    objective's curves, one ``add_trials`` call.
    """
    client, exp = _experiment_of(exp_or_name, client, namespace)
    spec = exp.spec
    distributions = {p.name: distribution_of(p) for p in spec.parameters}
    terms = spec.objective.terms
    directions = [
        StudyDirection.MAXIMIZE if t.type is ObjectiveType.MAXIMIZE else StudyDirection.MINIMIZE
        for t in terms
    ]
    curves: dict[str, dict[int, float]] = {}
    for obs in client.store.get_observations(exp.key, metric=terms[0].metric):
        if obs.value is not None:
            curves.setdefault(obs.trial_name, {})[obs.step] = obs.value
    frozen = [
        f
        for t in client.store.list_trials(exp.key)
        if (f := _frozen(exp, t, distributions, curves.get(t.name, {}))) is not None
    ]
    name = study_name or exp.name
    try:
        study = optuna.create_study(storage=storage, study_name=name, directions=directions)
    except optuna.exceptions.DuplicatedStudyError:
        raise UserInputError(
            f"an Optuna study named {name!r} already exists in that storage",
            "choose another study name, or another storage (file)",
        ) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([t.metric for t in terms])
    study.set_user_attr("tunery_experiment", exp.key)
    study.set_user_attr("tunery_status", exp.shown_status)
    study.set_user_attr("tunery_spec", dict(exp.document))
    study.add_trials(frozen)
    return study


def journal_storage(path: str | os.PathLike[str]) -> JournalStorage:
    """Optuna's journal storage in file ``path`` (what optuna-dashboard opens)."""
    return JournalStorage(JournalFileBackend(os.fspath(path)))


# --------------------------------------------------------------------------- import


def storage_of(source: str) -> Any:
    """An Optuna storage from a URL (``sqlite:///optuna.db``, ``postgresql://...``), a journal
    file or an SQLite file path; UserInputError for a missing file."""
    if "://" in source:
        return source
    if not os.path.isfile(source):
        raise UserInputError(
            f"no Optuna storage at {source}: not a URL and no such file",
            "give a storage URL (sqlite:///optuna.db) or an Optuna journal file",
        )
    with open(source, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SQLite format 3"):
        return f"sqlite:///{os.path.abspath(source)}"
    return journal_storage(source)


def load_study(source: str, study_name: str | None = None) -> optuna.Study:
    """The study ``study_name`` of a storage URL or journal file (the only one when None)."""
    storage = storage_of(source)
    try:
        names = optuna.get_all_study_names(storage)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserInputError(
            f"cannot read Optuna storage {source}: {first}",
            "give a storage URL (sqlite:///optuna.db) or an Optuna journal file",
        ) from None
    if study_name is None:
        if len(names) != 1:
            raise UserInputError(
                f"Optuna storage {source} holds {len(names)} studies"
                + (f" ({', '.join(names)})" if names else ""),
                "name one with --study NAME" if names else "give a storage with a study",
            )
        study_name = names[0]
    elif study_name not in names:
        raise UserInputError(
            f"Optuna storage {source} has no study {study_name!r}",
            f"use one of: {', '.join(names)}" if names else "it holds no study",
        )
    return optuna.load_study(study_name=study_name, storage=storage)


def dns_name(text: str) -> str:
    """A DNS label from a study name (lower case, ``-`` for anything else)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return name or "optuna-study"


def _merge(name: str, found: Sequence[BaseDistribution]) -> dict[str, Any]:
    """A native parameter document covering every distribution ``name`` had."""
    if all(isinstance(d, CategoricalDistribution) for d in found):
        choices: list[Any] = []
        for d in found:
            assert isinstance(d, CategoricalDistribution)
            choices.extend(c for c in d.choices if c not in choices)
        numeric = all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in choices
        )
        return {
            "name": name,
            "parameterType": "discrete" if numeric else "categorical",
            "feasibleSpace": {"list": [str(c) for c in choices]},
        }
    if all(isinstance(d, IntDistribution) for d in found):
        ints = [d for d in found if isinstance(d, IntDistribution)]
        space: dict[str, Any] = {
            "min": str(min(d.low for d in ints)),
            "max": str(max(d.high for d in ints)),
        }
        if ints[0].step != 1:
            space["step"] = str(ints[0].step)
        if ints[0].log:
            space["distribution"] = "logUniform"
        return {"name": name, "parameterType": "int", "feasibleSpace": space}
    if all(isinstance(d, FloatDistribution | IntDistribution) for d in found):
        nums = [d for d in found if isinstance(d, FloatDistribution | IntDistribution)]
        space = {
            "min": repr(float(min(d.low for d in nums))),
            "max": repr(float(max(d.high for d in nums))),
        }
        first = nums[0]
        if isinstance(first, FloatDistribution) and first.step is not None:
            space["step"] = repr(first.step)
        if first.log:
            space["distribution"] = "logUniform"
        return {"name": name, "parameterType": "double", "feasibleSpace": space}
    raise UserInputError(
        f"Optuna parameter {name!r} has distributions tunery cannot join "
        f"({', '.join(sorted({type(d).__name__ for d in found}))})",
        "import a study whose parameter keeps one kind of distribution",
    )


def _metric_names(study: optuna.Study) -> list[str]:
    names = study.metric_names
    n = len(study.directions)
    if not names:
        return ["value"] if n == 1 else [f"value_{i}" for i in range(n)]
    cleaned = [re.sub(r"[\s=]+", "_", str(m)) or f"value_{i}" for i, m in enumerate(names)]
    return cleaned if len(set(cleaned)) == n else [f"value_{i}" for i in range(n)]


_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def import_document(study: optuna.Study, name: str) -> dict[str, Any]:
    """The native experiment document of an Optuna study (its parameters, directions)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.state in _FINISHED]
    found: dict[str, list[BaseDistribution]] = {}
    for t in trials:
        for pname, d in t.distributions.items():
            found.setdefault(pname, [])
            if d not in found[pname]:
                found[pname].append(d)
    if not found:
        raise UserInputError(
            f"Optuna study {study.study_name!r} has no finished trial with parameters",
            "import a study with at least one finished trial",
        )
    metrics = _metric_names(study)
    directions = [
        "maximize" if d is StudyDirection.MAXIMIZE else "minimize" for d in study.directions
    ]
    spec: dict[str, Any] = {
        "objective": {
            "type": directions[0],
            "objectiveMetricName": metrics[0],
            "metricStrategies": [{"name": m, "value": "latest"} for m in metrics],
        },
        "algorithm": {"algorithmName": "tpe"},
        "parallelTrialCount": 1,
        "maxTrialCount": max(1, len(trials)),
        "parameters": [_merge(p, ds) for p, ds in found.items()],
        "trialTemplate": {
            "command": [
                "python3",
                "-c",
                f"import sys; sys.exit('experiment {name} was imported from Optuna study "
                f"{study.study_name}: it has no trial command; run it with a file of yours')",
                *[f"--{p}=${{trialParameters.{p}}}" for p in found],
            ]
        },
    }
    if len(metrics) > 1:
        spec["objectives"] = [
            {"metric": m, "direction": d, "strategy": "latest"}
            for m, d in zip(metrics, directions, strict=True)
        ]
    return {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {
            "name": name,
            "annotations": {"tunery.dev/imported-from": f"optuna:{study.study_name}"},
        },
        "spec": spec,
    }


def _summaries(points: Sequence[tuple[int, float]]) -> Any:
    from tunery.model import MetricSummary

    summary = MetricSummary()
    for _, value in points:
        summary = summary.add(value)
    return summary


def import_study(
    study: optuna.Study,
    *,
    client: Client | None = None,
    name: str | None = None,
    namespace: str | None = None,
) -> Experiment:
    """Store ``study`` as a finished tunery experiment named ``name`` (default: the study's
    name as a DNS label) and return it.

    Each finished Optuna trial becomes a trial: COMPLETE -> Succeeded, PRUNED -> EarlyStopped,
    FAIL -> Failed; its intermediate values become the first objective's curve and its
    value(s) the last point of each objective's curve (the objectives read ``latest``);
    running and waiting trials are left out.  The experiment ends Succeeded
    (``ExperimentMaxTrialsReached``, maxTrialCount = the trials imported), an ordinary
    finished experiment: ``tunery trials``, the UI, warm starts read it.
    """
    from tunery.client import Client
    from tunery.clock import SystemClock
    from tunery.ledger import Batch, TrialLedger
    from tunery.model import (
        Assignment,
        ExperimentCondition,
        ExperimentReason,
        Observation,
        TrialReason,
        objective_value,
    )
    from tunery.spec import parse_document

    client = client or Client()
    exp_name = name or dns_name(study.study_name)
    doc = import_document(study, exp_name)
    if namespace is not None:
        doc["metadata"]["namespace"] = namespace
    spec = parse_document(doc)
    made = client.create_experiment(spec, trial_dirs=False)
    metrics = [t.metric for t in spec.objective.terms]
    states = {
        TrialState.COMPLETE: (TrialCondition.SUCCEEDED, TrialReason.SUCCEEDED),
        TrialState.PRUNED: (TrialCondition.EARLY_STOPPED, TrialReason.EARLY_STOPPED),
        TrialState.FAIL: (TrialCondition.FAILED, TrialReason.FAILED),
    }
    space = SearchSpace(spec.parameters)
    ledger = TrialLedger(client.store, made.key)
    now = SystemClock().now()
    ledger.acquire(now)
    try:
        ledger.load(spec.objective)
        for ot in study.get_trials(deepcopy=False):
            if ot.state not in states:
                continue
            status, reason = states[ot.state]
            params = {}
            for pname, value in ot.params.items():
                try:
                    params[pname] = space.validate_value(pname, value)
                except UserInputError:
                    params[pname] = value
            start = ot.datetime_start.timestamp() if ot.datetime_start else now
            end = ot.datetime_complete.timestamp() if ot.datetime_complete else start
            trial = ledger.create_trial(
                Assignment(params, labels={"tunery.dev/optuna-trial": str(ot.number)}),
                start,
                status=status,
                reason=reason,
                message=f"imported from Optuna trial {ot.number} ({ot.state.name})",
            )
            curves: dict[str, list[tuple[int, float]]] = {}
            steps = sorted(ot.intermediate_values.items())
            curves[metrics[0]] = [(s, v) for s, v in steps if math.isfinite(v)]
            last = steps[-1][0] + 1 if steps else 0
            for metric, value in zip(metrics, ot.values or (), strict=False):
                if value is not None and math.isfinite(value):
                    curves.setdefault(metric, []).append((last, value))
            observations = [
                Observation(trial.name, m, v, s, end) for m, pts in curves.items() for s, v in pts
            ]
            summaries = {m: _summaries(pts) for m, pts in curves.items() if pts}
            trial = ledger.record(trial, Batch(observations, summaries, {}, {}, None, False))
            ledger.transition(
                trial,
                (status,),
                completion_time=end,
                objective=objective_value(spec.objective, summaries),
            )
        client.store.set_experiment_status(
            made.key,
            ExperimentCondition.SUCCEEDED,
            ExperimentReason.MAX_TRIALS_REACHED,
            f"imported from Optuna study {study.study_name} ({len(ledger.trials)} trials)",
            start_time=now,
            completion_time=SystemClock().now(),
        )
    finally:
        ledger.release()
    return client.store.get_experiment(made.key)
