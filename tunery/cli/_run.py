"""``tunery run`` and ``tunery resume``: drive an experiment's controller in this process."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import Any

import click

from tunery.cli._common import (
    _best_lines,
    _configmap_option,
    _console,
    _db_option,
    _executor_option,
    _experiment_json,
    _fail,
    _json_option,
    _named_in_namespace,
    _namespace_option,
    _open_store,
    _print_json,
    _ref,
    _trials_table,
    main,
)
from tunery.cli._integrations import check_mlflow_uri, mlflow_option
from tunery.progress import EventLog, drive_live

log = logging.getLogger("tunery")


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


def _drive(
    store: Any,
    key: str,
    *,
    gpus: str | None,
    quiet: bool,
    as_json: bool,
    executor_url: str | None = None,
    mlflow_uri: str | None = None,
) -> int:
    """Run the controller of the experiment stored under ``key`` to its end with a live
    display (mirrored into MLflow with ``mlflow_uri``)."""
    from tunery.cli._integrations import open_mlflow_sink
    from tunery.controller import Controller
    from tunery.execute import executor_url_of, open_executor

    # --json prints nothing but the JSON: rich (tens of ms to import) only for a message.
    console = None if as_json else _console()
    experiment = store.get_experiment(key)
    name = experiment.name
    ref = _ref(store, experiment)
    gpu_pool = [g for g in gpus.split(",") if g.strip()] if gpus else None
    url = executor_url_of(experiment.spec.annotations, executor_url)
    sink = open_mlflow_sink(store, key, mlflow_uri)
    executor = open_executor(url, gpus=gpu_pool)
    show_live = console is not None and console.is_terminal and not quiet
    events = (
        None
        if (quiet or console is None)
        else EventLog(console, experiment.spec, every_event=not console.is_terminal)
    )
    controller = Controller(store, key, executor, on_event=events, poll_interval=0.5)

    def _sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        controller.start()
        if sink is not None:
            sink.start()
        if events is not None:
            events.seed(controller.trials)
        if console is not None and not quiet:
            console.print(
                f"running experiment [bold]{name}[/]"
                f"{'' if ref == name else f' (namespace {experiment.namespace})'} "
                f"({experiment.spec.algorithm.algorithm_name}, "
                f"parallel {experiment.spec.parallel_trial_count}, "
                f"max {experiment.spec.max_trial_count or 'unlimited'} trials"
                f"{_time_budget_note(experiment.spec)}); "
                f"trial output under {experiment.runs_dir}",
                markup=True,
            )
        if show_live and events is not None and console is not None:
            drive_live(controller, console, events)
        else:
            while not controller.tick():
                controller._idle()
    except KeyboardInterrupt:
        killed = controller.interrupt()
        controller.release()
        if sink is not None:
            sink.close()
        (console or _console()).print(
            f"interrupted: {killed} running trial(s) killed; `tunery resume {ref}` runs them "
            "again and continues",
            style="yellow",
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    controller.release()
    if sink is not None and not sink.close():
        click.echo("warning: the last MLflow sync failed; `tunery mlflow sync` retries", err=True)
    final = store.get_experiment(key)
    trials = store.list_trials(key)
    return _report(console, final, trials, as_json=as_json, quiet=quiet, store=store)


def _time_budget_note(spec: Any) -> str:
    """``, time budget 2h (KillRunning)`` for the run's first line; empty without one."""
    if spec.max_experiment_duration is None:
        return ""
    from tunery.deadline import policy_of
    from tunery.spec.katib import format_duration

    limit = format_duration(spec.max_experiment_duration)
    return f", time budget {limit} ({policy_of(spec).value})"


def _report(
    console: Any,
    experiment: Any,
    trials: Sequence[Any],
    *,
    as_json: bool,
    quiet: bool,
    store: Any = None,
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
        _print_json(_experiment_json(experiment, trials, store))
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
    from tunery.cli._front import mo_lines

    front = mo_lines(experiment, trials)
    if front is not None:
        for line in front:
            console.print(line, highlight=False)
    elif best is not None:
        for line in _best_lines(experiment, best):
            console.print(line, highlight=False, markup=False)
    elif (
        nothing is None
        and experiment.spec.objective.constraints
        and any(t.objective is not None for t in trials)
    ):
        console.print(
            "no trial met every constraint (spec.constraints), so none is best; see "
            f"`tunery trials {experiment.name} --json` (their feasible field)",
            style="yellow",
        )
    elif nothing is None:
        console.print(
            "no trial reported the objective metric; see `tunery trials "
            f"{experiment.name}` and the trials' output.log",
            style="yellow",
        )
    if nothing is not None:
        console.print(nothing, style="red", markup=False, highlight=False)
    return code


@main.command(
    short_help="Run the experiment in FILE to its end (resumes it if it exists).",
    epilog="""\b
Examples:
  tunery run experiment.yaml
  tunery run experiment.yaml --parallel 4 --max-trials 50
  tunery run experiment.yaml --name mnist-2 --dry-run
  tunery run experiment.yaml -n team-a      # in namespace team-a
  tunery run experiment.yaml --executor dask://127.0.0.1:8786
  tunery run experiment.yaml -q --json    # only the end, as JSON
  tunery run experiment.yaml --warm-start-from mnist-1   # seeded with its results
  tunery run experiment.yaml --warm-start-csv results.csv""",
)
@click.argument("file", type=click.Path(dir_okay=False))
@_db_option
@click.option("--name", default=None, help="Run the experiment under this name.")
@_namespace_option(
    "Run the experiment in this namespace (default: its metadata.namespace, else default)."
)
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
@mlflow_option
@click.option(
    "--warm-start-from",
    "warm_from",
    multiple=True,
    metavar="EXPERIMENT",
    help="Seed the algorithm with the results of EXPERIMENT (same database; NAMESPACE/NAME "
    "for another namespace); seeds are not run and use no budget. Repeatable.",
)
@click.option(
    "--warm-start-csv",
    "warm_csv",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Seed the algorithm with the results in a CSV file (`tunery export --format csv`'s, "
    "Optuna's trials_dataframe, or columns named as parameters and metrics). Repeatable.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the final summary.")
@_json_option
def run(
    file: str,
    db: str | None,
    name: str | None,
    namespace: str | None,
    parallel: int | None,
    max_trials: int | None,
    dry_run: bool,
    runs_dir: str | None,
    gpus: str | None,
    executor_url: str,
    configmaps: tuple[str, ...],
    mlflow_uri: str | None,
    warm_from: tuple[str, ...],
    warm_csv: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> int:
    """Run the experiment in FILE to its end (resumes it if it already exists).

    With --warm-start-from / --warm-start-csv, known results seed the algorithm first (see
    docs/warm-starts.md); seeds the experiment holds already are not stored again."""
    from tunery.client import Client, same_search, with_namespace
    from tunery.spec import spec_warnings
    from tunery.stopfile import grace_from_env

    parsed, rename = _load_single(file, name, configmaps)
    spec = _apply_overrides(parsed.spec, rename, parallel, max_trials)
    if namespace is not None and namespace != spec.namespace:
        spec = with_namespace(spec, namespace)
    from tunery.spec.commands import command_warnings

    base_dir = os.path.dirname(os.path.abspath(file))
    for warning in spec_warnings(spec) + command_warnings(spec, base_dir):
        click.echo(f"warning: {warning}", err=True)
    if dry_run:
        # The database is read only for --warm-start-from; nothing is stored.
        reader = Client(store=_open_store(db)) if warm_from else None
        _dry_run(spec, runs_dir, base_dir, _warm_seeds(reader, spec, warm_from, warm_csv))
        return 0
    grace_from_env()  # a bad TUNERY_STOP_GRACE is refused before anything is stored
    check_mlflow_uri(mlflow_uri)
    store = _open_store(db)
    client = Client(store=store)
    existing = client.find_experiment(spec.name, spec.namespace)
    seeds = _warm_seeds(client, spec, warm_from, warm_csv)
    if existing is None:
        made = client.create_experiment(spec, base_dir=base_dir, runs_dir=runs_dir)
        _seed(store, made.key, seeds, quiet)
        return _drive(
            store,
            made.key,
            gpus=gpus,
            quiet=quiet,
            as_json=as_json,
            executor_url=executor_url,
            mlflow_uri=mlflow_uri,
        )
    if not same_search(existing.spec, spec):
        ref = _ref(store, existing)
        _fail(
            f"an experiment named {spec.name!r} already exists in namespace "
            f"{spec.namespace!r} with a different spec",
            f"run it under another name (--name) or namespace (-n), or `tunery delete {ref}` first",
        )
    if not existing.status.is_completed:
        _file_budget(store, existing, spec, file)
    _seed(store, existing.key, seeds, quiet)
    return _resume(
        client,
        existing.name,
        spec,
        None,
        gpus,
        quiet,
        as_json,
        executor_url,
        announce=True,
        namespace=existing.namespace,
        mlflow_uri=mlflow_uri,
    )


def _warm_seeds(
    client: Any | None, spec: Any, warm_from: Sequence[str], warm_csv: Sequence[str]
) -> list[tuple[str, list[Any]]]:
    """The seeds of each ``--warm-start-*`` source, read before anything is written (a bad
    source stops the run with nothing created)."""
    from tunery.warmstart import seeds_from_csv, seeds_from_trials

    out: list[tuple[str, list[Any]]] = []
    for ref in warm_from:
        assert client is not None  # opened whenever --warm-start-from is given
        namespace, _, name = ref.rpartition("/")
        namespace = namespace or spec.namespace
        source = client.find_experiment(name, namespace)
        if source is None:
            _fail(
                f"--warm-start-from: no experiment named {name!r} in namespace {namespace!r}",
                "`tunery list` shows them; write NAMESPACE/NAME for one in another namespace",
            )
        if source.name == spec.name and source.namespace == spec.namespace:
            _fail(
                f"--warm-start-from: {ref!r} is the experiment being run",
                "name an earlier experiment; its own results are already its History",
            )
        label = f"experiment:{name}" if namespace == "default" else f"experiment:{namespace}/{name}"
        trials = client.store.list_trials(source.key)
        out.append((label, seeds_from_trials(spec.objective, trials, label)))
    for path in warm_csv:
        if not os.path.isfile(path):
            _fail(f"--warm-start-csv: no file {path!r}", "give the path of a CSV file")
        seeds = seeds_from_csv(spec, path)
        out.append((seeds[0].source if seeds else f"csv:{path}", seeds))
    return out


def _seed(store: Any, key: str, sources: Sequence[tuple[str, list[Any]]], quiet: bool) -> None:
    """Store the seeds of each source (those the experiment holds already are not stored
    again); one line each."""
    from tunery.clock import SystemClock
    from tunery.warmstart import seed_store

    for source, seeds in sources:
        report = seed_store(store, key, seeds, SystemClock().now(), source=source)
        if not quiet or report.skipped:
            click.echo(report.line(), err=True)


def _file_budget(store: Any, existing: Any, spec: Any, file: str) -> None:
    """``run FILE`` of an unfinished experiment stores the file's budget: say so where it
    replaces another (e.g. from `tunery edit`), and refuse a maxTrialCount that leaves no
    trial to run (not above the trials already used)."""
    from tunery.budget import BUDGET_FIELDS, trial_counts

    name = existing.command_ref
    if spec.max_trial_count is not None and spec.max_trial_count != existing.spec.max_trial_count:
        counts = trial_counts(store.list_trials(existing.key))
        used = counts.completed + counts.active
        if spec.max_trial_count <= used:
            _fail(
                f"maxTrialCount {spec.max_trial_count} of {file} is not above the {used} trials "
                f"experiment {existing.name!r} has already used",
                f"`tunery resume {name}` runs it with its stored maxTrialCount "
                f"{existing.spec.max_trial_count}, or raise it in the file or with --max-trials",
            )
    for field, (katib, _) in BUDGET_FIELDS.items():
        stored, given = getattr(existing.spec, field), getattr(spec, field)
        if stored != given:
            click.echo(
                f"warning: {katib} {given} from {file} replaces the stored {stored} "
                f"(`tunery resume {name}` keeps the stored budget)",
                err=True,
            )


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
    namespace: str | None = None,
    mlflow_uri: str | None = None,
) -> int:
    """``run``/``resume`` of a stored experiment: go on with it, extend it if it has completed
    and Katib would (``Client.resume``), else report it; ``announce``: say it is resumed."""
    from tunery.client import ResumeAction

    console = _console()
    resumed = client.resume(name, namespace=namespace, spec=spec, max_trials=max_trials)
    key, name = resumed.experiment.key, resumed.experiment.name
    if resumed.action is ResumeAction.COMPLETED:
        if not (quiet or as_json):
            console.print(f"experiment {name} has already completed", highlight=False)
            if resumed.note is not None:
                console.print(resumed.note, markup=False, highlight=False)
        if mlflow_uri:
            from tunery.cli._integrations import mlflow_module

            mlflow_module().sync_experiment(client.store, key, mlflow_uri)
        trials = client.store.list_trials(key)
        return _report(
            console, resumed.experiment, trials, as_json=as_json, quiet=quiet, store=client.store
        )
    if resumed.action is ResumeAction.EXTEND:
        gpus = None  # as it always was: an extended experiment does not take --gpus
    elif announce and not (quiet or as_json):
        console.print(f"experiment {name} exists: resuming it")
    return _drive(
        client.store,
        key,
        gpus=gpus,
        quiet=quiet,
        as_json=as_json,
        executor_url=executor_url,
        mlflow_uri=mlflow_uri,
    )


def _dry_run(
    spec: Any,
    runs_dir: str | None,
    base_dir: str | None,
    seeds: Sequence[tuple[str, list[Any]]] = (),
) -> None:
    """The first trials' command lines: spec.initialTrials first, then the algorithm's
    suggestions from a history of the warm-start seeds (seeded in memory, with their lines)."""
    import shlex

    from tunery.history import History
    from tunery.launch import build_launch, seed_for, trial_name_for
    from tunery.model import Trial
    from tunery.suggest import create_suggester
    from tunery.warmstart import initial_assignments, seed_ledger

    trials: list[Any] = []
    if seeds:
        from tunery.client import Client
        from tunery.ledger import TrialLedger
        from tunery.storage.memory import InMemoryStore

        memory = InMemoryStore()
        key = Client(store=memory).create_experiment(spec, trial_dirs=False).key
        ledger = TrialLedger(memory, key)
        ledger.acquire(0.0)
        ledger.load(spec.objective)
        for source, items in seeds:
            click.echo(seed_ledger(ledger, spec, items, 0.0, source=source).line(), err=True)
        trials = ledger.trials
    suggester = create_suggester(spec, seed_for(spec.name))
    if spec.algorithm.algorithm_name == "auto":
        from tunery.suggest.auto import explain

        click.echo(explain(spec))
    if any(p.active_when for p in spec.parameters):
        from tunery.conditions import tree_lines

        for line in tree_lines(spec.parameters):
            click.echo(line)
    count = spec.parallel_trial_count
    if spec.max_trial_count is not None:
        count = min(count, spec.max_trial_count)
    history = History.from_spec(spec, trials)
    assignments = initial_assignments(spec, history.space, [])[:count]
    first = len(trials) + 1
    pending = [
        Trial(trial_name_for(spec.name, first + i), spec.name, first + i, dict(a.parameters))
        for i, a in enumerate(assignments)
    ]
    if len(assignments) < count:
        history = History.from_spec(spec, trials + pending)
        assignments += suggester.suggest(history, count - len(assignments))
    for i, assignment in enumerate(assignments, start=first):
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


@main.command(
    short_help="Resume an experiment (crash, Ctrl-C), or extend it.",
    epilog="""\b
Examples:
  tunery resume mnist
  tunery resume mnist --max-trials 100      # go on past its maxTrialCount
  tunery resume mnist --gpus 0,1 -q""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@click.option(
    "--max-trials",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="New maxTrialCount: extends a completed experiment.",
)
@click.option(
    "--gpus",
    envvar="TUNERY_GPUS",
    default=None,
    metavar="IDS",
    help="GPU ids for trials that ask for nvidia.com/gpu, e.g. 0,1.",
)
@_executor_option
@mlflow_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the final summary.")
@_json_option
def resume(
    name: str,
    namespace: str | None,
    db: str | None,
    max_trials: int | None,
    gpus: str | None,
    executor_url: str,
    mlflow_uri: str | None,
    quiet: bool,
    as_json: bool,
) -> int:
    """Resume experiment NAME after a crash, Ctrl-C or reboot, or extend it.

    A completed experiment is extended by --max-trials (above the trials it has
    completed) whatever its resumePolicy: the same search goes on, with its algorithm
    state, History and trial numbering.  Where it cannot go on (goal reached, search
    space exhausted, too many failures: see `tunery edit`), nothing changes and a
    one-line error says why.
    """
    from tunery.client import Client

    client = Client(store=_open_store(db))
    return _resume(
        client,
        name,
        None,
        max_trials,
        gpus,
        quiet,
        as_json,
        executor_url,
        announce=False,
        namespace=namespace,
        mlflow_uri=mlflow_uri,
    )
