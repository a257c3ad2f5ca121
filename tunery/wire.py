"""The one wire format of tunery's faces: the CLI's ``--json``, the UI's API and the CSV export.

A trial, an experiment and an experiment's trial counts have one camelCase JSON shape each,
built here and nowhere else:

- **trial** (:func:`trial_json`, :func:`trial_row_json`): ``name``, ``index``, ``status``,
  ``reason``, ``message``, ``parameters``, ``metrics`` (``min``/``max``/``latest`` per
  metric), ``objective``, ``labels``, ``createdTime``, ``startTime``, ``completionTime``,
  ``metricsPath``, and where the caller gives the experiment's objective, ``objectives`` (each
  objective's value, null when any is missing) and ``feasible`` (true/false by the
  constraints; null without constraints or before a constraint's metric has a value); a
  metric whose latest value was a string (Katib's ``Best-Genotype``) has ``text`` too in
  ``metrics``, and a trial whose objective is such a string has ``objectiveText`` (its
  ``objective`` is null; the CSV's ``objective`` and ``latest`` cells hold the string);
- **experiment** (:func:`experiment_json`): ``name``, ``namespace``, ``status``, ``reason``,
  ``message``, ``algorithm``, ``objective``, ``parameters`` (as in the document),
  ``parallelTrialCount``, ``maxTrialCount``, ``best`` (the best objective value), ``trials``
  (:func:`trial_counts`), ``createdTime``, ``startTime``, ``completionTime``, ``objectives``
  (``metric``, ``direction``, ``goal`` each), ``constraints`` (``metric``, ``min``, ``max``),
  ``bestTrial`` (a trial) where the caller read it, and for several objectives, where the
  caller read it, ``paretoFront`` (trial names), ``hypervolume`` and ``referencePoint`` (in the
  metrics' units; :func:`tunery.objectives.front_summary`);
- **CSV** (:func:`csv_text`): one row per trial, the columns of :func:`csv_header`.

Times are ISO 8601 in UTC to the millisecond (:func:`iso`).  This module imports only the
model and :mod:`tunery.objectives` (and, when called, the spec's document writer); both the CLI
and the UI use it.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunery.model import MetricSummary, Objective, Trial, TrialCondition
from tunery.objectives import feasibility, objective_values

if TYPE_CHECKING:
    from tunery.model import Experiment
    from tunery.objectives import FrontSummary

__all__ = [
    "CSV_METRIC_STATS",
    "count_statuses",
    "csv_header",
    "csv_rows",
    "csv_text",
    "experiment_json",
    "iso",
    "trial_counts",
    "trial_json",
    "trial_row_json",
]

#: The summary values of each metric a CSV row holds, in column order.
CSV_METRIC_STATS = ("min", "max", "latest")


def iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 in UTC to the millisecond (``2024-05-01T12:00:00.000Z``);
    None for None or a time no calendar date holds."""
    if ts is None:
        return None
    try:
        whole = math.floor(ts)
        micros = round((ts - whole) * 1e6)  # as datetime rounds, then cut to milliseconds
        if micros >= 1_000_000:
            whole, micros = whole + 1, 0
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    except (OverflowError, OSError, ValueError):
        return None
    return f"{stamp}.{micros // 1000:03d}Z"


# --------------------------------------------------------------------------- trials


def _trial(
    *,
    name: str,
    index: int,
    status: str,
    reason: str | None,
    message: str | None,
    parameters: Mapping[str, Any],
    metrics: dict[str, Any],
    objective: float | None,
    labels: Mapping[str, str],
    created: float | None,
    start: float | None,
    completion: float | None,
    metrics_path: str | None,
) -> dict[str, Any]:
    return {
        "name": name,
        "index": index,
        "status": status,
        "reason": reason,
        "message": message,
        "parameters": dict(parameters),
        "metrics": metrics,
        "objective": objective,
        "labels": dict(labels),
        "createdTime": iso(created),
        "startTime": iso(start),
        "completionTime": iso(completion),
        "metricsPath": metrics_path,
    }


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def objective_fields(objective: Objective, t: Trial) -> dict[str, Any]:
    """``objectives`` and ``feasible`` of a model trial."""
    if not objective.is_multi and not objective.constraints:
        value = _finite(t.objective)
        return {"objectives": None if value is None else [value], "feasible": None}
    values = objective_values(objective, t)
    return {
        "objectives": None if values is None else list(values),
        "feasible": feasibility(objective, t),
    }


def _row_objective_fields(objective: Objective, t: Any) -> dict[str, Any]:
    """``objectives`` and ``feasible`` of a bulk row (metrics as JSON summaries)."""
    if not objective.is_multi and not objective.constraints:
        value = _finite(t.objective)
        return {"objectives": None if value is None else [value], "feasible": None}
    raw = t.metrics if isinstance(t.metrics, Mapping) else {}
    summaries = {
        m: MetricSummary.from_json(raw[m])
        for m in objective.metric_names
        if isinstance(raw.get(m), Mapping)
    }
    trial = Trial(
        t.name,
        "",
        t.trial_index,
        {},
        status=TrialCondition(t.status),
        metrics=summaries,
        objective=t.objective,
    )
    return objective_fields(objective, trial)


def trial_json(t: Trial, objective: Objective | None = None) -> dict[str, Any]:
    """A model trial in the wire shape (``metricsPath``: the file or directory its collector
    reads, its own metrics path or its output log; None before it starts); with the
    experiment's ``objective``, ``objectives`` and ``feasible`` too."""
    data = _trial(
        name=t.name,
        index=t.index,
        status=t.status.value,
        reason=t.reason,
        message=t.message,
        parameters=t.parameters,
        metrics={k: v.to_json() for k, v in t.metrics.items()},
        objective=t.objective,
        labels=t.labels,
        created=t.created_time,
        start=t.start_time,
        completion=t.completion_time,
        metrics_path=t.metrics_source,
    )
    if objective is not None:
        data.update(objective_fields(objective, t))
        if t.objective_text is not None:
            data["objectiveText"] = t.objective_text
    return data


def _row_objective_text(objective: Objective, t: Any) -> str | None:
    """A bulk row's string objective (its summary's ``text`` where the strategy's number is
    unavailable: :meth:`MetricSummary.pick_text`), or None."""
    raw = t.metrics.get(objective.objective_metric_name) if isinstance(t.metrics, Mapping) else None
    if not isinstance(raw, Mapping) or raw.get("text") is None:
        return None
    metric = objective.objective_metric_name
    return MetricSummary.from_json(raw).pick_text(objective.strategy_for(metric))


def trial_row_json(t: Any, objective: Objective | None = None) -> dict[str, Any]:
    """A trial row of :func:`tunery.storage.views.trial_rows` (plain data, read in bulk) in
    the wire shape: the same dict as :func:`trial_json` of the same trial.  The row's objects
    are used as they are (the row is fresh from the database), and the dict is written out
    here rather than through :func:`_trial`: lists of 10,000 trials are built this way."""
    data = {
        "name": t.name,
        "index": t.trial_index,
        "status": t.status,
        "reason": t.reason,
        "message": t.message,
        "parameters": t.parameters,
        "metrics": t.metrics,
        "objective": t.objective,
        "labels": t.labels,
        "createdTime": iso(t.created_time),
        "startTime": iso(t.start_time),
        "completionTime": iso(t.completion_time),
        "metricsPath": t.metrics_source,
    }
    if objective is not None:
        if len(objective.terms) > 1 or objective.constraints:
            data.update(_row_objective_fields(objective, t))
        else:  # one objective (10,000 rows at a time: no call)
            value = t.objective
            finite = isinstance(value, int | float) and math.isfinite(value)
            data["objectives"] = [float(value)] if finite else None
            data["feasible"] = None
        if t.objective is None and (text := _row_objective_text(objective, t)) is not None:
            data["objectiveText"] = text
    return data


# --------------------------------------------------------------------------- counts


def count_statuses(trials: Iterable[Trial]) -> dict[str, int]:
    """Trials by Katib condition (every condition is a key)."""
    counts = {c.value: 0 for c in TrialCondition}
    for t in trials:
        counts[t.status.value] += 1
    return counts


def trial_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts by condition (:func:`count_statuses`, or the store's) in the wire shape:
    ``total``, ``succeeded``, ``failed``, ``running`` (Created too), ``earlyStopped``,
    ``killed``, ``metricsUnavailable``."""
    return {
        "total": sum(counts.values()),
        "succeeded": counts.get(TrialCondition.SUCCEEDED.value, 0),
        "failed": counts.get(TrialCondition.FAILED.value, 0),
        "running": counts.get(TrialCondition.RUNNING.value, 0)
        + counts.get(TrialCondition.CREATED.value, 0),
        "earlyStopped": counts.get(TrialCondition.EARLY_STOPPED.value, 0),
        "killed": counts.get(TrialCondition.KILLED.value, 0),
        "metricsUnavailable": counts.get(TrialCondition.METRICS_UNAVAILABLE.value, 0),
    }


# --------------------------------------------------------------------------- experiments

#: Marks "no bestTrial key" apart from a best trial of None (none yet).
_UNREAD: Any = object()


def experiment_json(
    exp: Experiment,
    counts: Mapping[str, int],
    best: float | None,
    best_trial: Mapping[str, Any] | None = _UNREAD,
    front: FrontSummary | None = None,
    driven: float | None = None,
    seeded: int = 0,
) -> dict[str, Any]:
    """An experiment in the wire shape: ``counts`` by condition, ``best`` its best objective
    value; ``bestTrial`` (a :func:`trial_json` dict, or None when there is none) is a key only
    when ``best_trial`` is given; ``paretoFront``, ``hypervolume`` and ``referencePoint`` only
    for several objectives with ``front`` given; ``timeBudget`` (seconds allowed, driven and
    left, the policy: :func:`tunery.deadline.time_budget_json`) only for an experiment with a
    time budget and ``driven`` (the seconds it was driven) given; ``seededTrials`` only for
    an experiment with ``seeded`` warm-start seeds (counted in ``trials.succeeded`` and
    ``trials.total`` as the Succeeded trials they are stored as, but never run and outside
    ``maxTrialCount``)."""
    from tunery.spec.katib import parameter_to_document
    from tunery.spec.nas import assigned_names

    spec = exp.spec
    obj = spec.objective
    data: dict[str, Any] = {
        "name": exp.name,
        "namespace": spec.namespace,
        "status": exp.shown_status,
        "reason": exp.reason,
        "message": exp.message,
        "algorithm": spec.algorithm.algorithm_name,
        "objective": {
            "type": obj.type.value,
            "objectiveMetricName": obj.objective_metric_name,
            "goal": obj.goal,
            "additionalMetricNames": list(obj.additional_metric_names),
        },
        "parameters": [parameter_to_document(p) for p in spec.parameters],
        "parallelTrialCount": spec.parallel_trial_count,
        "maxTrialCount": spec.max_trial_count,
        "best": best,
        "trials": trial_counts(counts),
        "createdTime": iso(exp.created_time),
        "startTime": iso(exp.start_time),
        "completionTime": iso(exp.completion_time),
        "objectives": [
            {"metric": t.metric, "direction": t.type.value, "goal": t.goal} for t in obj.terms
        ],
        "constraints": [{"metric": c.metric, "min": c.min, "max": c.max} for c in obj.constraints],
    }
    if spec.nas_config is not None:  # a NAS experiment: its algorithm's named strings
        data["assignments"] = list(assigned_names(spec))
    if best_trial is not _UNREAD:
        data["bestTrial"] = None if best_trial is None else dict(best_trial)
    if front is not None and obj.is_multi:
        data["paretoFront"] = [t.name for t in front.front]
        data["hypervolume"] = front.hypervolume
        data["referencePoint"] = None if front.reference is None else list(front.reference)
    if seeded:
        data["seededTrials"] = seeded
    if driven is not None and spec.max_experiment_duration is not None:
        from tunery.deadline import time_budget_json

        data["timeBudget"] = time_budget_json(spec, driven)
    return data


# --------------------------------------------------------------------------- CSV


def csv_header(exp: Experiment) -> list[str]:
    """The CSV columns: ``name``, ``index``, ``status``, ``reason``, ``objective``,
    ``param:NAME`` per parameter (a NAS experiment: per name its algorithm assigns),
    ``metric:NAME:min|max|latest`` per objective metric, ``createdTime``, ``startTime``,
    ``completionTime``, ``message``."""
    from tunery.spec.nas import assigned_names

    header = ["name", "index", "status", "reason", "objective"]
    header += [f"param:{name}" for name in assigned_names(exp.spec)]
    header += [f"metric:{m}:{s}" for m in exp.spec.objective.metric_names for s in CSV_METRIC_STATS]
    header += ["createdTime", "startTime", "completionTime", "message"]
    return header


def _csv_cell(value: Any) -> Any:
    """Spreadsheets run cells that begin with = + - @ as formulas: quote such text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_rows(exp: Experiment, trials: Iterable[Mapping[str, Any]]) -> Iterable[list[Any]]:
    """The CSV rows (after the header) of trials in the wire shape."""
    from tunery.spec.nas import assigned_names

    params = list(assigned_names(exp.spec))
    metrics = list(exp.spec.objective.metric_names)
    for t in trials:
        value = t["objective"]
        if value is None:  # a string objective (Katib's Best-Genotype) is written as it is
            value = t.get("objectiveText")
        line = [t["name"], t["index"], t["status"], t["reason"], value]
        line += [t["parameters"].get(p) for p in params]
        for m in metrics:
            summary = t["metrics"].get(m)
            if not isinstance(summary, dict):
                summary = {}
            cells = [summary.get(s) for s in CSV_METRIC_STATS]
            if summary.get("text") is not None and "latest" in CSV_METRIC_STATS:
                cells[CSV_METRIC_STATS.index("latest")] = summary["text"]
            line += cells
        line += [t["createdTime"], t["startTime"], t["completionTime"], t["message"]]
        yield [_csv_cell(v) for v in line]


def csv_text(exp: Experiment, trials: Sequence[Mapping[str, Any]]) -> str:
    """The experiment's trial table as CSV text (header first; ``\\r\\n`` line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_header(exp))
    writer.writerows(csv_rows(exp, trials))
    return buffer.getvalue()
