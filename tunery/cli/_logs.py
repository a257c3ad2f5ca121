"""``tunery logs``: a trial's output, or the running trials' output, followed with ``-f``."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from tunery.cli._common import _db_option, _fail, _named_in_namespace, _open_store, _resolve, main
from tunery.logs import OUTPUT_LOG, POLL_S, LineReader, log_path, tail_offset

__all__ = ["OUTPUT_LOG", "POLL_S", "RUNNING_TAIL", "log_path", "tail_offset"]

#: Lines of each running trial shown without TRIAL, unless --tail says otherwise.
RUNNING_TAIL = 10


class _Follower:
    """One trial's log read from ``offset`` on, printed line by line with ``prefix``."""

    def __init__(self, name: str, path: str | None, offset: int, prefix: str) -> None:
        self.name, self.prefix = name, prefix
        self._reader = LineReader(path, offset)

    @property
    def path(self) -> str | None:
        return self._reader.path

    @path.setter
    def path(self, value: str | None) -> None:
        self._reader.path = value

    def read(self, final: bool = False) -> None:
        """Print the complete lines written since the last read (``final``: the last line
        even without its newline)."""
        lines = self._reader.lines(final)
        for text in lines:
            click.echo(f"{self.prefix}{text}")
        if lines:
            sys.stdout.flush()


def _follow_one(store: Any, experiment: Any, trial: Any, tail: int | None, follow: bool) -> None:
    path = log_path(experiment, trial)
    if path is None or (not follow and not os.path.isfile(path)):
        click.echo(f"trial {trial.name} has no output log yet", err=True)
        return
    reader = _Follower(trial.name, path, tail_offset(path, tail), "")
    if not follow:
        reader.read(final=True)
        return
    while True:
        # The status first: whatever the trial wrote before it ended is in the file by now.
        current = store.get_trial(experiment.key, trial.name)
        ended = not current.status.is_active
        if reader.path is None or not os.path.isfile(reader.path):
            reader.path = log_path(experiment, current)
        reader.read(final=ended)
        if ended:
            return
        time.sleep(POLL_S)


def _running(store: Any, experiment: str) -> list[Any]:
    from tunery.model import TrialCondition

    return list(store.list_trials(experiment, [TrialCondition.RUNNING]))


def _follow_running(store: Any, experiment: Any, tail: int | None, follow: bool) -> None:
    running = _running(store, experiment.key)
    if not running and not follow:
        click.echo(f"experiment {experiment.name} has no running trial", err=True)
        return
    width = max((len(t.name) for t in running), default=0)
    readers: dict[str, _Follower] = {}

    def add(trials: Sequence[Any], lines: int | None) -> None:
        nonlocal width
        width = max([width] + [len(t.name) for t in trials])
        for t in trials:
            path = log_path(experiment, t)
            offset = tail_offset(path, lines) if path and os.path.isfile(path) else 0
            readers[t.name] = _Follower(t.name, path, offset, "")

    add(running, RUNNING_TAIL if tail is None else tail)
    for reader in readers.values():
        reader.prefix = f"{reader.name.ljust(width)} | "
        reader.read(final=not follow)
    while follow:
        # The store first, then the files: a trial seen ended is read to its end.
        current = {t.name: t for t in _running(store, experiment.key)}
        done = store.get_experiment(experiment.key).status.is_completed
        add([t for name, t in current.items() if name not in readers], None)
        for name in list(readers):
            reader = readers[name]
            reader.prefix = f"{name.ljust(width)} | "
            if reader.path is None and name in current:
                reader.path = log_path(experiment, current[name])
            ended = name not in current
            reader.read(final=ended)
            if ended:
                del readers[name]
        if done and not readers:
            return
        time.sleep(POLL_S)


@main.command(
    short_help="Print a trial's output, or the running trials' (-f: follow it).",
    epilog="""\b
Examples:
  tunery logs mnist mnist-0003          # the whole output of one trial
  tunery logs mnist mnist-0003 -f       # ... and follow it until the trial ends
  tunery logs mnist --tail 20           # the last 20 lines of each running trial
  tunery logs mnist -f                  # the running trials' output, interleaved""",
)
@click.argument("name")
@click.argument("trial", required=False)
@_named_in_namespace
@_db_option
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing the output as it is written: until the trial ends (with TRIAL), or "
    "until the experiment has completed and no trial runs (without). Ctrl-C stops.",
)
@click.option(
    "--tail",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help=f"Start with the last N lines (default: all of TRIAL's; {RUNNING_TAIL} of each running "
    "trial without TRIAL).",
)
def logs(
    name: str,
    trial: str | None,
    namespace: str | None,
    db: str | None,
    follow: bool,
    tail: int | None,
) -> None:
    """Print a trial's output log (what its command wrote to stdout and stderr).

    Without TRIAL: the output of the experiment's running trials, each line prefixed with
    its trial's name; with -f, lines are printed as they come, from every trial that runs,
    interleaved.
    """
    try:
        store = _open_store(db)
        experiment = _resolve(store, name, namespace)
        if not experiment.runs_dir and trial is None:
            _fail(
                f"experiment {name} runs no commands (an ask/tell experiment): it has no logs",
                "`tunery trials NAME` lists its trials",
            )
        if trial is not None:
            _follow_one(store, experiment, store.get_trial(experiment.key, trial), tail, follow)
        else:
            _follow_running(store, experiment, tail, follow)
    except KeyboardInterrupt:
        sys.stdout.flush()
        sys.exit(130)
