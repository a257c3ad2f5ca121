"""Warm starts: known results seeded into an experiment, and ``spec.initialTrials``.

A **seed** is a result obtained elsewhere (an earlier experiment, a CSV file, Python values,
``Optimizer.add_trial``).  It is stored as a trial of the experiment, so that every algorithm
sees it through the History like any other result:

* status ``Succeeded``, reason ``WarmStarted`` (:attr:`TrialReason.WARM_STARTED`), the message
  ``seeded from <source>``, the label :data:`WARM_START_LABEL` naming the source, its metric
  summaries and objective value, no start time and no process;
* it counts towards neither ``maxTrialCount`` nor ``maxFailedTrialCount`` (``Counts.seeded``),
  and never reaches the goal (a goal is for a trial that ran), but it may be the experiment's
  best trial (``tunery best`` says so by its reason);
* it keeps its place across resumes (it is a stored trial).

Seeding checks each seed against the experiment's space: a value outside it, or a parameter of
the space the seed has no value for, skips the seed; a parameter the space does not have is
dropped.  Every call returns a :class:`SeedReport` whose :meth:`~SeedReport.line` says how
many were seeded and the first reasons for the skipped ones.

``spec.initialTrials`` are the other warm start: assignments that run first, in order, as
normal trials (labelled :data:`INITIAL_TRIAL_LABEL` with their position), before the algorithm
suggests anything (:func:`initial_assignments`).
"""

from __future__ import annotations

import csv
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunery.errors import UserInputError
from tunery.model import (
    INITIAL_TRIAL_LABEL,
    WARM_START_LABEL,
    Assignment,
    ExperimentSpec,
    MetricSummary,
    Objective,
    ParamValue,
    Trial,
    TrialCondition,
    TrialReason,
    is_seed,
    objective_value,
)
from tunery.space import SearchSpace

if TYPE_CHECKING:
    from tunery.clock import Clock
    from tunery.ledger import TrialLedger
    from tunery.storage.base import BaseStore

__all__ = [
    "AddTrial",
    "Seed",
    "SeedReport",
    "initial_assignments",
    "seed_ledger",
    "seed_store",
    "seeds_from_csv",
    "seeds_from_trials",
    "seeds_from_values",
    "value_metrics",
]

#: How many skip reasons a report's line quotes.
_REASONS_SHOWN = 3
#: The statuses whose trials are results (what an earlier experiment gives as seeds).
_RESULTS = frozenset({"Succeeded", "EarlyStopped"})
#: Optuna's ``trials_dataframe()`` state of a finished trial.
_OPTUNA_COMPLETE = "COMPLETE"


@dataclass(frozen=True)
class Seed:
    """One known result: parameter values and metric summaries (by metric name)."""

    parameters: Mapping[str, Any]
    metrics: Mapping[str, MetricSummary]
    #: Where it came from, as the trial's :data:`WARM_START_LABEL` says it.
    source: str
    #: What the report calls it when it is skipped (``trial old-3``, ``row 4``...).
    where: str = ""


@dataclass
class SeedReport:
    """What one seeding did: how many were stored, and why the others were not."""

    source: str
    seeded: int = 0
    skipped: list[str] = field(default_factory=list)
    #: Parameters the seeds had that the space does not (dropped from every seed).
    dropped: set[str] = field(default_factory=set)
    #: Seeds the experiment holds already (same source, configuration and objective value).
    before: int = 0

    def line(self) -> str:
        """``warm start from experiment:old: 12 seeded, 3 skipped (row 4: ...; ...)``."""
        text = f"warm start from {self.source}: {self.seeded} seeded"
        if self.before:
            text += f", {self.before} seeded before"
        if self.skipped:
            first = "; ".join(self.skipped[:_REASONS_SHOWN])
            more = "; ..." if len(self.skipped) > _REASONS_SHOWN else ""
            text += f", {len(self.skipped)} skipped ({first}{more})"
        if self.dropped:
            text += f"; not in this space, ignored: {', '.join(sorted(self.dropped))}"
        return text


# --------------------------------------------------------------------------- sources


def _summary(value: float) -> MetricSummary:
    return MetricSummary(value, value, value)


def _finite(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserInputError(f"{where} must be a number, not {value!r}", "pass a float")
    number = float(value)
    if not math.isfinite(number):
        raise UserInputError(f"{where} must be finite, not {value!r}", "leave the result out")
    return number


def value_metrics(objective: Objective, value: object, where: str) -> dict[str, float]:
    """A result as ``tell`` takes it (a number; with several objectives a list of one value
    per objective, or a dict of metrics by name, constraints' metrics too) as metrics by name."""
    names = [t.metric for t in objective.terms]
    if isinstance(value, Mapping):
        metrics = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UserInputError(f"{where}: metric names must be strings, not {key!r}")
            metrics[key] = _finite(item, f"{where}[{key!r}]")
        missing = [n for n in names if n not in metrics]
        if missing:
            raise UserInputError(
                f"{where} has no {missing[0]!r}", f"give every objective's metric: {names}"
            )
        return metrics
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if len(value) != len(names):
            raise UserInputError(
                f"{where}: {len(value)} values for {len(names)} objectives ({', '.join(names)})",
                "give one value per objective, in order, or a dict of metrics",
            )
        return {
            n: _finite(v, f"{where}[{i}]")
            for i, (n, v) in enumerate(zip(names, value, strict=True))
        }
    if objective.is_multi:
        raise UserInputError(
            f"{where}: {len(names)} objectives need a list or a dict, not {value!r}",
            f"e.g. [v1, v2] or a dict of {', '.join(names)}",
        )
    return {names[0]: _finite(value, where)}


def seeds_from_values(objective: Objective, items: Iterable[Any], source: str) -> list[Seed]:
    """Seeds from Python: ``(params, value)`` pairs or ``{"params": ..., "value": ...}``
    dicts (``value`` as :func:`value_metrics` takes it).  A malformed item is a one-line
    UserInputError naming it."""
    out = []
    for i, item in enumerate(items):
        where = f"warm_start[{i}]"
        if isinstance(item, Mapping) and "params" in item:
            params, value = item["params"], item.get("value", item.get("values"))
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 2:
            params, value = item
        else:
            raise UserInputError(
                f"{where} must be a (params, value) pair or a dict with 'params' and 'value', "
                f"not {type(item).__name__}",
                "e.g. [({'lr': 0.01}, 0.93), {'params': {'lr': 0.1}, 'value': 0.87}]",
            )
        if not isinstance(params, Mapping):
            raise UserInputError(
                f"{where}: params must be a dict of parameter names to values, not "
                f"{type(params).__name__}",
                "e.g. ({'lr': 0.01}, 0.93)",
            )
        metrics = value_metrics(objective, value, f"{where} value")
        summaries = {k: _summary(v) for k, v in metrics.items()}
        out.append(Seed(dict(params), summaries, source, f"item {i}"))
    return out


def seeds_from_trials(objective: Objective, trials: Iterable[Trial], source: str) -> list[Seed]:
    """Seeds from an earlier experiment's trials: every trial, with its metric summaries of
    the metrics ``objective`` collects (a trial that is not a result is skipped by
    :func:`check_seed`, which says why)."""
    wanted = set(objective.metric_names)
    out = []
    for trial in trials:
        if trial.status.value in _RESULTS:
            metrics = {k: v for k, v in trial.metrics.items() if k in wanted}
            out.append(Seed(dict(trial.parameters), metrics, source, f"trial {trial.name}"))
        else:  # no result: check_seed reports it with its status
            where = f"trial {trial.name} ({trial.status.value})"
            out.append(Seed(dict(trial.parameters), {}, source, where))
    return out


def _cell(text: str | None) -> str:
    """A CSV cell as tunery's export wrote it (a leading ``'`` guards a formula character)."""
    text = (text or "").strip()
    if text[:2] in ("'=", "'+", "'-", "'@"):
        return text[1:]
    return text


def _number_cell(text: str, where: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise UserInputError(
            f"{where}: {text!r} is not a number", "fix or empty the cell"
        ) from None


def seeds_from_csv(spec: ExperimentSpec, path: str) -> list[Seed]:
    """Seeds from a CSV file with a header: tunery's export (``param:NAME`` and
    ``metric:NAME:min|max|latest`` columns, ``status``), Optuna's ``trials_dataframe()``
    (``params_NAME``, ``value``, ``state``), or plain columns named as the experiment's
    parameters and metrics.  A row whose status is not a result is skipped (and reported)."""
    objective = spec.objective
    names = {p.name for p in spec.parameters}
    metric_names = set(objective.metric_names)
    source = f"csv:{path}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
            header = list(rows[0].keys()) if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserInputError(
            f"cannot read {path}: {exc}", "give a CSV file with a header"
        ) from None
    prefixed = any(h.startswith(("param:", "params_")) for h in header)
    out = []
    for number, row in enumerate(rows, start=2):
        where = f"{path} line {number}"
        params: dict[str, str] = {}
        metrics: dict[str, MetricSummary] = {}
        status = _cell(row.get("status") or row.get("state"))
        for column, raw in row.items():
            if column is None:
                continue
            text = _cell(raw if isinstance(raw, str) else None)
            if column.startswith("param:"):
                params[column[6:]] = text
            elif column.startswith("params_"):
                params[column[7:]] = text
            elif column.startswith("metric:"):
                metric, _, stat = column[7:].rpartition(":")
                value = _number_cell(text, f"{where}, column {column}")
                if metric in metric_names and stat in ("min", "max", "latest"):
                    old = metrics.get(metric, MetricSummary())
                    metrics[metric] = MetricSummary(**{**old.to_json(), stat: value})
            elif column in metric_names:
                value = _number_cell(text, f"{where}, column {column}")
                if value is not None:
                    metrics[column] = _summary(value)
            elif not prefixed and column in names:
                params[column] = text
        first = objective.objective_metric_name
        for column in ("objective", "value"):
            if first not in metrics and row.get(column):
                value = _number_cell(_cell(row[column]), f"{where}, column {column}")
                if value is not None:
                    metrics[first] = _summary(value)
        params = {k: v for k, v in params.items() if v != ""}
        if status and status not in _RESULTS and status != _OPTUNA_COMPLETE:
            out.append(Seed(params, {}, source, f"line {number} ({status})"))
        else:
            out.append(Seed(params, metrics, source, f"line {number}"))
    return out


# --------------------------------------------------------------------------- checking, storing


def check_seed(
    space: SearchSpace, objective: Objective, seed: Seed, report: SeedReport
) -> dict[str, ParamValue] | None:
    """The seed's parameters as the space's typed values, or None (the reason added to
    ``report``) when it cannot seed this experiment."""
    if not seed.metrics:
        report.skipped.append(f"{seed.where}: no result")
        return None
    for metric in [t.metric for t in objective.terms] + [c.metric for c in objective.constraints]:
        summary = seed.metrics.get(metric)
        if summary is None or summary.pick(objective.strategy_for(metric)) is None:
            report.skipped.append(f"{seed.where}: no value of metric {metric!r}")
            return None
    # The space's own reading of a configuration (which parameters it needs, their values).
    try:
        key = space.canonical(seed.parameters)
    except UserInputError as exc:
        report.skipped.append(f"{seed.where}: {exc.message}")
        return None
    known = set(space.names)
    report.dropped.update(k for k in seed.parameters if k not in known)
    return space.params_of(key)


def seed_ledger(
    ledger: TrialLedger,
    spec: ExperimentSpec,
    seeds: Iterable[Seed],
    now: float,
    *,
    source: str,
    strict: bool = False,
) -> SeedReport:
    """Store each usable seed as a ``WarmStarted`` trial through ``ledger`` (its writer).

    ``strict``: raise the first skip reason as a UserInputError instead of reporting it
    (``Optimizer.add_trial``: one explicit result is an error, not a skip).  Otherwise a seed
    the experiment holds already (its source, configuration and objective value) is not stored
    again: seeding from the same source twice, or again after a crash, adds only what is new.
    """
    space = SearchSpace.from_spec(spec)
    objective = spec.objective
    report = SeedReport(source)
    stored = set()
    if not strict:
        stored = {
            (t.labels.get(WARM_START_LABEL), space.key_of(t), t.objective)
            for t in ledger.trials
            if is_seed(t)
        }
    for seed in seeds:
        values = check_seed(space, objective, seed, report)
        if values is None:
            if strict:
                reason = report.skipped[-1]
                metric = "no value of metric" in reason
                raise UserInputError(
                    reason,
                    "give the value of every objective and constraint metric (a dict of them)"
                    if metric
                    else "give every searched parameter a value inside its feasibleSpace",
                )
            continue
        metrics = dict(seed.metrics)
        value = objective_value(objective, metrics)
        if (seed.source, space.canonical(values), value) in stored:
            report.before += 1
            continue
        ledger.create_trial(
            Assignment(values, labels={WARM_START_LABEL: seed.source}),
            now,
            status=TrialCondition.SUCCEEDED,
            reason=TrialReason.WARM_STARTED,
            message=f"seeded from {seed.source}",
            metrics=metrics,
            objective=value,
        )
        report.seeded += 1
    return report


def seed_store(
    store: BaseStore, key: str, seeds: Sequence[Seed], now: float, *, source: str
) -> SeedReport:
    """:func:`seed_ledger` for a stored experiment that no controller drives now (its lease
    is taken for the writes and given back)."""
    from tunery.ledger import TrialLedger

    experiment = store.get_experiment(key)
    ledger = TrialLedger(store, key)
    ledger.acquire(now)
    try:
        ledger.load(experiment.spec.objective)
        return seed_ledger(ledger, experiment.spec, seeds, now, source=source)
    finally:
        ledger.release()


def initial_assignments(
    spec: ExperimentSpec, space: SearchSpace, trials: Iterable[Trial]
) -> list[Assignment]:
    """The ``spec.initialTrials`` not created yet, in order, labelled with their position."""
    if not spec.initial_trials:
        return []
    done = {t.labels.get(INITIAL_TRIAL_LABEL) for t in trials}
    return [
        Assignment(space.normalize(params), labels={INITIAL_TRIAL_LABEL: str(i)})
        for i, params in enumerate(spec.initial_trials)
        if str(i) not in done
    ]


class AddTrial:
    """``Optimizer.add_trial``: the ask/tell Optimizer's warm start (a mixin of it)."""

    spec: ExperimentSpec
    fixed: dict[str, Any]
    clock: Clock
    _ledger: TrialLedger

    def _check_open(self, verb: str) -> None:  # the Optimizer's
        raise NotImplementedError

    def add_trial(self, params: Mapping[str, Any], value: Any) -> str:
        """Seed a known result (a warm start): the algorithm learns from it, nothing runs.

        ``params`` names every searched parameter with a feasible value; ``value`` is what
        ``tell`` takes (a number; with several objectives a list, or a dict of metrics, the
        constraints' metrics too).  It is stored as a ``WarmStarted`` trial
        (``docs/warm-starts.md``), counts towards no ``max_trial_count`` and may be ``best``.
        A result it cannot seed is a one-line UserInputError.  Returns its id.
        """
        self._check_open("add_trial")
        if not isinstance(params, Mapping):
            raise UserInputError(
                f"add_trial(params, value) takes a dict of parameter names to values, not "
                f"{type(params).__name__}",
                "e.g. opt.add_trial({'lr': 0.01}, 0.93)",
            )
        metrics = value_metrics(self.spec.objective, value, "add_trial(): value")
        searched = {k: v for k, v in params.items() if k not in self.fixed}
        seed = Seed(
            searched, {k: _summary(v) for k, v in metrics.items()}, "add_trial", "add_trial()"
        )
        now = self.clock.now()
        seed_ledger(self._ledger, self.spec, [seed], now, source="add_trial", strict=True)
        return self._ledger.trials[-1].name
