"""The ``tunery`` command line.

Commands and their ``--json`` shapes are a contract (see README): ``run``, ``resume``,
``validate``, ``list``, ``get``, ``trials``, ``best``, ``stop``, ``delete``, ``export``, ``db``.
Bad input exits with code 2 and one line that names the field and the fix.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import yaml

from tunery.errors import LeaseHeldError, TuneryError, UserInputError

if TYPE_CHECKING:
    from tunery.controller import TrialEvent

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("tunery")


# --------------------------------------------------------------------------- helpers


def _experiment_json(experiment: Any, trials: Sequence[Any]) -> dict[str, Any]:
    """The experiment in the wire shape (``tunery.wire``), with its best trial."""
    from tunery import wire
    from tunery.model import best_trial

    best = best_trial(experiment.spec.objective, list(trials))
    return wire.experiment_json(
        experiment,
        wire.count_statuses(trials),
        best.objective if best is not None else None,
        wire.trial_json(best) if best is not None else None,
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


def _trial_counts(summary: Mapping[str, int]) -> str:
    """``ok/total``, plus failures and running trials when there are any."""
    text = f"{summary['succeeded']}/{summary['total']} ok"
    failed = summary["failed"] + summary["metricsUnavailable"]
    if failed:
        text += f", {failed} failed"
    if summary["running"]:
        text += f", {summary['running']} running"
    return text


def _local_time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


#: Widest "reason: message" cell of the trials table.
_REASON_WIDTH = 100


def _reason_cell(trial: Any) -> str:
    from tunery.outcome import shorten
    from tunery.thinning import THINNED_LABEL

    thinned = trial.labels.get(THINNED_LABEL)
    note = f"observations of {thinned} thinned" if thinned else ""
    if trial.status.value in ("Succeeded", "Running", "Created"):
        return note
    text = str(trial.reason or "")
    if trial.message and trial.status.is_failed:
        text = f"{text}: {trial.message}" if text else str(trial.message)
    if note:
        text = f"{note}; {text}"
    return shorten(text, _REASON_WIDTH)


def _short(value: Any) -> str:
    """A compact cell for tables: 4 significant digits for floats."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return _fmt(value)


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped or logged output: do not squeeze tables into 80 columns.
        console = Console(highlight=False, soft_wrap=True, width=200)
    return console


def _trials_table(experiment: Any, trials: Sequence[Any], best_name: str | None) -> Any:
    from rich.markup import escape
    from rich.table import Table

    spec = experiment.spec
    from rich import box

    table = Table(title=f"trials of {experiment.name}", box=box.SIMPLE_HEAD, pad_edge=False)
    longest = max((len(t.name) for t in trials), default=5)
    table.add_column("trial", no_wrap=True, min_width=longest)
    table.add_column("status", no_wrap=True, min_width=9)
    # PBT lineage (Katib's labels): the generation and the trial whose checkpoint it continues.
    from tunery.suggest.pbt import GENERATION_LABEL, PARENT_LABEL

    lineage = any(GENERATION_LABEL in t.labels for t in trials)
    if lineage:
        table.add_column("gen", justify="right", no_wrap=True)
        table.add_column("parent", no_wrap=True, min_width=longest)
    # Hyperband's bracket and rung of each trial.
    from tunery.suggest.hyperband import BRACKET_LABEL, RUNG_LABEL

    brackets = any(BRACKET_LABEL in t.labels for t in trials)
    if brackets:
        table.add_column("bracket", justify="right", no_wrap=True)
        table.add_column("rung", justify="right", no_wrap=True)
    for p in spec.parameters:
        table.add_column(p.name, justify="right", min_width=max(min(len(p.name), 10), 8))
    objective_name = spec.objective.objective_metric_name
    arrow = "↓" if spec.objective.type.value == "minimize" else "↑"
    table.add_column(f"{objective_name} {arrow}", justify="right", no_wrap=True)
    for metric in spec.objective.additional_metric_names:
        table.add_column(metric, justify="right", min_width=max(min(len(metric), 10), 8))
    reasons = {t.name: _reason_cell(t) for t in trials}
    with_reason = any(reasons.values())
    if with_reason:
        table.add_column("reason")
    for t in trials:
        row = [t.name, t.status.value]
        if lineage:
            row += [t.labels.get(GENERATION_LABEL, "-"), t.labels.get(PARENT_LABEL, "-")]
        if brackets:
            row += [t.labels.get(BRACKET_LABEL, "-"), t.labels.get(RUNG_LABEL, "-")]
        row += [_short(t.parameters.get(p.name)) for p in spec.parameters]
        row.append(_short(t.objective))
        for metric in spec.objective.additional_metric_names:
            summary = t.metrics.get(metric)
            value = summary.pick(spec.objective.strategy_for(metric)) if summary else None
            row.append(_short(value))
        if with_reason:
            row.append(escape(reasons[t.name]))
        style = "bold green" if t.name == best_name else None
        table.add_row(*row, style=style)
    return table


def _best_lines(experiment: Any, best: Any) -> list[str]:
    from tunery.spec import format_value

    spec = experiment.spec
    name = spec.objective.objective_metric_name
    lines = [
        f"best trial: {best.name}  {name}={_fmt(best.objective)}",
        "best hyperparameters:",
    ]
    for p in spec.parameters:
        lines.append(f"  {p.name} = {format_value(best.parameters[p.name])}")
    return lines


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


# --------------------------------------------------------------------------- run / resume


def _load_single(
    path: str, name: str | None, configmaps: Sequence[str] = ()
) -> tuple[Any, str | None]:
    """The experiment of ``path``; returns (parsed, rename).

    With several experiments in the file, ``--name`` picks one; with one, it renames it.
    """
    from tunery.spec import load_file

    parsed = load_file(path, configmaps=configmaps)
    if len(parsed) == 1:
        return parsed[0], name
    names = ", ".join(p.spec.name for p in parsed)
    if name is None:
        _fail(f"{path} holds {len(parsed)} experiments ({names})", "pick one with --name NAME")
    for p in parsed:
        if p.spec.name == name:
            return p, None
    _fail(f"{path} has no experiment named {name!r}", f"use one of: {names}")


def _apply_overrides(
    spec: Any, name: str | None, parallel: int | None, max_trials: int | None
) -> Any:
    from tunery.spec import parse_document, to_document

    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if parallel is not None:
        changes["parallel_trial_count"] = parallel
    if max_trials is not None:
        changes["max_trial_count"] = max_trials
    if not changes:
        return spec
    spec = replace(spec, **changes)
    # Re-validate so that e.g. --parallel above --max-trials is refused like in YAML.
    return parse_document(to_document(spec))


def _progress_printer(console: Any, experiment: Any) -> Callable[[TrialEvent], None]:
    from rich.markup import escape

    from tunery.controller import TrialEventKind

    spec = experiment.spec

    def on_event(event: TrialEvent) -> None:
        trial = event.trial
        if event.kind is TrialEventKind.FINISHED and trial is not None:
            params = " ".join(f"{k}={_fmt(v)}" for k, v in trial.parameters.items())
            value = (
                f"{spec.objective.objective_metric_name}={_fmt(trial.objective)}"
                if trial.objective is not None
                else ""
            )
            status = trial.status.value
            colour = {"Succeeded": "green", "Killed": "yellow"}.get(status, "red")
            extra = "" if status == "Succeeded" else f" ({trial.reason}: {trial.message})"
            console.print(
                f"[{colour}]{status:>18}[/] {trial.name}  {escape(f'{params}  {value}{extra}')}",
                markup=True,
                highlight=False,
            )

    return on_event


def _status_line(controller: Any) -> str:
    from tunery.model import best_trial

    trials = controller.trials
    spec = controller.experiment.spec
    done = sum(1 for t in trials if t.status.is_completed)
    running = sum(1 for t in trials if t.status.is_active)
    failed = sum(1 for t in trials if t.status.is_failed)
    total = spec.max_trial_count if spec.max_trial_count is not None else "∞"
    best = best_trial(spec.objective, trials)
    best_text = (
        f"best {spec.objective.objective_metric_name}={_fmt(best.objective)} ({best.name})"
        if best
        else "no result yet"
    )
    return f"{done}/{total} done, {running} running, {failed} failed · {best_text}"


def _drive(
    store: Any,
    name: str,
    *,
    gpus: str | None,
    quiet: bool,
    as_json: bool,
    executor_url: str | None = None,
) -> int:
    """Run the controller of experiment ``name`` to its end with a live display."""
    from tunery.controller import Controller
    from tunery.execute import executor_url_of, open_executor

    console = _console()
    experiment = store.get_experiment(name)
    gpu_pool = [g for g in gpus.split(",") if g.strip()] if gpus else None
    url = executor_url_of(experiment.spec.annotations, executor_url)
    executor = open_executor(url, gpus=gpu_pool)
    printer = _progress_printer(console, experiment)
    controller = Controller(
        store,
        name,
        executor,
        on_event=None if (quiet or as_json) else printer,
        poll_interval=0.5,
    )

    def _sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        controller.start()
        if not (quiet or as_json):
            console.print(
                f"running experiment [bold]{name}[/] "
                f"({experiment.spec.algorithm.algorithm_name}, "
                f"parallel {experiment.spec.parallel_trial_count}, "
                f"max {experiment.spec.max_trial_count or 'unlimited'} trials); "
                f"trial output under {experiment.runs_dir}",
                markup=True,
            )
        show_live = console.is_terminal and not (quiet or as_json)
        if show_live:
            from rich.live import Live

            with Live(console=console, refresh_per_second=4, transient=True) as live:
                while not controller.tick():
                    live.update(_status_line(controller))
                    controller._idle()
        else:
            while not controller.tick():
                controller._idle()
    except KeyboardInterrupt:
        killed = controller.interrupt()
        controller.release()
        console.print(
            f"interrupted: {killed} running trial(s) killed; continue with `tunery resume {name}`",
            style="yellow",
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    controller.release()
    final = store.get_experiment(name)
    trials = store.list_trials(name)
    return _report(console, final, trials, as_json=as_json, quiet=quiet)


def _report(
    console: Any, experiment: Any, trials: Sequence[Any], *, as_json: bool, quiet: bool
) -> int:
    """Print the end of a run; the exit code: 0 only when it Succeeded with a trial that did.

    Katib calls an experiment whose trials all failed Succeeded (max trials reached): the
    stored status stays Katib's, but the last line says so and the exit code is 1.
    """
    from tunery.model import best_trial
    from tunery.outcome import no_success_line

    nothing = no_success_line(trials, stopped=experiment.reason == "ExperimentStopped")
    code = 0 if experiment.status.value == "Succeeded" and nothing is None else 1
    if as_json:
        _print_json(_experiment_json(experiment, trials))
        if nothing is not None:
            click.echo(nothing, err=True)
        return code
    best = best_trial(experiment.spec.objective, list(trials))
    if not quiet:
        console.print(_trials_table(experiment, trials, best.name if best else None))
    console.print(
        f"experiment {experiment.name}: {experiment.status.value} "
        f"({experiment.reason}: {experiment.message})"
    )
    if best is not None:
        for line in _best_lines(experiment, best):
            console.print(line, highlight=False)
    elif nothing is None:
        console.print(
            "no trial reported the objective metric; see `tunery trials "
            f"{experiment.name}` and the trials' output.log",
            style="yellow",
        )
    if nothing is not None:
        console.print(nothing, style="red", markup=False, highlight=False)
    return code


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@_db_option
@click.option("--name", default=None, help="Run the experiment under this name.")
@click.option(
    "--parallel", type=click.IntRange(min=1), default=None, help="Override parallelTrialCount."
)
@click.option(
    "--max-trials", type=click.IntRange(min=1), default=None, help="Override maxTrialCount."
)
@click.option(
    "--dry-run", is_flag=True, help="Print the argv of the first suggestions; run nothing."
)
@click.option(
    "--runs-dir",
    default=None,
    metavar="DIR",
    help="Where trial directories go (default ./tunery-runs).",
)
@click.option(
    "--gpus",
    envvar="TUNERY_GPUS",
    default=None,
    metavar="IDS",
    help="GPU ids for trials that ask for nvidia.com/gpu, e.g. 0,1.",
)
@_executor_option
@_configmap_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the final summary.")
@_json_option
def run(
    file: str,
    db: str | None,
    name: str | None,
    parallel: int | None,
    max_trials: int | None,
    dry_run: bool,
    runs_dir: str | None,
    gpus: str | None,
    executor_url: str,
    configmaps: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> int:
    """Run the experiment in FILE to its end (resumes it if it already exists)."""
    from tunery.client import Client, same_search
    from tunery.spec import spec_warnings

    parsed, rename = _load_single(file, name, configmaps)
    spec = _apply_overrides(parsed.spec, rename, parallel, max_trials)
    from tunery.spec.commands import command_warnings

    base_dir = os.path.dirname(os.path.abspath(file))
    for warning in spec_warnings(spec) + command_warnings(spec, base_dir):
        click.echo(f"warning: {warning}", err=True)
    if dry_run:
        _dry_run(spec, runs_dir, base_dir)
        return 0
    store = _open_store(db)
    client = Client(store=store)
    existing = store.find_experiment(spec.name)
    if existing is None:
        client.create_experiment(spec, base_dir=base_dir, runs_dir=runs_dir)
        return _drive(
            store, spec.name, gpus=gpus, quiet=quiet, as_json=as_json, executor_url=executor_url
        )
    if not same_search(existing.spec, spec):
        _fail(
            f"an experiment named {spec.name!r} already exists with a different spec",
            f"run it under another name (--name), or `tunery delete {spec.name}` first",
        )
    return _resume(client, spec.name, spec, None, gpus, quiet, as_json, executor_url, announce=True)


def _resume(
    client: Any,
    name: str,
    spec: Any,
    max_trials: int | None,
    gpus: str | None,
    quiet: bool,
    as_json: bool,
    executor_url: str | None,
    *,
    announce: bool,
) -> int:
    """``run``/``resume`` of a stored experiment: go on with it, extend it if it has completed
    and Katib would (``Client.resume``), else report it; ``announce``: say it is resumed."""
    from tunery.client import ResumeAction

    console = _console()
    resumed = client.resume(name, spec=spec, max_trials=max_trials)
    if resumed.action is ResumeAction.COMPLETED:
        if not (quiet or as_json):
            console.print(f"experiment {name} has already completed")
        trials = client.store.list_trials(name)
        return _report(console, resumed.experiment, trials, as_json=as_json, quiet=quiet)
    if resumed.action is ResumeAction.EXTEND:
        gpus = None  # as it always was: an extended experiment does not take --gpus
    elif announce and not (quiet or as_json):
        console.print(f"experiment {name} exists: resuming it")
    return _drive(
        client.store, name, gpus=gpus, quiet=quiet, as_json=as_json, executor_url=executor_url
    )


def _dry_run(spec: Any, runs_dir: str | None, base_dir: str | None) -> None:
    import shlex

    from tunery.history import History
    from tunery.launch import build_launch, seed_for, trial_name_for
    from tunery.suggest import create_suggester

    suggester = create_suggester(spec, seed_for(spec.name))
    count = spec.parallel_trial_count
    if spec.max_trial_count is not None:
        count = min(count, spec.max_trial_count)
    for i, assignment in enumerate(suggester.suggest(History.from_spec(spec, []), count), start=1):
        trial_name = trial_name_for(spec.name, i)
        launch = build_launch(
            spec,
            experiment=spec.name,
            trial_name=trial_name,
            parameters=assignment.parameters,
            labels=assignment.trial_labels(),
            runs_dir=runs_dir,
            base_dir=base_dir,
        )
        if launch.replicas:
            click.echo(f"{trial_name}: a gang of {len(launch.replicas)} processes (tunery.gang)")
            for replica in launch.replicas:
                role = " (primary)" if replica.primary else ""
                click.echo(f"  {replica.name}{role}: {shlex.join(replica.argv)}")
        else:
            click.echo(f"{trial_name}: {shlex.join(launch.argv)}")
        if launch.metrics_path is not None:
            click.echo(f"  metrics: {launch.metrics_path}")


@main.command()
@click.argument("name")
@_db_option
@click.option("--max-trials", type=click.IntRange(min=1), default=None, help="Raise maxTrialCount.")
@click.option("--gpus", envvar="TUNERY_GPUS", default=None, metavar="IDS")
@_executor_option
@click.option("-q", "--quiet", is_flag=True)
@_json_option
def resume(
    name: str,
    db: str | None,
    max_trials: int | None,
    gpus: str | None,
    executor_url: str,
    quiet: bool,
    as_json: bool,
) -> int:
    """Resume experiment NAME after a crash, Ctrl-C or reboot."""
    from tunery.client import Client

    client = Client(store=_open_store(db))
    return _resume(
        client, name, None, max_trials, gpus, quiet, as_json, executor_url, announce=False
    )


# --------------------------------------------------------------------------- read commands


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@_configmap_option
@_json_option
def validate(file: str, configmaps: tuple[str, ...], as_json: bool) -> None:
    """Check an experiment file; exit 2 with the YAML path of the first problem.

    A valid Katib algorithm that this version cannot run yet is reported as a warning (the
    file is valid Katib; `tunery run` refuses it).
    """
    from tunery.spec import load_file, spec_warnings
    from tunery.spec.commands import command_warnings
    from tunery.stopping import available as stopping_available
    from tunery.suggest.base import AlgorithmNotAvailableError, validate_algorithm

    parsed = load_file(file, check_algorithm=False, configmaps=configmaps)
    base_dir = os.path.dirname(os.path.abspath(file))
    results = []
    for p in parsed:
        warnings = spec_warnings(p.spec) + command_warnings(p.spec, base_dir)
        try:
            validate_algorithm(p.spec)
        except AlgorithmNotAvailableError as exc:
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
        click.echo(
            f"{file}: experiment {s.name} is valid ({s.algorithm.algorithm_name}, "
            f"{len(s.parameters)} parameters, {s.objective.type.value} "
            f"{s.objective.objective_metric_name})"
        )
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)


@main.command(name="list")
@_db_option
@_json_option
def list_(db: str | None, as_json: bool) -> None:
    """List experiments."""
    from rich.table import Table

    from tunery import wire
    from tunery.model import best_trial

    store = _open_store(db)
    rows = []
    for exp in store.list_experiments():
        trials = store.list_trials(exp.name)
        rows.append((exp, trials))
    if as_json:
        _print_json([_experiment_json(e, t) for e, t in rows])
        return
    if not rows:
        click.echo("no experiments yet; start one with `tunery run FILE`")
        return
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("name", "status", "reason", "algorithm", "objective", "best", "trials", "created"):
        table.add_column(col, no_wrap=True)
    for exp, trials in rows:
        best = best_trial(exp.spec.objective, trials)
        s = wire.trial_counts(wire.count_statuses(trials))
        table.add_row(
            exp.name,
            exp.status.value,
            (exp.reason or "").removeprefix("Experiment"),
            exp.spec.algorithm.algorithm_name,
            f"{exp.spec.objective.type.value[:3]} {exp.spec.objective.objective_metric_name}",
            _short(best.objective) if best else "-",
            _trial_counts(s),
            _local_time(exp.created_time),
        )
    _console().print(table)


@main.command()
@click.argument("name")
@_db_option
@_json_option
def get(name: str, db: str | None, as_json: bool) -> None:
    """Show one experiment's status."""
    store = _open_store(db)
    exp = store.get_experiment(name)
    trials = store.list_trials(name)
    data = _experiment_json(exp, trials)
    if as_json:
        _print_json(data)
        return
    console = _console()
    console.print(f"experiment {exp.name}: {exp.status.value} ({exp.reason}: {exp.message})")
    console.print("trials: " + ", ".join(f"{k} {v}" for k, v in data["trials"].items()))
    best = next(
        (t for t in trials if data["bestTrial"] and t.name == data["bestTrial"]["name"]), None
    )
    if best is not None:
        for line in _best_lines(exp, best):
            console.print(line, highlight=False)


@main.command()
@click.argument("name")
@_db_option
@click.option("--status", "statuses", multiple=True, help="Only trials with this condition.")
@_json_option
def trials(name: str, db: str | None, statuses: tuple[str, ...], as_json: bool) -> None:
    """List an experiment's trials."""
    from tunery import wire
    from tunery.model import TrialCondition, best_trial

    store = _open_store(db)
    exp = store.get_experiment(name)
    wanted = None
    if statuses:
        valid = {c.value.lower(): c for c in TrialCondition}
        wanted = []
        for s in statuses:
            if s.lower() not in valid:
                _fail(
                    f"--status {s!r} is not a trial condition",
                    f"use one of: {', '.join(c.value for c in TrialCondition)}",
                )
            wanted.append(valid[s.lower()])
    rows = store.list_trials(name, wanted)
    if as_json:
        _print_json([wire.trial_json(t) for t in rows])
        return
    best = best_trial(exp.spec.objective, store.list_trials(name))
    _console().print(_trials_table(exp, rows, best.name if best else None))
    _print_metrics_paths(exp, rows)


def _print_metrics_paths(exp: Any, rows: Sequence[Any]) -> None:
    """Where each trial's own copy of the collector's path is (File/TensorFlowEvent/Custom)."""
    from tunery.model import collects_files

    sources = [t.metrics_source for t in rows if t.metrics_source]
    if not collects_files(exp.spec) or not sources:
        return
    path = exp.spec.metrics_collector.path
    example = next(t for t in rows if t.metrics_source)
    pattern = sources[0].replace(f"/{example.name}/", "/<trial>/", 1)
    if all(s == pattern.replace("<trial>", t.name, 1) for t in rows if (s := t.metrics_source)):
        click.echo(f"metrics ({path}): each trial's own copy, {pattern}")
    else:
        for t in rows:
            if t.metrics_source:
                click.echo(f"metrics of {t.name}: {t.metrics_source}")


@main.command()
@click.argument("name")
@_db_option
@_json_option
def best(name: str, db: str | None, as_json: bool) -> int:
    """Show the best trial and its hyperparameters."""
    from tunery import wire
    from tunery.model import best_trial

    store = _open_store(db)
    exp = store.get_experiment(name)
    trial = best_trial(exp.spec.objective, store.list_trials(name))
    if trial is None:
        if as_json:
            _print_json(None)
        else:
            click.echo(f"experiment {name} has no trial with an objective value yet")
        return 1
    if as_json:
        _print_json(wire.trial_json(trial))
    else:
        for line in _best_lines(exp, trial):
            click.echo(line)
    return 0


# --------------------------------------------------------------------------- intents


@main.command()
@click.argument("name")
@_db_option
def stop(name: str, db: str | None) -> None:
    """Stop an experiment: its running trials are killed; it ends Succeeded (ExperimentStopped)."""
    from tunery.controller import Controller
    from tunery.execute import open_executor, reopen_url
    from tunery.model import IntentKind

    store = _open_store(db)
    exp = store.get_experiment(name)
    if exp.status.is_completed:
        click.echo(f"experiment {name} has already completed ({exp.reason})")
        return
    now = datetime.now(UTC).timestamp()
    store.add_intent(name, IntentKind.STOP_EXPERIMENT, None, now)
    # With no controller running, this process kills the trials itself: through the executor
    # their handles name (a Dask scheduler), or locally.
    urls = (
        reopen_url(t.handle) for t in store.list_trials(name) if t.status.is_active and t.handle
    )
    controller = Controller(
        store, name, open_executor(next((u for u in urls if u != "local"), None))
    )
    try:
        controller.start()
    except LeaseHeldError:
        click.echo(f"stop requested: the controller running {name} will stop it shortly")
        return
    try:
        controller.tick()
    finally:
        controller.release()
    click.echo(f"experiment {name} stopped")


@main.command()
@click.argument("name")
@_db_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, db: str | None, yes: bool) -> None:
    """Delete an experiment and its trials from the database (trial directories stay)."""
    store = _open_store(db)
    exp = store.get_experiment(name)
    lease = store.lease_owner(name)
    now = datetime.now(UTC).timestamp()
    if lease is not None and lease[1] > now:
        from tunery.ledger import owner_is_dead

        if not owner_is_dead(lease[0]):
            _fail(
                f"experiment {name!r} is being run by a controller ({lease[0]})",
                f"stop it first with `tunery stop {name}`",
            )
    if not yes and sys.stdin.isatty() and not click.confirm(f"delete experiment {name}?"):
        raise click.exceptions.Abort
    store.delete_experiment(name)
    where = f"; trial directories stay under {exp.runs_dir}" if exp.runs_dir else ""
    click.echo(f"deleted experiment {name}{where}")


@main.command()
@click.argument("name")
@_db_option
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["yaml", "json", "csv"]),
    default="yaml",
    show_default=True,
)
def export(name: str, db: str | None, fmt: str) -> None:
    """Export an experiment's spec (yaml, json) or its trial table (csv)."""
    from tunery.spec import to_document

    store = _open_store(db)
    exp = store.get_experiment(name)
    if fmt == "yaml":
        click.echo(yaml.safe_dump(to_document(exp.spec), sort_keys=False), nl=False)
        return
    if fmt == "json":
        _print_json(to_document(exp.spec))
        return
    from tunery import wire

    trials = [wire.trial_json(t) for t in store.list_trials(name)]
    click.echo(wire.csv_text(exp, trials), nl=False)


# --------------------------------------------------------------------------- ui


def _host_names_option(
    _ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    from tunery.ui.exposure import normal_name

    for value in values:
        if value.strip() in ("", "*"):
            raise click.BadParameter(
                "the Host check cannot be turned off; name the hosts", param=param
            )
        try:
            normal_name(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param=param) from None
    return values


@main.command()
@_db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on.  Beyond loopback (0.0.0.0, a LAN address) it warns, and "
    "reads need the token too unless --public-read.",
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token",
    envvar="TUNERY_UI_TOKEN",
    default=None,
    help="Token that stop/kill/create need, and beyond loopback every read (default: a "
    "random one, printed at start).",
)
@click.option(
    "--public-read",
    is_flag=True,
    help="Beyond loopback, let anyone who can reach the server read without the token "
    "(writes still need it).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    callback=_host_names_option,
    help="Also answer requests with this Host name (a proxy's name; *.example.org for its "
    "subdomains).  Repeatable.  Others get 421.",
)
@click.option(
    "--runs-dir",
    default=None,
    metavar="DIR",
    help="Trial directories of experiments created in the UI.",
)
def ui(
    db: str | None,
    host: str,
    port: int,
    token: str | None,
    public_read: bool,
    allow_hosts: tuple[str, ...],
    runs_dir: str | None,
) -> None:
    """Serve the web UI: experiments, trial graph and table, live learning curves.

    It listens on 127.0.0.1; reads need nothing there, stop/kill/create need the printed
    token.  Requests whose Host header is not a name the server is reachable by are refused
    (DNS rebinding), whatever the address.
    """
    from tunery.ui import serve

    serve(
        db,
        host=host,
        port=port,
        token=token,
        runs_dir=runs_dir,
        public_read=public_read,
        allow_hosts=allow_hosts,
    )


# --------------------------------------------------------------------------- db


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@_db_option
def upgrade(db: str | None) -> None:
    """Bring the database schema to the newest version (Alembic migrations)."""
    from tunery.storage import Store

    store = Store(db, upgrade=False)
    revision = store.upgrade()
    click.echo(f"{store.url}: schema at revision {revision}")


@db.command()
@_db_option
def current(db: str | None) -> None:
    """Print the database's schema revision."""
    from tunery.storage import Store

    store = Store(db, upgrade=False)
    click.echo(f"{store.url}: {store.current_revision() or 'empty (run `tunery db upgrade`)'}")


if __name__ == "__main__":  # pragma: no cover
    main()
