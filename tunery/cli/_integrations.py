"""``tunery mlflow sync`` and ``tunery import optuna``; the ``--mlflow`` option of run/resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from tunery.cli._common import (
    _console,
    _db_option,
    _fail,
    _named_in_namespace,
    _open_store,
    _resolve,
    main,
)

F = TypeVar("F", bound=Callable[..., Any])


def mlflow_option(f: F) -> F:
    return click.option(
        "--mlflow",
        "mlflow_uri",
        envvar="TUNERY_MLFLOW_TRACKING_URI",
        default=None,
        metavar="URI",
        help="Mirror the experiment into MLflow at this tracking URI while it runs "
        "(file:./mlruns, sqlite:///mlflow.db, http://host:5000): a parent run, a nested run "
        "per trial. Needs tunery[mlflow].",
    )(f)


def mlflow_module() -> Any:
    """``tunery.integration.mlflow``, or a one-line error naming the extra."""
    try:
        from tunery.integration import mlflow
    except ImportError:
        _fail(
            "--mlflow needs the Python package 'mlflow', which is not installed",
            "install it with: pip install 'tunery[mlflow]'",
        )
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no "Creating tables" lines
    return mlflow


def check_mlflow_uri(uri: str | None) -> None:
    """Exit 2 with one line now, before anything is stored, when ``uri`` is unusable."""
    if uri:
        mlflow_module().tracking_client(uri)


def open_mlflow_sink(store: Any, key: str, uri: str | None) -> Any:
    """The opened sink of ``--mlflow URI`` (None without the option); exits 2 on a bad URI."""
    if not uri:
        return None
    return mlflow_module().MlflowSink(store, key, uri).open()


@main.group(
    "mlflow",
    short_help="MLflow: mirror a stored experiment into a tracking store (sync).",
    epilog="""\b
Examples:
  tunery mlflow sync mnist --uri sqlite:///mlflow.db""",
)
def mlflow_group() -> None:
    """MLflow: mirror experiments into an MLflow tracking store (see also run --mlflow)."""


@mlflow_group.command(
    "sync",
    short_help="Mirror a stored experiment into MLflow (runs, metrics, status).",
    epilog="""\b
Examples:
  tunery mlflow sync mnist --uri sqlite:///mlflow.db
  tunery mlflow sync mnist --uri file:./mlruns --mlflow-experiment tuning""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@click.option(
    "--uri",
    "uri",
    envvar="TUNERY_MLFLOW_TRACKING_URI",
    required=True,
    metavar="URI",
    help="MLflow tracking URI: file:./mlruns, sqlite:///mlflow.db, http://host:5000.",
)
@click.option(
    "--mlflow-experiment",
    default=None,
    metavar="NAME",
    help="The MLflow experiment holding the runs (default: the experiment's name).",
)
def mlflow_sync(
    name: str, namespace: str | None, db: str | None, uri: str, mlflow_experiment: str | None
) -> None:
    """Mirror experiment NAME into MLflow: one parent run, a nested run per trial with its
    parameters and every stored metric point with its step.  Idempotent: run it again (or
    after `tunery run --mlflow`) and only what is missing is logged.

    MLflow 3 refuses its file store (file:...) unless MLFLOW_ALLOW_FILE_STORE=true."""
    module = mlflow_module()
    store = _open_store(db)
    exp = _resolve(store, name, namespace)
    sink = module.sync_experiment(store, exp.key, uri, experiment_name=mlflow_experiment)
    _console().print(
        f"experiment {exp.name} mirrored to MLflow {uri} (MLflow experiment "
        f"{sink.experiment_id}, parent run {sink.parent_id}, {len(sink.runs)} trial runs, "
        f"{sink.logged} new values)",
        markup=False,
        highlight=False,
    )


def optuna_module() -> Any:
    """``tunery.integration.optuna``, or a one-line error naming the extra."""
    try:
        import optuna as library

        from tunery.integration import optuna
    except ImportError:
        _fail(
            "this needs the Python package 'optuna', which is not installed",
            "install it with: pip install 'tunery[optuna]'",
        )
    library.logging.set_verbosity(library.logging.WARNING)  # no "study created" lines
    return optuna


def export_optuna_journal(store: Any, exp: Any, file: str | None, form: str | None) -> None:
    """``tunery export NAME -o optuna-journal FILE``."""
    if file is None:
        _fail("-o optuna-journal writes an Optuna journal file", "give it: FILE after NAME")
    if form is not None:
        _fail("--format applies to -o yaml or -o json, not to optuna-journal")
    from tunery.client import Client

    module = optuna_module()
    study = module.to_study(exp, module.journal_storage(file), client=Client(store=store))
    n = len(study.get_trials(deepcopy=False))
    _console().print(
        f"experiment {exp.name}: Optuna study {study.study_name!r} with {n} trials in {file} "
        f"(open it with: optuna-dashboard {file})",
        markup=False,
        highlight=False,
    )


@main.group(
    "import",
    short_help="Import an experiment from another tool (optuna).",
    epilog="""\b
Examples:
  tunery import optuna sqlite:///optuna.db --study my-study
  tunery import optuna optuna.log --as warm-source""",
)
def import_() -> None:
    """Import an experiment from another tool, as a finished tunery experiment."""


@import_.command(
    "optuna",
    short_help="Import an Optuna study (RDB or journal) as a finished experiment.",
    epilog="""\b
Examples:
  tunery import optuna sqlite:///optuna.db --study my-study
  tunery import optuna optuna.log --study my-study --as warm-source
  tunery import optuna postgresql://user@host/optuna --study s1 -n team-a""",
)
@click.argument("source", metavar="STORAGE_URL_OR_JOURNAL")
@click.option(
    "--study",
    "study_name",
    default=None,
    metavar="NAME",
    help="The study to import (default: the storage's only study).",
)
@click.option(
    "--as",
    "as_name",
    default=None,
    metavar="NAME",
    help="The experiment's name (default: the study's name as a DNS label).",
)
@click.option(
    "-n",
    "--namespace",
    default=None,
    metavar="NAMESPACE",
    help="The experiment's namespace (default: default).",
)
@_db_option
def import_optuna(
    source: str,
    study_name: str | None,
    as_name: str | None,
    namespace: str | None,
    db: str | None,
) -> None:
    """Import the Optuna study in STORAGE_URL_OR_JOURNAL (sqlite:///optuna.db,
    postgresql://..., or an Optuna journal file) as a finished tunery experiment: a native
    spec from its distributions and directions, each finished trial with its values and
    intermediate values."""
    from tunery.client import Client

    module = optuna_module()
    study = module.load_study(source, study_name)
    client = Client(store=_open_store(db))
    exp = module.import_study(study, client=client, name=as_name, namespace=namespace)
    n = len(client.store.list_trials(exp.key))
    _console().print(
        f"imported Optuna study {study.study_name!r} as experiment {exp.name} ({n} trials); "
        f"see `tunery trials {exp.command_ref}`",
        markup=False,
        highlight=False,
    )
