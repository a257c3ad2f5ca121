"""Progress of a running experiment: the live display of ``tunery run``/``resume`` and its
one-line-per-event form for logs.

Three layers, so that most of it is tested without a terminal:

* :class:`Snapshot`, read from the store by :func:`read_snapshot` (SQL stores: one bounded
  read, :func:`tunery.storage.views.progress`): counts by status, the finished trials'
  durations, the active trials with their latest objective-metric value and step, the best
  trial so far;
* pure functions of a snapshot: :func:`eta`, :func:`status_lines`, :func:`event_line`;
* drivers: :class:`LiveDisplay` (a ``rich`` Live that redraws about four times a second and
  reads the store at most every ``min_interval`` seconds) and :class:`EventLog` (the
  controller's ``on_event``: a line per trial started, trial finished, new best, experiment
  ended).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunery.model import (
    Experiment,
    ExperimentSpec,
    Trial,
    TrialCondition,
    TrialReason,
    best_trial,
)

if TYPE_CHECKING:
    from tunery.controller import Controller, TrialEvent
    from tunery.storage.base import BaseStore

__all__ = [
    "EventLog",
    "LiveDisplay",
    "RunningTrial",
    "Snapshot",
    "SnapshotReader",
    "drive_live",
    "eta",
    "event_line",
    "format_duration",
    "format_value",
    "read_snapshot",
    "status_lines",
]

#: How many active trials the live display lists (the rest are counted).
SHOWN_RUNNING = 8


@dataclass(frozen=True)
class RunningTrial:
    """An active trial as the display shows it."""

    name: str
    status: str
    parameters: Mapping[str, Any]
    start_time: float | None
    #: The latest reported value of the objective metric, and its step (None: none yet).
    value: float | None = None
    step: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands: everything :func:`status_lines` shows."""

    name: str
    metric: str
    minimize: bool
    max_trials: int | None
    parallel: int
    #: Trials by status value (missing keys: 0), Ctrl-C's Killed trials included.
    counts: Mapping[str, int] = field(default_factory=dict)
    #: Trials Killed by Ctrl-C: not results (they run again), not counted as completed.
    interrupted: int = 0
    #: Seeded results (warm starts): Succeeded, never run, not counted as completed.
    seeded: int = 0
    #: Completed trials with both times, and the sum of their durations (seconds).
    timed: int = 0
    busy_seconds: float = 0.0
    running: Sequence[RunningTrial] = ()
    best_name: str | None = None
    best_value: float | None = None
    best_parameters: Mapping[str, Any] = field(default_factory=dict)
    #: The time budget (``maxExperimentDuration`` seconds; None: none), its policy, the
    #: seconds driven as stored, and when (``time.time()``) they were read.
    max_seconds: float | None = None
    duration_policy: str | None = None
    driven_seconds: float = 0.0
    driven_at: float | None = None

    def _count(self, *statuses: TrialCondition) -> int:
        return sum(self.counts.get(s.value, 0) for s in statuses)

    @property
    def succeeded(self) -> int:
        """Succeeded trials that ran (seeded results are :attr:`seeded`)."""
        return self._count(TrialCondition.SUCCEEDED) - self.seeded

    @property
    def early_stopped(self) -> int:
        return self._count(TrialCondition.EARLY_STOPPED)

    @property
    def failed(self) -> int:
        """Failed and MetricsUnavailable (what counts against ``maxFailedTrialCount``)."""
        return self._count(TrialCondition.FAILED, TrialCondition.METRICS_UNAVAILABLE)

    @property
    def killed(self) -> int:
        """Killed trials, those of Ctrl-C excepted."""
        return max(0, self._count(TrialCondition.KILLED) - self.interrupted)

    @property
    def active(self) -> int:
        return self._count(TrialCondition.CREATED, TrialCondition.RUNNING)

    @property
    def completed(self) -> int:
        """Trials that ended with a result, whatever it is (early-stopped ones included, as
        ``tunery list`` counts them; Ctrl-C's excluded): the progress bar's count."""
        return self.succeeded + self.early_stopped + self.failed + self.killed

    def time_left(self, now: float) -> float | None:
        """Seconds left of the time budget at ``now`` (counting on from the stored driven
        time: the display runs while the experiment is driven); None without a budget."""
        if self.max_seconds is None:
            return None
        driven = self.driven_seconds
        if self.driven_at is not None:
            driven += max(0.0, now - self.driven_at)
        return max(0.0, self.max_seconds - driven)

    @property
    def mean_duration(self) -> float | None:
        """The finished trials' mean duration in seconds; None before one finished."""
        return self.busy_seconds / self.timed if self.timed else None


def eta(snapshot: Snapshot, now: float) -> float | None:
    """Seconds until ``maxTrialCount`` trials have completed, from the finished trials' mean
    duration and ``parallelTrialCount``; None when unknown (no trial finished yet, or no
    ``maxTrialCount``).

    The work left is a mean duration per trial not started yet, and what remains of the mean
    for each active trial; ``min(parallel, remaining)`` slots share it.  A goal reached or
    early stopping may end the experiment sooner.
    """
    mean = snapshot.mean_duration
    if snapshot.max_trials is None or mean is None:
        return None
    remaining = max(0, snapshot.max_trials - snapshot.completed)
    if remaining == 0:
        return 0.0
    lefts = [
        max(0.0, mean - max(0.0, now - r.start_time)) if r.start_time is not None else mean
        for r in snapshot.running[:remaining]
    ]
    waiting = max(0, remaining - len(lefts))
    slots = max(1, min(snapshot.parallel, remaining))
    work = sum(lefts) + waiting * mean
    return max(work / slots, max(lefts, default=0.0))


def format_duration(seconds: float | None) -> str:
    """``H:MM:SS`` (``Nd H:MM:SS`` past a day); ``unknown`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text


def format_value(value: Any) -> str:
    """A metric or parameter value, short: floats to 6 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _params(parameters: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_elided(format_value(v))}" for k, v in parameters.items())


def _elided(text: str, width: int = 40) -> str:
    """A long string (an ENAS architecture, a genotype) cut to ``width`` with ``…``."""
    return text if len(text) <= width else text[: width - 1] + "…"


def count_line(snapshot: Snapshot) -> str:
    """Counts by status: ``3 succeeded, 1 early-stopped, 1 failed, 0 killed, 2 running``."""
    parts = [
        f"{snapshot.succeeded} succeeded",
        f"{snapshot.early_stopped} early-stopped",
        f"{snapshot.failed} failed",
        f"{snapshot.killed} killed",
        f"{snapshot.active} running",
    ]
    if snapshot.interrupted:
        parts.append(f"{snapshot.interrupted} interrupted (run again)")
    if snapshot.seeded:
        parts.append(f"{snapshot.seeded} seeded (warm start)")
    return ", ".join(parts)


def best_line(snapshot: Snapshot) -> str:
    if snapshot.best_name is None:
        return "best: none yet"
    params = _params(snapshot.best_parameters)
    head = f"best {snapshot.metric}={format_value(snapshot.best_value)} ({snapshot.best_name})"
    return f"{head}  {params}" if params else head


def progress_line(snapshot: Snapshot, *, elapsed: float, now: float) -> str:
    """``5/12 trials completed  elapsed 0:00:12  ETA 0:00:18`` (``∞`` without a budget),
    then, with a time budget, ``time left 0:01:48 of 0:02:00 (KillRunning)``."""
    total = snapshot.max_trials if snapshot.max_trials is not None else "∞"
    line = (
        f"{snapshot.completed}/{total} trials completed  "
        f"elapsed {format_duration(elapsed)}  ETA {format_duration(eta(snapshot, now))}"
    )
    left = snapshot.time_left(now)
    if left is not None:
        policy = snapshot.duration_policy or "KillRunning"
        line += (
            f"  time left {format_duration(left)} of "
            f"{format_duration(snapshot.max_seconds)} ({policy})"
        )
    return line


def running_lines(snapshot: Snapshot, *, now: float, limit: int = SHOWN_RUNNING) -> list[str]:
    """One line per active trial (at most ``limit``, then how many more)."""
    lines = []
    for r in snapshot.running[:limit]:
        took = format_duration(now - r.start_time) if r.start_time is not None else "waiting"
        if r.value is not None or r.step is not None:
            report = f"{snapshot.metric}={format_value(r.value)} step {format_value(r.step)}"
        else:
            report = "no report yet"
        lines.append(f"  {r.name}  {took}  {report}  {_params(r.parameters)}".rstrip())
    if len(snapshot.running) > limit:
        lines.append(f"  ... and {len(snapshot.running) - limit} more")
    return lines


def status_lines(snapshot: Snapshot, *, elapsed: float, now: float) -> list[str]:
    """The live display as plain text lines: progress, counts, best, the active trials."""
    lines = [
        progress_line(snapshot, elapsed=elapsed, now=now),
        count_line(snapshot),
        best_line(snapshot),
    ]
    if snapshot.running:
        lines.append("running:")
        lines.extend(running_lines(snapshot, now=now))
    return lines


# ------------------------------------------------------------------ reading


class _Tally:
    """The finished trials summed up: counts, Ctrl-C's, durations, the best."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.objective = spec.objective
        self.counts = {c.value: 0 for c in TrialCondition}
        self.interrupted = self.timed = self.seeded = 0
        self.busy = 0.0
        self.best: tuple[str, float, Mapping[str, Any], int] | None = None

    def add(
        self,
        name: str,
        index: int,
        status: str,
        reason: str | None,
        parameters: Mapping[str, Any],
        objective: float | None,
        start: float | None,
        completion: float | None,
    ) -> None:
        """Count one finished trial (each only once)."""
        self.counts[status] = self.counts.get(status, 0) + 1
        if status == TrialCondition.KILLED.value and reason == TrialReason.INTERRUPTED:
            self.interrupted += 1
            return
        if reason == TrialReason.WARM_STARTED and status == TrialCondition.SUCCEEDED.value:
            self.seeded += 1
        if start is not None and completion is not None:
            self.timed += 1
            self.busy += completion - start
        if status not in (TrialCondition.SUCCEEDED.value, TrialCondition.EARLY_STOPPED.value):
            return
        if objective is None or not math.isfinite(objective):
            return
        best = self.best
        # Katib's currentOptimalTrial: the best; of equal ones, the earliest.
        if (
            best is None
            or self.objective.better(objective, best[1])
            or (objective == best[1] and index < best[3])
        ):
            self.best = (name, objective, parameters, index)

    def snapshot(
        self, spec: ExperimentSpec, name: str, running: Sequence[RunningTrial]
    ) -> Snapshot:
        counts = dict(self.counts)
        for r in running:
            counts[r.status] = counts.get(r.status, 0) + 1
        best = self.best
        return Snapshot(
            name=name,
            metric=spec.objective.objective_metric_name,
            minimize=spec.objective.type.value == "minimize",
            max_trials=spec.max_trial_count,
            parallel=spec.parallel_trial_count,
            counts=counts,
            interrupted=self.interrupted,
            seeded=self.seeded,
            timed=self.timed,
            busy_seconds=self.busy,
            running=tuple(running),
            best_name=best[0] if best else None,
            best_value=best[1] if best else None,
            best_parameters=dict(best[2]) if best else {},
        )


class SnapshotReader:
    """Reads the snapshots of one experiment as it runs, each read costing what changed.

    On a SQL store a read (:func:`tunery.storage.views.progress`) returns the active trials,
    the trials that were active at the previous read and the new ones; the finished ones are
    summed up once and remembered.  Any other store (the in-memory one) is read whole.

    The budget (``maxTrialCount``, ``parallelTrialCount``, the time budget) is the stored
    one: ``tunery edit`` may change it while the experiment runs.  The same read returns the
    stored spec's text; it is parsed again (and :attr:`experiment` replaced) only when the
    text changed.
    """

    def __init__(self, store: BaseStore, experiment: Experiment) -> None:
        self.store = store
        #: The experiment, with its spec as last read (an edited budget replaces it).
        self.experiment = experiment
        self._tally = _Tally(experiment.spec)
        self._max_index = -1
        self._active: list[str] = []
        self._spec_text: str | None = None
        #: The driven seconds the last SQL read returned (None: read them apart).
        self._driven: float | None = None

    def _take_spec(self, text: str | None) -> None:
        """Replace :attr:`experiment`'s spec with the stored one when its text changed."""
        if text is None or text == self._spec_text:
            return
        import json
        from dataclasses import replace

        from tunery.storage.codec import spec_from_json

        self._spec_text = text
        spec = spec_from_json(json.loads(text))
        if spec != self.experiment.spec:
            self.experiment = replace(self.experiment, spec=spec)

    def read(self) -> Snapshot:
        snapshot = self._read()
        spec = self.experiment.spec
        if spec.max_experiment_duration is None:
            return snapshot
        from dataclasses import replace

        from tunery.deadline import driven_seconds, policy_of

        driven = self._driven
        return replace(
            snapshot,
            max_seconds=spec.max_experiment_duration,
            duration_policy=policy_of(spec).value,
            driven_seconds=driven_seconds(self.store, self.experiment.key)
            if driven is None
            else driven,
            driven_at=time.time(),
        )

    def _read(self) -> Snapshot:
        from tunery.storage.store import SqlStore

        spec = self.experiment.spec
        name, key = self.experiment.name, self.experiment.key
        if not isinstance(self.store, SqlStore):
            stored = self.store.find_experiment(key)
            if stored is not None and stored.spec is not spec and stored.spec != spec:
                from dataclasses import replace

                self.experiment = replace(self.experiment, spec=stored.spec)
            trials = self.store.list_trials(key)
            return snapshot_of_trials(
                self.experiment.spec, name, trials, _latest_of(self.store, self.experiment)
            )
        from tunery.storage import views

        got = views.progress(
            self.store,
            key,
            spec.objective.objective_metric_name,
            after_index=self._max_index,
            watch=self._active,
        )
        self._take_spec(got.spec_text)
        self._driven = got.driven_seconds
        spec = self.experiment.spec
        running = []
        for row in got.rows:
            self._max_index = max(self._max_index, row.trial_index)
            if TrialCondition(row.status).is_active:
                value, step = got.latest.get(row.name, (None, None))
                running.append(
                    RunningTrial(row.name, row.status, row.parameters, row.start_time, value, step)
                )
            else:
                self._tally.add(*row)
        self._active = [r.name for r in running]
        return self._tally.snapshot(spec, name, running)


def read_snapshot(store: BaseStore, experiment: Experiment) -> Snapshot:
    """The snapshot of ``experiment`` as stored now (one :class:`SnapshotReader` read)."""
    return SnapshotReader(store, experiment).read()


def _latest_of(store: BaseStore, experiment: Experiment) -> Callable[[Trial], Any]:
    metric = experiment.spec.objective.objective_metric_name

    def latest(trial: Trial) -> tuple[float | None, int | None]:
        seen = store.get_observations(experiment.key, trial.name, metric)
        return (seen[-1].value, seen[-1].step) if seen else (None, None)

    return latest


def snapshot_of_trials(
    spec: ExperimentSpec,
    name: str,
    trials: Iterable[Trial],
    latest: Callable[[Trial], tuple[float | None, int | None]] | None = None,
) -> Snapshot:
    """The snapshot of a list of trials (``latest``: a trial's last (value, step) of the
    objective metric)."""
    tally = _Tally(spec)
    running = []
    for t in sorted(trials, key=lambda t: t.index):
        if t.status.is_active:
            value, step = latest(t) if latest is not None else (None, None)
            running.append(
                RunningTrial(t.name, t.status.value, t.parameters, t.start_time, value, step)
            )
        else:
            tally.add(
                t.name,
                t.index,
                t.status.value,
                t.reason,
                t.parameters,
                t.objective,
                t.start_time,
                t.completion_time,
            )
    return tally.snapshot(spec, name, running)


# ------------------------------------------------------------------ the live display


class LiveDisplay:
    """The ``rich`` live display of a run, used as a context manager around the loop.

    :meth:`update` (called by the loop after each controller tick) reads the store at most
    every ``min_interval`` seconds; the display redraws about four times a second from the
    last snapshot (elapsed time and ETA move between reads).  Leaving the context (normal
    end, Ctrl-C) stops the display and clears it.
    """

    def __init__(
        self,
        console: Any,
        store: BaseStore,
        experiment: Experiment,
        *,
        min_interval: float = 0.25,
        started: float | None = None,
    ) -> None:
        self.console = console
        self.store = store
        self.experiment = experiment
        self.min_interval = min_interval
        self.started = time.monotonic() if started is None else started
        self.snapshot: Snapshot | None = None
        self._reader = SnapshotReader(store, experiment)
        self._read_at = -math.inf
        self._live: Any = None

    def update(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._read_at >= self.min_interval:
            self.snapshot = self._reader.read()
            self._read_at = now

    def __rich__(self) -> Any:
        return render(self.snapshot, elapsed=time.monotonic() - self.started, now=time.time())

    def __enter__(self) -> LiveDisplay:
        from rich.live import Live

        self.update(force=True)
        self._live = Live(
            self, console=self.console, refresh_per_second=4, transient=True, auto_refresh=True
        )
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None


def drive_live(controller: Controller, console: Any, events: EventLog) -> None:
    """Tick ``controller`` until its experiment completes, under a :class:`LiveDisplay`.

    ``events``: the controller's ``on_event``; a tick with events (a trial started or ended)
    reads the store again at once, so the display never lags behind the lines printed above.
    Ctrl-C (KeyboardInterrupt) stops the display and goes on up.
    """
    with LiveDisplay(console, controller.store, controller.experiment) as display:
        seen = events.count
        while not controller.tick():
            display.update(force=events.count != seen)
            seen = events.count
            controller._idle()


def render(snapshot: Snapshot | None, *, elapsed: float, now: float) -> Any:
    """The rich renderable of :func:`status_lines`, with a progress bar on the first line."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    if snapshot is None:
        return Text("starting...")
    lines = status_lines(snapshot, elapsed=elapsed, now=now)
    top = Table.grid(padding=(0, 1))
    top.add_column(width=30)
    top.add_column(no_wrap=True)
    total = snapshot.max_trials
    top.add_row(
        ProgressBar(total=float(total) if total else None, completed=snapshot.completed),
        Text(lines[0], style="bold"),
    )
    styles = {1: "", 2: "green"}
    rest = [
        Text(
            line,
            style=styles.get(i, "dim" if line.startswith("  ") else ""),
            no_wrap=True,
            overflow="ellipsis",
        )
        for i, line in enumerate(lines)
        if i > 0
    ]
    return Group(top, *rest)


# ------------------------------------------------------------------ one line per event


def event_line(kind: str, trial: Trial | None, spec: ExperimentSpec, **extra: Any) -> str:
    """The plain line of an event: ``started``, ``finished``, ``best`` (``trial`` set) or
    ``ended`` (``extra``: ``experiment`` and ``elapsed``).

    A finished trial's line is ``<status, right-aligned in 18> <name>  <params>  <metric>=<v>``
    and, when it did not succeed, ``(<reason>: <message>)``.
    """
    metric = spec.objective.objective_metric_name
    if kind == "ended":
        exp: Experiment = extra["experiment"]
        return (
            f"{'Ended':>18} experiment {exp.name}: {exp.shown_status} ({exp.reason}) "
            f"after {format_duration(extra.get('elapsed'))}"
        )
    assert trial is not None
    params = _params(trial.parameters)
    if kind == "started":
        return f"{'Started':>18} {trial.name}  {params}".rstrip()
    if kind == "best":
        return f"{'New best':>18} {trial.name}  {metric}={format_value(trial.objective)}  {params}"
    status = trial.status.value
    line = f"{status:>18} {trial.name}  {params}"
    if trial.objective is not None:
        line += f"  {metric}={format_value(trial.objective)}"
    elif trial.objective_text is not None:  # a string objective (Katib's Best-Genotype)
        line += f"  {metric}={_elided(' '.join(trial.objective_text.split()))}"
    if status != "Succeeded":
        line += f"  ({trial.reason}: {trial.message})"
    return line


class EventLog:
    """The controller's ``on_event`` for ``tunery run``: prints a line per event.

    ``every_event`` (stdout not a terminal): trial started, trial finished, new best,
    experiment ended; otherwise (beside the live display, which shows what runs) only the
    finished trials and new bests.  ``seed`` the best so far before the first tick, so that a
    resumed run does not call a worse trial the best.
    """

    def __init__(self, console: Any, spec: ExperimentSpec, *, every_event: bool) -> None:
        self.console = console
        self.spec = spec
        self.every_event = every_event
        self.best: float | None = None
        self.started = time.monotonic()
        #: How many events came: a live display reads the store again when it changed.
        self.count = 0

    def seed(self, trials: Sequence[Trial]) -> None:
        best = best_trial(self.spec.objective, list(trials))
        self.best = best.objective if best is not None else None

    def _print(self, line: str, style: str = "") -> None:
        self.console.print(line, style=style or None, markup=False, highlight=False)

    def __call__(self, event: TrialEvent) -> None:
        from tunery.controller import TrialEventKind

        self.count += 1
        trial = event.trial
        if event.kind is TrialEventKind.STARTED and trial is not None:
            if self.every_event:
                self._print(event_line("started", trial, self.spec), "dim")
        elif event.kind is TrialEventKind.FINISHED and trial is not None:
            status = trial.status.value
            colour = {"Succeeded": "green", "EarlyStopped": "green", "Killed": "yellow"}.get(
                status, "red"
            )
            self._print(event_line("finished", trial, self.spec), colour)
            if self._is_new_best(trial):
                self._print(event_line("best", trial, self.spec), "bold green")
        elif (
            event.kind is TrialEventKind.EXPERIMENT_FINISHED
            and event.experiment is not None
            and self.every_event
        ):
            elapsed = time.monotonic() - self.started
            line = event_line(
                "ended", None, self.spec, experiment=event.experiment, elapsed=elapsed
            )
            self._print(line)

    def _is_new_best(self, trial: Trial) -> bool:
        if trial.status not in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED):
            return False
        value = trial.objective
        if value is None or not math.isfinite(value):
            return False
        if self.best is None or self.spec.objective.better(value, self.best):
            self.best = value
            return True
        return False
