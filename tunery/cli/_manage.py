"""Commands that act: ``stop``, ``edit``, ``delete``, ``ui``, ``db upgrade|current``."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import click

from tunery.cli._common import (
    _db_option,
    _experiment_json,
    _fail,
    _json_option,
    _named_in_namespace,
    _open_store,
    _print_json,
    _resolve,
    main,
)
from tunery.errors import LeaseHeldError

log = logging.getLogger("tunery")


# --------------------------------------------------------------------------- intents


@main.command(
    short_help="Stop an experiment: kill its running trials; it ends Succeeded.",
    epilog="""\b
Examples:
  tunery stop mnist""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
def stop(name: str, namespace: str | None, db: str | None) -> None:
    """Stop an experiment: its running trials are killed; it ends Succeeded (ExperimentStopped)."""
    from tunery.controller import Controller
    from tunery.execute import open_executor, reopen_url
    from tunery.model import IntentKind

    store = _open_store(db)
    exp = _resolve(store, name, namespace)
    name, key = exp.name, exp.key
    if exp.status.is_completed:
        click.echo(f"experiment {name} has already completed ({exp.reason})")
        return
    now = datetime.now(UTC).timestamp()
    store.add_intent(key, IntentKind.STOP_EXPERIMENT, None, now)
    # With no controller running, this process kills the trials itself: through the executor
    # their handles name (a Dask scheduler), or locally.
    urls = (reopen_url(t.handle) for t in store.list_trials(key) if t.status.is_active and t.handle)
    controller = Controller(
        store, key, open_executor(next((u for u in urls if u != "local"), None))
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


@main.command(
    short_help="Change an experiment's budget, live, or extend it.",
    epilog="""\b
Examples:
  tunery edit mnist --parallel 8             # a running experiment starts more trials
  tunery edit mnist --max-trials 30          # end it sooner, or go on for longer
  tunery edit mnist --max-failed 5 --json
  tunery edit mnist --max-trials 100       # a completed one: then `tunery resume mnist`
  tunery edit mnist --max-duration 3h      # a larger time budget (maxExperimentDuration)""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@click.option(
    "--max-trials",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="New maxTrialCount (not below the trials already used).",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="New parallelTrialCount (not above maxTrialCount).",
)
@click.option(
    "--max-failed",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="New maxFailedTrialCount (above the trials already failed).",
)
@click.option(
    "--max-duration",
    default=None,
    metavar="DURATION",
    help='New time budget, maxExperimentDuration: "3h", "90m", "1h30m" or seconds (the wall '
    "time the experiment is driven, summed over resumes).",
)
@click.option(
    "--duration-policy",
    type=click.Choice(["KillRunning", "LetFinish"], case_sensitive=False),
    default=None,
    help="At the time budget's end: kill the running trials (KillRunning) or let them finish.",
)
@_json_option
def edit(
    name: str,
    namespace: str | None,
    db: str | None,
    max_trials: int | None,
    parallel: int | None,
    max_failed: int | None,
    max_duration: str | None,
    duration_policy: str | None,
    as_json: bool,
) -> None:
    """Change experiment NAME's budget (Katib's edit_experiment_budget).

    A running controller applies the new budget at its next tick (more parallel trials
    start at once; a lower --max-trials ends it sooner); running trials are never killed
    for it.  A completed experiment is extended (Restarting; `tunery resume NAME` runs
    it) whatever its resumePolicy, unless it cannot go on (goal reached, search space
    exhausted, too many failures, pbt checkpoints deleted): then nothing changes and a
    one-line error says why.
    """
    from tunery.client import Client

    if (max_trials, parallel, max_failed, max_duration, duration_policy) == (None,) * 5:
        _fail(
            "nothing to edit",
            "give --max-trials N, --parallel N, --max-failed N or --max-duration DURATION",
        )
    client = Client(store=_open_store(db))
    before = client.get_experiment(name, namespace)
    exp = client.edit_experiment_budget(
        before.name,
        namespace=before.namespace,
        max_trial_count=max_trials,
        parallel_trial_count=parallel,
        max_failed_trial_count=max_failed,
        max_duration=max_duration,
        duration_policy=duration_policy,
    )
    if as_json:
        _print_json(_experiment_json(exp, client.store.list_trials(exp.key), client.store))
        return
    name, ref = exp.name, exp.command_ref
    spec = exp.spec
    budget = (
        f"maxTrialCount {spec.max_trial_count or 'unlimited'}, "
        f"parallelTrialCount {spec.parallel_trial_count}, "
        f"maxFailedTrialCount {_or_none(spec.max_failed_trial_count)}"
    )
    if spec.max_experiment_duration is not None:
        from tunery.deadline import policy_of
        from tunery.spec.katib import format_duration

        budget += (
            f", maxExperimentDuration {format_duration(spec.max_experiment_duration)} "
            f"({policy_of(spec).value})"
        )
    if before.status.is_completed or exp.status.value == "Restarting":
        click.echo(f"experiment {name} extended ({budget}): `tunery resume {ref}` runs it")
    elif _driven(client.store, exp.key):
        click.echo(f"experiment {name}: {budget}; its controller applies it at its next tick")
    else:
        click.echo(f"experiment {name}: {budget}; `tunery resume {ref}` runs it with it")


def _driven(store: Any, name: str) -> bool:
    """Whether a controller holds the experiment's lease now."""
    lease = store.lease_owner(name)
    return lease is not None and lease[1] > datetime.now(UTC).timestamp()


def _or_none(value: int | None) -> str:
    return "none" if value is None else str(value)


@main.command(
    short_help="Delete an experiment and its trials from the database.",
    epilog="""\b
Examples:
  tunery delete mnist
  tunery delete mnist -y           # no question asked""",
)
@click.argument("name")
@_named_in_namespace
@_db_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, namespace: str | None, db: str | None, yes: bool) -> None:
    """Delete an experiment and its trials from the database (trial directories stay)."""
    store = _open_store(db)
    exp = _resolve(store, name, namespace)
    name, key = exp.name, exp.key
    lease = store.lease_owner(key)
    now = datetime.now(UTC).timestamp()
    if lease is not None and lease[1] > now:
        from tunery.ledger import owner_is_dead

        if not owner_is_dead(lease[0]):
            _fail(
                f"experiment {name!r} is being run by a controller ({lease[0]})",
                f"stop it first with `tunery stop {name} -n {exp.namespace}`",
            )
    prompt = f"delete experiment {name} (namespace {exp.namespace})?"
    if not yes and sys.stdin.isatty() and not click.confirm(prompt):
        raise click.exceptions.Abort
    store.delete_experiment(key)
    where = f"; trial directories stay under {exp.runs_dir}" if exp.runs_dir else ""
    click.echo(f"deleted experiment {name}{where}")


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


@main.command(
    short_help="Serve the web UI: experiments, trials, live learning curves.",
    epilog="""\b
Examples:
  tunery ui
  tunery ui --port 8081 --db experiments.db
  tunery ui --host 0.0.0.0 --token $(openssl rand -hex 16)""",
)
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


@main.group(
    short_help="Database maintenance: schema upgrade and revision.",
    epilog="""\b
Examples:
  tunery db upgrade
  tunery db current --db postgresql://user@host/tunery""",
)
def db() -> None:
    """Database maintenance."""


@db.command(
    short_help="Bring the database schema to the newest version.",
    epilog="""\b
Examples:
  tunery db upgrade
  tunery db upgrade --db postgresql://user@host/tunery""",
)
@_db_option
def upgrade(db: str | None) -> None:
    """Bring the database schema to the newest version (Alembic migrations)."""
    from tunery.storage import Store

    store = Store(db, upgrade=False)
    revision = store.upgrade()
    click.echo(f"{store.url}: schema at revision {revision}")


@db.command(
    short_help="Print the database's schema revision.",
    epilog="""\b
Examples:
  tunery db current
  tunery db current --db postgresql://user@host/tunery""",
)
@_db_option
def current(db: str | None) -> None:
    """Print the database's schema revision."""
    from tunery.storage import Store

    store = Store(db, upgrade=False)
    click.echo(f"{store.url}: {store.current_revision() or 'empty (run `tunery db upgrade`)'}")


if __name__ == "__main__":  # pragma: no cover
    main()
