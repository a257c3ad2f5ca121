"""What every ``tunery`` command shares: the group, its options, output helpers."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import click

from tunery.errors import TuneryError, UserInputError

if TYPE_CHECKING:
    pass

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("tunery")


# --------------------------------------------------------------------------- helpers


def _experiment_json(experiment: Any, trials: Sequence[Any], store: Any = None) -> dict[str, Any]:
    """The experiment in the wire shape (``tunery.wire``), with its best trial (and, with
    several objectives, its Pareto front; with a time budget and ``store``, ``timeBudget``)."""
    from tunery import wire
    from tunery.deadline import driven_seconds
    from tunery.model import best_trial, is_seed
    from tunery.objectives import front_summary

    objective = experiment.spec.objective
    best = best_trial(objective, list(trials))
    timed = store is not None and experiment.spec.max_experiment_duration is not None
    return wire.experiment_json(
        experiment,
        wire.count_statuses(trials),
        best.objective if best is not None else None,
        wire.trial_json(best, objective) if best is not None else None,
        front=front_summary(objective, list(trials)) if objective.is_multi else None,
        driven=driven_seconds(store, experiment.key) if timed else None,
        seeded=sum(is_seed(t) for t in trials),
    )


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _open_store(db: str | None) -> Any:
    from tunery.storage import Store

    return Store(db)


def _fmt(value: Any) -> str:
    from tunery.spec import format_value

    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return format_value(value)


def _trial_counts(summary: Mapping[str, int], seeded: int = 0) -> str:
    """``ok/total``, plus failures, running trials and warm-start seeds when there are any.

    Early-stopped trials count as ok, as completed ones in Katib's experiment status (they
    have their objective and may be the best); failures are Failed and MetricsUnavailable,
    as Katib's ``failedTrialsCount``.  ``seeded`` of the Succeeded trials are warm-start
    seeds: never run, so neither ok nor in the total, said apart (``, 3 seeded``).
    """
    ok = summary["succeeded"] - seeded + summary["earlyStopped"]
    text = f"{ok}/{summary['total'] - seeded} ok"
    if summary["earlyStopped"]:
        text += f" ({summary['earlyStopped']} early-stopped)"
    failed = summary["failed"] + summary["metricsUnavailable"]
    if failed:
        text += f", {failed} failed"
    if summary["running"]:
        text += f", {summary['running']} running"
    if seeded:
        text += f", {seeded} seeded"
    return text


def _local_time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


#: Widest "reason: message" cell of the trials table.
_REASON_WIDTH = 100


def _status_of(trial: Any) -> str:
    """A trial's condition as text: a model Trial's enum or a bulk row's string."""
    status = trial.status
    return status if isinstance(status, str) else str(status.value)


def _reason_cell(trial: Any) -> str:
    from tunery.model import WARM_START_LABEL, TrialCondition, TrialReason
    from tunery.outcome import shorten
    from tunery.thinning import THINNED_LABEL

    thinned = trial.labels.get(THINNED_LABEL)
    note = f"observations of {thinned} thinned" if thinned else ""
    seeded = trial.labels.get(WARM_START_LABEL)
    if seeded and trial.reason == TrialReason.WARM_STARTED:
        return f"seeded from {seeded} (not run)"
    status = _status_of(trial)
    if status in ("Succeeded", "Running", "Created"):
        return note
    text = str(trial.reason or "")
    if trial.message and TrialCondition(status).is_failed:
        text = f"{text}: {trial.message}" if text else str(trial.message)
    if note:
        text = f"{note}; {text}"
    return shorten(text, _REASON_WIDTH)


def _short(value: Any) -> str:
    """A compact cell for tables: 4 significant digits for floats."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return _fmt(value)


def _clip(value: Any, width: int = 48) -> str:
    """A long text cell (a NAS assignment) cut to ``width`` characters."""
    text = _fmt(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped or logged output: do not squeeze tables into 80 columns.
        console = Console(highlight=False, soft_wrap=True, width=200)
    return console


#: A table column: its header, ``"left"``/``"right"``, and its least width.
_Column = tuple[str, Literal["left", "right"], int]


def _trials_cells(experiment: Any, trials: Sequence[Any]) -> tuple[list[_Column], list[list[str]]]:
    """The trials table's columns and cells; ``trials``: model Trials or bulk rows
    (:class:`tunery.storage.views.TrialRow`)."""
    from tunery.model import MetricSummary
    from tunery.spec.nas import assigned_names
    from tunery.suggest.auto import SUGGESTED_BY_LABEL
    from tunery.suggest.hyperband import BRACKET_LABEL, RUNG_LABEL
    from tunery.suggest.nsga2 import GENERATION_LABEL as NSGA2_GENERATION
    from tunery.suggest.pbt import GENERATION_LABEL, PARENT_LABEL

    spec = experiment.spec
    longest = max((len(t.name) for t in trials), default=5)
    columns: list[_Column] = [("trial", "left", longest), ("status", "left", 9)]
    # PBT lineage (Katib's labels): the generation and the trial whose checkpoint it continues.
    lineage = any(GENERATION_LABEL in t.labels for t in trials)
    if lineage:
        columns += [("gen", "right", 0), ("parent", "left", longest)]
    # nsga2's generation of each trial.
    generations = not lineage and any(NSGA2_GENERATION in t.labels for t in trials)
    if generations:
        columns.append(("gen", "right", 0))
    # Hyperband's bracket and rung of each trial.
    brackets = any(BRACKET_LABEL in t.labels for t in trials)
    if brackets:
        columns += [("bracket", "right", 0), ("rung", "right", 0)]
    # algorithm auto: which algorithm suggested each trial.
    makers = any(SUGGESTED_BY_LABEL in t.labels for t in trials)
    if makers:
        columns.append(("by", "left", 0))
    for p in spec.parameters:
        columns.append((p.name, "right", max(min(len(p.name), 10), 8)))
    # A neural architecture search: the algorithm's named strings (e.g. enas's architecture),
    # as text, shortened.
    nas_names = assigned_names(spec) if spec.nas_config is not None else ()
    for name in nas_names:
        columns.append((name, "left", 0))
    objective_name = spec.objective.objective_metric_name
    arrow = "↓" if spec.objective.type.value == "minimize" else "↑"
    columns.append((f"{objective_name} {arrow}", "right", 0))
    additional = [
        (m, spec.objective.strategy_for(m)) for m in spec.objective.additional_metric_names
    ]
    directions = {t.metric: t.type.value for t in spec.objective.terms[1:]}
    for metric, _ in additional:
        if metric in directions:  # another objective: its direction too
            metric = f"{metric} {'↓' if directions[metric] == 'minimize' else '↑'}"
        columns.append((metric, "right", max(min(len(metric), 10), 8)))
    from tunery.cli._nas import architecture_cell, objective_cell, param_cell

    architectures = [architecture_cell(t) for t in trials]  # ENAS's layers
    if any(architectures):
        columns.append(("layers", "left", 0))
    reasons = [_reason_cell(t) for t in trials]
    with_reason = any(reasons)
    if with_reason:
        columns.append(("reason", "left", 0))
    rows = []
    for t, reason, arc in zip(trials, reasons, architectures, strict=True):
        row = [t.name, _status_of(t)]
        if lineage:
            row += [t.labels.get(GENERATION_LABEL, "-"), t.labels.get(PARENT_LABEL, "-")]
        if generations:
            row.append(t.labels.get(NSGA2_GENERATION, "-"))
        if brackets:
            row += [t.labels.get(BRACKET_LABEL, "-"), t.labels.get(RUNG_LABEL, "-")]
        if makers:
            row.append(t.labels.get(SUGGESTED_BY_LABEL, "-"))
        row += [param_cell(t.parameters.get(p.name)) for p in spec.parameters]
        row += [_clip(t.parameters.get(name)) for name in nas_names]
        text = objective_cell(spec, t) if t.objective is None else None
        row.append(text if text is not None else _short(t.objective))
        for metric, strategy in additional:
            summary = t.metrics.get(metric)
            if isinstance(summary, Mapping):
                summary = MetricSummary.from_json(summary)
            row.append(_short(summary.pick(strategy) if summary else None))
        if any(architectures):
            row.append(arc or "-")
        if with_reason:
            row.append(reason)
        rows.append(row)
    return columns, rows


def _trials_table(experiment: Any, trials: Sequence[Any], best_name: str | None) -> Any:
    """The trials table for a rich console (a few trials: ``run``'s summary)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    columns, rows = _trials_cells(experiment, trials)
    table = Table(title=f"trials of {experiment.name}", box=box.SIMPLE_HEAD, pad_edge=False)
    for header, justify, width in columns:
        table.add_column(
            header, justify=justify, no_wrap=header != "reason", min_width=width or None
        )
    for row in rows:
        style = "bold green" if row[0] == best_name else None
        table.add_row(*(escape(cell) for cell in row), style=style)
    return table


def _trials_text(
    experiment: Any, trials: Sequence[Any], best_name: str | Sequence[str] | None
) -> list[str]:
    """The trials table as plain lines (the best trial, or the Pareto front's trials, in bold
    green on a terminal): what ``tunery trials`` prints, fast for 10,000 trials where a rich
    table takes seconds."""
    chosen = {best_name} if isinstance(best_name, str) else set(best_name or ())
    columns, rows = _trials_cells(experiment, trials)
    widths = [
        max([width, len(header)] + [len(row[i]) for row in rows])
        for i, (header, _, width) in enumerate(columns)
    ]
    right = [justify == "right" for _, justify, _ in columns]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(out).rstrip()

    lines = [line([c[0] for c in columns]), "  ".join("─" * w for w in widths)]
    for row in rows:
        text = line(row)
        lines.append(click.style(text, fg="green", bold=True) if row[0] in chosen else text)
    return lines


def _best_lines(experiment: Any, best: Any) -> list[str]:
    from tunery.cli._nas import best_lines, objective_text
    from tunery.model import WARM_START_LABEL
    from tunery.spec import format_value
    from tunery.spec.nas import assigned_names

    spec = experiment.spec
    name = spec.objective.objective_metric_name
    text = objective_text(spec, best)  # a string objective, whole
    value = text if best.objective is None and text is not None else _fmt(best.objective)
    lines = [f"best trial: {best.name}  {name}={value}"]
    if best.labels.get(WARM_START_LABEL) and best.reason == "WarmStarted":
        lines[0] += f"  ({_reason_cell(best)})"  # a known result, not one of this run
    if spec.objective.constraints:
        from tunery.cli._front import constraint_line

        lines.append(constraint_line(spec.objective, best) or "")
    lines.append("best hyperparameters:" if spec.nas_config is None else "best architecture:")
    for name in assigned_names(spec):
        if name in best.parameters:  # (an inactive conditional parameter has no value)
            lines.append(f"  {name} = {format_value(best.parameters[name])}")
    return lines + best_lines(spec, best)


def _fail(message: str, hint: str | None = None, code: int = 2) -> NoReturn:
    raise UserInputError(message, hint) if code == 2 else TuneryError(message, hint)


# --------------------------------------------------------------------------- the group


class _Group(click.Group):
    """Turns click's usage errors into one line."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            click.echo(f"error: {exc.format_message()}{where}", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except TuneryError as exc:
            click.echo(f"error: {exc.one_line()}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


def _db_option(f: F) -> F:
    return click.option(
        "--db",
        envvar="TUNERY_DB",
        default=None,
        metavar="URL",
        help="Database URL or SQLite file (default: $TUNERY_DB, else ./tunery.db).",
    )(f)


def _check_executor(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None  # the experiment's tunery.dev/executor annotation, else local
    if value.strip() == "local":
        return "local"
    from tunery.execute import validate_url

    try:
        validate_url(value)
    except UserInputError as exc:
        raise click.BadParameter(f"{value!r} is not an executor URL; {exc.hint}") from None
    return value


def _executor_option(f: F) -> F:
    return click.option(
        "--executor",
        "executor_url",
        envvar="TUNERY_EXECUTOR",
        default=None,
        metavar="URL",
        callback=_check_executor,
        help="Where trials run: local, or dask://HOST:PORT (a Dask scheduler). Default: the "
        "experiment's tunery.dev/executor annotation, else local.",
    )(f)


def _check_namespace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from tunery.spec.validate import NAMESPACE_MAX_LENGTH, NAMESPACE_PATTERN

    if not NAMESPACE_PATTERN.match(value) or len(value) > NAMESPACE_MAX_LENGTH:
        raise click.BadParameter(
            f"{value!r} is not a namespace; a namespace is a DNS label: lower-case letters, "
            "digits and '-', at most 63 characters (e.g. -n kubeflow)"
        )
    return value


def _namespace_option(help_text: str) -> Callable[[F], F]:
    """``-n/--namespace NS``: the namespace of the experiment a command names."""

    def decorate(f: F) -> F:
        return click.option(
            "-n",
            "--namespace",
            default=None,
            metavar="NS",
            callback=_check_namespace,
            help=help_text,
        )(f)

    return decorate


#: -n/--namespace of the commands that name one experiment.
_named_in_namespace = _namespace_option(
    "The experiment's namespace (needed only when its name is in several namespaces)."
)


def _resolve(store: Any, name: str, namespace: str | None) -> Any:
    """The experiment NAME (in NAMESPACE) names: the stored Experiment (its ``key`` is what the
    store calls take)."""
    return store.get_experiment(store.resolve(name, namespace))


def _ref(store: Any, experiment: Any) -> str:
    """How a command line names ``experiment``: ``NAME``, or ``NAME -n NAMESPACE`` when the
    name alone is ambiguous or names another experiment."""
    try:
        if store.resolve(experiment.name) == experiment.key:
            return str(experiment.name)
    except UserInputError:
        pass
    return f"{experiment.name} -n {experiment.namespace}"


def _configmap_option(f: F) -> F:
    return click.option(
        "--configmap",
        "configmaps",
        multiple=True,
        metavar="FILE",
        help="A YAML file of ConfigMaps (or a directory of them) holding the trialTemplate."
        "configMap template; repeatable. Also: $TUNERY_CONFIGMAPS, ./configmaps/ next to FILE.",
    )(f)


def _json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tunery")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """tunery: Katib experiments, on your laptop."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
