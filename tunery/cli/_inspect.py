"""Read commands: ``validate``, ``list``, ``get``, ``trials``, ``best``, ``export``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import click
import yaml

from tunery.cli._common import (
    _best_lines,
    _configmap_option,
    _console,
    _db_option,
    _experiment_json,
    _fail,
    _json_option,
    _local_time,
    _named_in_namespace,
    _namespace_option,
    _open_store,
    _print_json,
    _resolve,
    _short,
    _trial_counts,
    _trials_text,
    main,
)

log = logging.getLogger("tunery")


# --------------------------------------------------------------------------- read commands


@main.command(
    short_help="Check an experiment file; exit 2 naming its first problem.",
    epilog="""\b
Examples:
  tunery validate experiment.yaml
  tunery validate katib-experiment.yaml --configmap configmaps.yaml
  tunery validate experiment.yaml --json""",
)
@click.argument("file", type=click.Path(dir_okay=False))
@_configmap_option
@_json_option
def validate(file: str, configmaps: tuple[str, ...], as_json: bool) -> None:
    """Check an experiment file; exit 2 with the YAML path of the first problem.

    A valid Katib algorithm that this version cannot run yet is reported as a warning (the
    file is valid Katib; `tunery run` refuses it); a neural architecture search (enas, darts)
    is refused after its spec.nasConfig is validated.
    """
    from tunery.spec import load_file, spec_warnings
    from tunery.spec.commands import command_warnings
    from tunery.stopping import available as stopping_available
    from tunery.suggest.base import AlgorithmNotAvailableError, validate_algorithm

    # Reading logs what it ignores (an OptimizationJob's unknown keys): listed as warnings here.
    read_warnings = _Collect()
    spec_log = logging.getLogger("tunery.spec")
    spec_log.addHandler(read_warnings)
    spec_log.propagate = False
    try:
        parsed = load_file(file, check_algorithm=False, configmaps=configmaps)
    finally:
        spec_log.removeHandler(read_warnings)
        spec_log.propagate = True
    base_dir = os.path.dirname(os.path.abspath(file))
    results = []
    for p in parsed:
        warnings = (
            read_warnings.messages + spec_warnings(p.spec) + command_warnings(p.spec, base_dir)
        )
        try:
            validate_algorithm(p.spec)
        except AlgorithmNotAvailableError as exc:
            if p.spec.nas_config is not None:
                raise  # refused: neural architecture search does not run yet (issue 21)
            warnings.append(f"{exc.one_line()} (valid Katib; `tunery run` will refuse it)")
        if p.spec.early_stopping is not None and (
            p.spec.early_stopping.algorithm_name not in stopping_available()
        ):
            warnings.append(
                f"spec.earlyStopping: {p.spec.early_stopping.algorithm_name} is valid Katib but "
                "not implemented in this version of tunery; trials will run to their end"
            )
        results.append((p.spec, warnings))
    if as_json:
        _print_json([{"name": s.name, "valid": True, "warnings": w} for s, w in results])
        return
    for s, warnings in results:
        searched = f"{len(s.parameters)} parameters"
        if s.nas_config is not None:
            layers = s.nas_config.graph_config.num_layers
            kinds = len(s.nas_config.operations)
            searched = (
                f"{layers} layer{'s' if layers != 1 else ''} of "
                f"{kinds} operation type{'s' if kinds != 1 else ''}"
            )
        click.echo(
            f"{file}: experiment {s.name} is valid ({s.algorithm.algorithm_name}, "
            f"{searched}, {_objective_text(s.objective)})"
        )
        if s.algorithm.algorithm_name == "auto":
            from tunery.suggest.auto import explain

            click.echo(explain(s))
        if s.max_experiment_duration is not None:
            from tunery.deadline import policy_of
            from tunery.spec.katib import format_duration

            click.echo(
                f"time budget: {format_duration(s.max_experiment_duration)} of driven time, "
                f"then {policy_of(s).value}"
            )
        if any(p.active_when for p in s.parameters):
            from tunery.conditions import tree_lines

            for line in tree_lines(s.parameters):
                click.echo(line)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)


class _Collect(logging.Handler):
    """Keeps the messages of the warnings logged while a file is read."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


#: ``list --sort`` keys.
LIST_SORTS = ("name", "created", "status")


def _experiment_conditions() -> list[str]:
    from tunery.model import INTERRUPTED_STATUS, ExperimentCondition

    return [c.value for c in ExperimentCondition] + [INTERRUPTED_STATUS]


def _check_experiment_statuses(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[str] | None:
    """``list --status A,B`` (repeatable, any case) -> Katib's experiment conditions."""
    valid = {c.lower(): c for c in _experiment_conditions()}
    out: list[str] = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            if part.lower() not in valid:
                raise click.BadParameter(
                    f"{part!r} is not an experiment condition; use one or more of "
                    f"{', '.join(valid.values())}, comma-separated"
                )
            out.append(valid[part.lower()])
    return out or None


@main.command(
    name="list",
    short_help="List experiments (--filter by name, --status, --sort).",
    epilog="""\b
Examples:
  tunery list
  tunery list --desc                        # the newest first
  tunery list --sort name
  tunery list --filter mnist --status Running,Created
  tunery list -n kubeflow                   # one namespace only
  tunery list --json""",
)
@_db_option
@_namespace_option("Only the experiments of this namespace (default: every namespace).")
@click.option(
    "--sort",
    type=click.Choice(LIST_SORTS),
    default="created",
    show_default=True,
    help="Order of the experiments: created (oldest first), name, or status (by condition, "
    "then name).",
)
@click.option("--desc", is_flag=True, help="Reverse the order of --sort.")
@click.option(
    "--filter",
    "contains",
    metavar="TEXT",
    default=None,
    help="Only experiments whose name contains TEXT (any case).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="A,B",
    callback=_check_experiment_statuses,
    help="Only experiments in these conditions, comma-separated or repeated, any case: "
    + ", ".join(_experiment_conditions())
    + ".",
)
@_json_option
def list_(
    db: str | None,
    namespace: str | None,
    sort: str,
    desc: bool,
    contains: str | None,
    statuses: list[str] | None,
    as_json: bool,
) -> None:
    """List experiments, with their trial counts and best objective value.

    Trial counts as "ok/total": early-stopped trials count as ok (completed, with their
    objective, as in Katib's experiment status); failed ones are Failed and
    MetricsUnavailable; warm-start seeds (never run) are counted apart ("3 seeded").
    """
    from rich.table import Table

    from tunery import wire
    from tunery.model import ObjectiveType, TrialCondition
    from tunery.storage import views

    store = _open_store(db)
    experiments = store.list_experiments(namespace)
    # Several namespaces: a column says which (a name may be in more than one).
    spaces = namespace is None and len({e.namespace for e in store.list_experiments()}) > 1
    if contains:
        experiments = [e for e in experiments if contains.lower() in e.name.lower()]
    if statuses:
        experiments = [e for e in experiments if e.shown_status in statuses]
    # The store lists them oldest first (no creation time first, then by name).
    if sort == "status":
        experiments.sort(key=lambda e: (e.shown_status, e.name, e.namespace))
    elif sort == "name":
        experiments.sort(key=lambda e: (e.name, e.namespace))
    if desc:
        experiments.reverse()
    if as_json:
        _print_json([_experiment_json(e, store.list_trials(e.key), store) for e in experiments])
        return
    if not experiments:
        if contains or statuses:
            click.echo("no experiment matches --filter/--status")
        elif namespace is not None:
            click.echo(f"no experiments in namespace {namespace!r}")
        else:
            click.echo("no experiments yet; start one with `tunery run FILE`")
        return
    from rich import box

    summaries = views.trial_summaries(store)
    seeds = views.count_seeds(store)
    with_objective = (TrialCondition.SUCCEEDED.value, TrialCondition.EARLY_STOPPED.value)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    columns: tuple[str, ...] = ("name", "status", "reason", "algorithm", "objective", "best")
    columns += ("trials", "created")
    # A time budget somewhere: a column of what is left of each (tunery.deadline).
    timed = any(e.spec.max_experiment_duration is not None for e in experiments)
    columns += ("time left",) if timed else ()
    for col in ("namespace", *columns) if spaces else columns:
        table.add_column(col, no_wrap=True)
    for exp in experiments:
        summary = summaries.get(exp.key, {})
        counts = {status: count for status, (count, _, _) in summary.items()}
        minimize = exp.spec.objective.type is ObjectiveType.MINIMIZE
        values: list[float] = []
        for status, (_, low, high) in summary.items():
            value = low if minimize else high
            if status in with_objective and value is not None:
                values.append(value)
        best = (min(values) if minimize else max(values)) if values else None
        cell = _short(best) if best is not None else "-"
        if exp.spec.objective.is_multi or exp.spec.objective.constraints:
            cell = _best_cell(store, exp)
        elif best is None and any(summary.get(s, (0,))[0] for s in with_objective):
            cell = _best_text_cell(store, exp)  # a string objective (Katib's Best-Genotype)
        table.add_row(
            *((exp.namespace,) if spaces else ()),
            exp.name,
            exp.shown_status,
            (exp.reason or "").removeprefix("Experiment"),
            exp.spec.algorithm.algorithm_name,
            _objective_cell(exp.spec.objective),
            cell,
            _trial_counts(wire.trial_counts(counts), seeds.get(exp.key, 0)),
            _local_time(exp.created_time),
            *((_time_left(store, exp),) if timed else ()),
        )
    _console().print(table)


def _best_text_cell(store: Any, exp: Any) -> str:
    """The list's "best" cell when the best trial's objective is a string (elided)."""
    from tunery.cli._nas import objective_cell
    from tunery.storage import views

    best = views.best_trial(store, exp.key, exp.spec.objective)
    return (objective_cell(exp.spec, best) if best is not None else None) or "-"


def _time_left(store: Any, exp: Any) -> str:
    """``tunery list``'s time left cell: ``30m00s of 2h00m``, ``-`` without a budget."""
    from tunery.deadline import driven_seconds, time_left_text

    if exp.spec.max_experiment_duration is None:
        return "-"
    return time_left_text(exp.spec, driven_seconds(store, exp.key))


@main.command(
    short_help="Show one experiment's status, trial counts and best trial.",
    epilog="""\b
Examples:
  tunery get mnist
  tunery get mnist --json
  tunery get mnist -o yaml       # Katib Experiment (or OptimizationJob) with its status
  tunery get mnist --db postgresql://user@host/tunery""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@_json_option
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default=None,
    help="The experiment as its Kubernetes object, spec and status: a Katib Experiment, or an "
    "OptimizationJob for one read from an OptimizationJob document.",
)
def get(name: str, namespace: str | None, db: str | None, as_json: bool, fmt: str | None) -> None:
    """Show one experiment's status."""
    store = _open_store(db)
    exp = _resolve(store, name, namespace)
    trials = store.list_trials(exp.key)
    if fmt is not None:
        from tunery.spec.status import object_document

        doc = object_document(exp, trials)
        if fmt == "json":
            _print_json(doc)
        else:
            click.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)
        return
    data = _experiment_json(exp, trials, store)
    if as_json:
        _print_json(data)
        return
    console = _console()
    console.print(f"experiment {exp.name}: {exp.shown_status} ({exp.reason}: {exp.message})")
    from tunery.model import is_seed

    seeded = sum(is_seed(t) for t in trials)
    note = f" ({seeded} of the succeeded are warm-start seeds, not run)" if seeded else ""
    console.print("trials: " + ", ".join(f"{k} {v}" for k, v in data["trials"].items()) + note)
    if "timeBudget" in data:
        from tunery.deadline import time_budget_text

        budget = data["timeBudget"]
        console.print(time_budget_text(exp.spec, budget["drivenSeconds"]), highlight=False)
    from tunery.cli._front import mo_lines

    front = mo_lines(exp, trials)
    best = next(
        (t for t in trials if data["bestTrial"] and t.name == data["bestTrial"]["name"]), None
    )
    if front is not None:
        for line in front:
            console.print(line, highlight=False)
    elif best is not None:
        for line in _best_lines(exp, best):
            console.print(line, highlight=False, markup=False)


def _objective_cell(objective: Any) -> str:
    """``max accuracy``, or ``max accuracy, min latency_ms`` for several objectives."""
    return ", ".join(f"{t.type.value[:3]} {t.metric}" for t in objective.terms)


def _best_cell(store: Any, exp: Any) -> str:
    """The list's "best" cell with constraints (the best feasible value) or several objectives
    (``front N``: the size of the Pareto front)."""
    from tunery.storage import views

    objective = exp.spec.objective
    if objective.is_multi:
        return f"front {len(views.pareto_front(store, exp.key, objective))}"
    best = views.best_trial(store, exp.key, objective)
    return _short(best.objective) if best is not None and best.objective is not None else "-"


#: ``trials --sort`` keys -> the sort keys of :func:`tunery.storage.views.trial_rows`.
TRIAL_SORTS = {
    "objective": "objective",
    "index": "index",
    "name": "name",
    "status": "status",
    "created": "created_time",
    "start": "start_time",
    "completion": "completion_time",
}


def _trial_conditions() -> list[str]:
    from tunery.model import TrialCondition

    return [c.value for c in TrialCondition]


def _check_statuses(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[str] | None:
    """``--status A,B`` (repeatable, any case) -> Katib's condition names; None: all."""
    valid = {c.lower(): c for c in _trial_conditions()}
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            if part.strip().lower() not in valid:
                raise click.BadParameter(
                    f"{part.strip()!r} is not a trial condition; use one or more of "
                    f"{', '.join(valid.values())}, comma-separated"
                )
            status = valid[part.strip().lower()]
            if status not in out:
                out.append(status)
    return out or None


@main.command(
    short_help="List an experiment's trials (filter by --status, --sort, --limit).",
    epilog="""\b
Examples:
  tunery trials mnist
  tunery trials mnist --status Failed,MetricsUnavailable
  tunery trials mnist --sort objective --limit 20     # the 20 best
  tunery trials mnist --sort completion --desc --limit 5
  tunery trials mnist --status Succeeded --json""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="A,B",
    callback=_check_statuses,
    help="Only trials in these conditions, comma-separated or repeated, any case: "
    + ", ".join(_trial_conditions())
    + ".",
)
@click.option(
    "--sort",
    type=click.Choice(list(TRIAL_SORTS)),
    default="index",
    show_default=True,
    help="Order of the trials; objective: best first (trials without one last).",
)
@click.option("--desc", is_flag=True, help="Reverse the order of --sort.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Only the first N trials of that order.",
)
@_json_option
def trials(
    name: str,
    namespace: str | None,
    db: str | None,
    statuses: list[str] | None,
    sort: str,
    desc: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """List an experiment's trials.

    Read in bulk from the database, sorted and cut there: a page of an experiment of
    10,000 trials costs a page. --json prints the trials in the wire shape (a list).
    """
    from tunery import wire
    from tunery.model import ObjectiveType
    from tunery.storage import views

    store = _open_store(db)
    exp = _resolve(store, name, namespace)
    descending = desc
    if sort == "objective" and exp.spec.objective.type is ObjectiveType.MAXIMIZE:
        descending = not desc
    read = views.trial_rows(
        store, exp.key, statuses=statuses, order=(TRIAL_SORTS[sort], descending), limit=limit
    )
    rows = read.rows
    if as_json:
        _print_json([wire.trial_row_json(t, exp.spec.objective) for t in rows])
        return
    marked: str | list[str] | None
    if exp.spec.objective.is_multi:  # the Pareto front's trials
        marked = [t.name for t in views.pareto_front(store, exp.key, exp.spec.objective)]
    else:
        best = views.best_trial(store, exp.key, exp.spec.objective)
        marked = best.name if best else None
    title = f"trials of {exp.name}"
    if read.matched is not None and read.matched > len(rows):
        title += f" (the first {len(rows)} of {read.matched})"
    click.echo(title)
    click.echo("\n".join(_trials_text(exp, rows, marked)))
    _print_metrics_paths(exp, rows)


def _print_metrics_paths(exp: Any, rows: Sequence[Any]) -> None:
    """Where each trial's own copy of the collector's path is (File/TensorFlowEvent/Custom),
    or its push file (Push)."""
    from tunery.model import collects_files

    sources = [t.metrics_source for t in rows if t.metrics_source]
    if not collects_files(exp.spec) or not sources:
        return
    path = exp.spec.metrics_collector.path
    example = next(t for t in rows if t.metrics_source)
    pattern = sources[0].replace(f"/{example.name}/", "/<trial>/", 1)
    if all(s == pattern.replace("<trial>", t.name, 1) for t in rows if (s := t.metrics_source)):
        if path:
            click.echo(f"metrics ({path}): each trial's own copy, {pattern}")
        else:
            click.echo(f"metrics (pushed by report_metrics()): {pattern}")
    else:
        for t in rows:
            if t.metrics_source:
                click.echo(f"metrics of {t.name}: {t.metrics_source}")


#: ``best -o``: the best parameters ready to paste.
BEST_FORMATS = ("args", "yaml", "json", "env")


def _env_name(name: str) -> str:
    """``batch-size`` -> ``BATCH_SIZE``: an environment variable's name for a parameter."""
    import re

    out = re.sub(r"[^A-Za-z0-9_]", "_", name).upper()
    return "_" + out if out[:1].isdigit() else out


def _paste_value(value: Any) -> Any:
    """A parameter value as Katib substitutes it (strings and numbers as written)."""
    from tunery.spec import format_value

    return format_value(value)


def _best_parameters(fmt: str, names: Sequence[str], parameters: Mapping[str, Any]) -> str:
    """The parameters in ``fmt`` (one of :data:`BEST_FORMATS`), as text ending in a newline."""
    import json
    import shlex

    if fmt == "json":
        return json.dumps({n: parameters[n] for n in names}, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump({n: parameters[n] for n in names}, sort_keys=False)
    if fmt == "env":
        return "".join(
            f"{_env_name(n)}={shlex.quote(_paste_value(parameters[n]))}\n" for n in names
        )
    return " ".join(f"--{n}={shlex.quote(_paste_value(parameters[n]))}" for n in names) + "\n"


@main.command(
    short_help="Show the best trial, or its parameters ready to paste (-o).",
    epilog="""\b
Examples:
  tunery best mnist                 # the best trial and its hyperparameters
  tunery best mnist --json          # the best trial in the wire shape
  python train.py $(tunery best mnist -o args)
  tunery best mnist -o env > best.env
  tunery best mnist -o yaml
  tunery best mo-exp                # several objectives: the Pareto front as a table
  tunery best mo-exp --trial mo-exp-7 -o args   # one trial of the front, to paste""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@_json_option
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(BEST_FORMATS),
    default=None,
    help="Print only the best parameters: args (--name=value, quoted for a POSIX shell), "
    "yaml (a mapping), json (an object), env (NAME=value lines, names upper-cased, - and . "
    "as _).",
)
@click.option(
    "--trial",
    "trial_name",
    default=None,
    metavar="TRIAL",
    help="Show this trial instead of the best one: with several objectives, pick one trial "
    "of the Pareto front (for -o).",
)
def best(
    name: str,
    namespace: str | None,
    db: str | None,
    as_json: bool,
    fmt: str | None,
    trial_name: str | None,
) -> int:
    """Show the best trial and its hyperparameters.

    With -o, only the best trial's parameters, in the spec's order, ready to paste into a
    command line, a YAML file, a JSON document or an environment file.  With constraints,
    the best feasible trial.  With several objectives, the Pareto front (the feasible trials
    no other dominates) as a table, --json a list; -o needs one trial: --trial NAME.
    """
    from tunery import wire
    from tunery.storage import views

    if fmt is not None and as_json:
        _fail(
            "--json and -o/--output cannot be used together", "use -o json for the parameters only"
        )
    store = _open_store(db)
    exp = _resolve(store, name, namespace)
    objective = exp.spec.objective
    if trial_name is not None:
        trial = _named_trial(store, exp, trial_name)
    elif objective.is_multi:
        front = views.pareto_front(store, exp.key, objective)
        if fmt is not None and len(front) != 1:
            _fail(
                f"-o prints one trial's parameters; experiment {exp.name} has {len(front)} "
                "trials on its Pareto front",
                f"pick one with --trial NAME (see `tunery best {exp.command_ref}`)",
            )
        if fmt is None:
            if as_json:
                _print_json([wire.trial_json(t, objective) for t in front])
            elif front:
                from tunery.cli._front import front_table

                _console().print(front_table(exp, front))
            else:
                click.echo(_no_front(exp))
            return 0 if front else 1
        trial = front[0]
    else:
        trial = views.best_trial(store, exp.key, objective)
    if trial is None:
        if as_json:
            _print_json(None)
        else:
            feasible = " feasible" if objective.constraints else ""
            click.echo(f"experiment {name} has no{feasible} trial with an objective value yet")
        return 1
    if fmt is not None:
        # (inactive conditional parameters have no value: left out, as from the trial's command)
        from tunery.spec.nas import assigned_names

        names = [n for n in assigned_names(exp.spec) if n in trial.parameters]
        click.echo(_best_parameters(fmt, names, trial.parameters), nl=False)
    elif as_json:
        _print_json(wire.trial_json(trial, objective))
    else:
        for line in _best_lines(exp, trial):
            click.echo(line)
    return 0


def _named_trial(store: Any, exp: Any, trial_name: str) -> Any:
    """``--trial``: a trial of the experiment (a one-line error naming the front otherwise)."""
    from tunery.errors import NotFoundError

    try:
        return store.get_trial(exp.key, trial_name)
    except NotFoundError:
        _fail(
            f"experiment {exp.name} has no trial {trial_name!r}",
            f"see its trials with `tunery best {exp.command_ref}` or `tunery trials "
            f"{exp.command_ref}`",
        )


def _no_front(exp: Any) -> str:
    feasible = " feasible" if exp.spec.objective.constraints else ""
    return (
        f"experiment {exp.name} has no Pareto front yet: no completed{feasible} trial with "
        "every objective value"
    )


@main.command(
    short_help="Export an experiment's spec (yaml, json) or its trial table (csv).",
    epilog="""\b
Examples:
  tunery export mnist > mnist.yaml          # the spec, to run again
  tunery export mnist -o json
  tunery export mnist -o csv > trials.csv   # one row per trial
  tunery export mnist --format optimizationjob > job.yaml
  tunery export mnist --format katib        # a command-line trial becomes a Job
  tunery export mnist -o optuna-journal mnist.log   # then: optuna-dashboard mnist.log""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["yaml", "json", "csv", "optuna-journal"]),
    default="yaml",
    show_default=True,
    help="yaml or json: the spec as a document (its own form unless --format); csv: the "
    "trial table; optuna-journal: an Optuna study in journal FILE (optuna-dashboard FILE).",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(["katib", "optimizationjob"]),
    default=None,
    help="The document form: katib (kubeflow.org/v1beta1 Experiment; a command becomes a "
    "Job) or optimizationjob (trainer.kubeflow.org/v1alpha1). Default: the experiment's own.",
)
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def export(
    name: str,
    namespace: str | None,
    db: str | None,
    fmt: str,
    form: str | None,
    file: str | None,
) -> None:
    """Export an experiment's spec (yaml, json), its trial table (csv) or an Optuna study
    (optuna-journal, into FILE)."""
    from tunery.spec import to_document

    store = _open_store(db)
    exp = _resolve(store, name, namespace)
    if fmt == "optuna-journal":
        from tunery.cli._integrations import export_optuna_journal

        export_optuna_journal(store, exp, file, form)
        return
    if file is not None:
        _fail(f"FILE {file} applies to -o optuna-journal", "the other forms go to standard output")
    if fmt in ("yaml", "json"):
        if form is None and exp.spec.source_format == "optimizationjob":
            form = "optimizationjob"
        if form is None:
            doc = to_document(exp.spec)
        elif form == "katib":
            from tunery.spec.status import to_katib_document

            doc = to_katib_document(exp.spec)
        else:
            from tunery.spec.optimizationjob import to_optimization_job

            doc = to_optimization_job(exp.spec)
        if fmt == "json":
            _print_json(doc)
        else:
            click.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)
        return
    if form is not None:
        _fail("--format applies to -o yaml or -o json, not to the csv trial table")
    from tunery import wire

    trials = [wire.trial_json(t, exp.spec.objective) for t in store.list_trials(exp.key)]
    click.echo(wire.csv_text(exp, trials), nl=False)


def _objective_text(objective: Any) -> str:
    """``maximize accuracy``, or every objective and the constraints' count."""
    text = ", ".join(f"{t.type.value} {t.metric}" for t in objective.terms)
    if objective.constraints:
        n = len(objective.constraints)
        text += f", {n} constraint{'s' if n > 1 else ''}"
    return text
