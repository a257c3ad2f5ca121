"""The reconcile loop: one controller drives one experiment to its end.

Each :meth:`Controller.tick`:

1. renews the experiment's lease (only the lease holder writes trial state);
2. obeys intents written by the CLI/UI (stop the experiment, kill a trial);
3. polls every active trial through the executor and collects its new metric lines (the
   collector cursor is saved in the same transaction as the observations);
4. finishes ended trials with Katib's semantics (Succeeded, Failed, MetricsUnavailable...);
5. decides whether the experiment is over (goal, max failed, max trials, suggestion end);
6. asks the suggester for ``min(free slots, remaining budget)`` assignments, creates those
   trials in the store *before* starting them (so a crash can never run more than
   ``maxTrialCount`` trials) and starts them.

Everything needed to resume lives in the store: restarting is resuming.  A trial left
``Created`` with no handle by a crash is started again (it never ran); a ``Running`` one is
re-attached through its stored handle, or marked Failed (``TrialLost``) when its process is
gone without an exit status.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from tunery import stopfile
from tunery.budget import BUDGET_FIELDS
from tunery.clock import Clock, SystemClock
from tunery.collect import make_collector
from tunery.collect.base import Collector
from tunery.completion import decide
from tunery.crashpoints import crashpoint
from tunery.curves import CurveBook, stopping_metrics
from tunery.deadline import DrivenTime, time_end
from tunery.errors import StorageConnectionLost, TuneryError
from tunery.events import TrialEvent as TrialEvent
from tunery.events import TrialEventKind as TrialEventKind
from tunery.execute.base import Executor, Launch, ResourcesUnavailable, RunState, RunStatus
from tunery.history import HistoryBuilder
from tunery.launch import (
    build_launch,
    checkpoint_dir,
    experiment_dir,
    prepare_trial_dirs,
    seed_for,
)
from tunery.ledger import Batch, TrialLedger
from tunery.model import (
    RERUN_LABEL,
    Assignment,
    CollectorKind,
    Experiment,
    ExperimentCondition,
    ExperimentReason,
    IntentKind,
    Trial,
    TrialCondition,
    TrialReason,
    objective_text,
    objective_value,
)
from tunery.outcome import last_output_line, with_output_line
from tunery.pacing import ReadPacer
from tunery.space import SearchSpace
from tunery.stopping import EarlyStopper, create_stopper
from tunery.storage.base import BaseStore
from tunery.suggest import Suggester, create_suggester
from tunery.thinning import OBSERVATION_LIMIT, THINNED_LABEL
from tunery.warmstart import initial_assignments

log = logging.getLogger(__name__)

#: Seconds one tick spends reading trials' metrics, beyond one bounded read per trial: a trial
#: that prints faster than that is read on at the next tick, which then comes at once.
READ_SECONDS = 1.0


class Controller:
    """Drives one experiment.  Use :meth:`run`, or :meth:`start` + :meth:`tick` in tests."""

    def __init__(
        self,
        store: BaseStore,
        experiment: str,
        executor: Executor,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        lease_ttl: float = 30.0,
        poll_interval: float = 0.5,
        intent_interval: float = 0.25,
        on_event: Callable[[TrialEvent], None] | None = None,
        reconnect_timeout: float = 300.0,
        observation_limit: int = OBSERVATION_LIMIT,
        stop_grace: float | None = None,
    ) -> None:
        self.store = store
        self.name = experiment
        self.executor = executor
        self.clock = clock or SystemClock()
        # The only writer of trial state: its ledger keeps every trial in memory.
        self.ledger = TrialLedger(
            store,
            experiment,
            owner=owner,
            lease_ttl=lease_ttl,
            observation_limit=observation_limit,
        )
        self.poll_interval = poll_interval
        self._pacer = ReadPacer(poll_interval)
        #: Seconds an early-stopped trial has to end on its own after its stop marker
        #: (tunery.stopfile; ``TUNERY_STOP_GRACE``, default 10; 0: killed at once).
        self.stop_grace = stopfile.grace_from_env() if stop_grace is None else stop_grace
        #: Seconds between two reads of the intents table (stop/kill requests).
        self.intent_interval = intent_interval
        self.on_event = on_event
        #: How long ``run`` keeps reconnecting after the database connection is lost.
        self.reconnect_timeout = reconnect_timeout
        #: ``time.monotonic()`` until which this tick may go on reading metrics.
        self._read_until = 0.0
        #: A read stopped at its bound this tick: the next tick comes without waiting.
        self._behind = False
        self._experiment: Experiment | None = None
        self._suggester: Suggester | None = None
        #: Builds the History the algorithms see (the search space is built once, in start).
        self._history: HistoryBuilder | None = None
        self._collector: Collector | None = None
        self._started = False
        self._nothing_to_suggest = False
        self._intents_checked_at = -float("inf")
        self._stopper: EarlyStopper | None = None
        #: Objective and constraint metrics' observations per trial (kept only when early
        #: stopping is on), thinned as the stored ones are.
        self._curves: CurveBook | None = None
        self._driven = DrivenTime(self.ledger)  # the time budget's clock (tunery.deadline)

    @property
    def owner(self) -> str:
        """The lease owner id of this controller (``host:pid:random`` unless given)."""
        return self.ledger.owner

    # ------------------------------------------------------------------ lifecycle

    @property
    def experiment(self) -> Experiment:
        if self._experiment is None:
            self._experiment = self.store.get_experiment(self.name)
        return self._experiment

    def start(self) -> None:
        """Take the lease and prepare the algorithm; marks the experiment Running."""
        now = self.clock.now()
        # Fenced: a controller that lost its lease (a stalled tick) never writes again.
        self.ledger.acquire(now, fence=True)
        exp = self.store.get_experiment(self.name)
        self._experiment = exp
        spec = exp.spec
        self._stopper = create_stopper(spec)
        self._suggester = create_suggester(spec, seed_for(self.name))
        self._history = HistoryBuilder(SearchSpace.from_spec(spec), spec.objective)
        state = self.ledger.load_state()
        if state is not None:
            self._suggester.load_state(state)
        self._driven.start(now)
        self._collector = make_collector(spec.metrics_collector, spec.objective.metric_names)
        self._curves = None
        if self._stopper is not None:
            self._curves = CurveBook(stopping_metrics(spec.objective))
            for metric in self._curves.metrics:
                self._curves.extend(self.store.get_observations(self.name, metric=metric))
        for trial in self.ledger.load(spec.objective):
            if trial.status.is_active and trial.handle:
                # Re-attached trials hold their resources (GPUs) before anything new starts.
                self.executor.adopt(trial.handle)
        if not exp.status.is_completed:
            self._rerun_interrupted(now)
            reason = (
                ExperimentReason.RUNNING
                if exp.status is ExperimentCondition.CREATED
                else ExperimentReason.RESTARTING
            )
            self.store.set_experiment_status(
                self.name,
                ExperimentCondition.RUNNING,
                reason.value,
                "Experiment is running",
                start_time=exp.start_time or now,
            )
        self._experiment = self.store.get_experiment(self.name)
        self._started = True

    def _rerun_interrupted(self, now: float) -> None:
        """Create a trial for each trial Ctrl-C killed (``TrialReason.INTERRUPTED``), with its
        assignment and labels, before the algorithm is asked anything: it never saw them.

        One write each (labelled ``RERUN_LABEL``); a crash in between leaves the others for
        the next start.  They start at the first tick, as trials created before a crash do.
        """
        for old in self.ledger.to_rerun():
            labels = {k: v for k, v in old.labels.items() if k != THINNED_LABEL}
            labels[RERUN_LABEL] = old.name
            trial = self.ledger.create_trial(
                Assignment(old.parameters, labels), now, message=f"Trial runs {old.name} again"
            )
            log.info("trial %s runs interrupted trial %s again", trial.name, old.name)

    def release(self) -> None:
        """Give the lease back (the experiment can be resumed by another controller)."""
        try:
            if self._started:
                self._driven.save(self.clock.now())
            self.ledger.release()
        finally:
            self._started = False

    def run(self, max_ticks: int | None = None) -> Experiment:
        """Tick until the experiment completes; returns the final experiment."""
        if not self._started:
            self.start()
        try:
            ticks = 0
            lost_at: float | None = None
            delay = 0.5
            while True:
                try:
                    if self.tick():
                        break
                    lost_at, delay = None, 0.5
                except StorageConnectionLost as exc:
                    # A write may have committed just before the loss, or not: forget every
                    # cached copy and read the store again (restarting is resuming).
                    now = self.clock.now()
                    lost_at = now if lost_at is None else lost_at
                    if now - lost_at > self.reconnect_timeout:
                        raise
                    log.warning("%s; reconnecting in %.1f s", exc.message, delay)
                    self.clock.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    self._started = False
                    try:
                        self.start()
                    except StorageConnectionLost:
                        continue
                ticks += 1
                if max_ticks is not None and ticks >= max_ticks:
                    break
                self._idle()
        finally:
            try:
                self.release()
            except StorageConnectionLost as exc:
                log.warning("could not release the lease (it expires by itself): %s", exc)
        return self.store.get_experiment(self.name)

    def interrupt(self, reason: str = TrialReason.INTERRUPTED, message: str | None = None) -> int:
        """Kill every active trial (Ctrl-C): they become Killed; the experiment stays resumable.

        Returns how many trials were killed.
        """
        active = list(self.ledger.active.values())
        ref = self.experiment.command_ref
        said = f"the controller was interrupted; `tunery resume {ref}` runs it again"
        self._kill_all(active, reason, message or said)
        if not self.experiment.status.is_completed:
            # Nothing runs any more: say so (the condition stays Running, as Katib has no
            # "Paused"; the reason tells get/list/the UI to show it as Interrupted).
            self.store.set_experiment_status(
                self.name,
                ExperimentCondition.RUNNING,
                ExperimentReason.INTERRUPTED.value,
                f"Experiment was interrupted; `tunery resume {ref}` continues it",
            )
            self._experiment = self.store.get_experiment(self.name)
        return len(active)

    def _idle(self) -> None:
        if self._behind:
            return  # metric lines are waiting to be read
        handles = [t.handle for t in self.ledger.active.values() if t.handle]
        wait = self._driven.wait(self.experiment.spec, self.poll_interval)
        self.executor.wait(handles, wait, self.clock)

    # ------------------------------------------------------------------ the cache

    def _update(
        self, trial: Trial, expect: Sequence[TrialCondition], **changes: Any
    ) -> tuple[Trial, bool]:
        """Compare-and-set a trial in the store and in the cache (``TrialLedger.transition``)."""
        return self.ledger.transition(trial, expect, **changes)

    @property
    def trials(self) -> list[Trial]:
        """Every trial of the experiment, by index (the controller's view)."""
        return self.ledger.trials

    # ------------------------------------------------------------------ the loop

    def tick(self) -> bool:
        """One reconcile pass.  Returns True when the experiment has completed."""
        if not self._started:
            self.start()
        now = self.clock.now()
        self._renew_lease(now)
        # The cached experiment is current: only the lease holder writes it (others: intents).
        if self.experiment.status.is_completed:
            return True
        self._driven.advance(now, self.experiment.spec)

        self._read_until = time.monotonic() + READ_SECONDS
        self._behind = False
        if now - self._intents_checked_at >= self.intent_interval:
            self._intents_checked_at = now
            if self._obey_intents():
                return True

        for trial in list(self.ledger.active.values()):
            self._renew_lease(self.clock.now())  # a tick reading many floods can be long
            self._reconcile_trial(trial)

        if self._stopper is not None and self.ledger.active:
            self._early_stop()

        if self._check_completion():
            return True
        if self._driven.remaining(self.experiment.spec) == 0:  # the time budget is used
            end = time_end(self.experiment.spec, self.ledger.counts)  # None: LetFinish waits
            if end is not None:
                self._finish_experiment(end.status, end.reason, end.message, end.kill_reason)
            return end is not None

        if self.ledger.rerun_pending:
            # A dead controller was stopping them (Ctrl-C); finished Interrupted, they rerun first.
            self._rerun_interrupted(now)
        self._create_trials()
        return self._check_completion()

    # ------------------------------------------------------------------ steps

    def _renew_lease(self, now: float) -> None:
        self.ledger.renew(now)

    def _obey_intents(self) -> bool:
        intents = self.store.pending_intents(self.name)
        stopped = any(i.kind == IntentKind.STOP_EXPERIMENT for i in intents)
        if stopped:
            self._finish_experiment(
                ExperimentCondition.SUCCEEDED,
                ExperimentReason.STOPPED,
                "Experiment was stopped by the user",
                kill_reason=TrialReason.EXPERIMENT_STOPPED,
            )
        else:
            # Trials to kill are stopped together (one grace period for all of them).
            targets = {i.target for i in intents if i.kind == IntentKind.KILL_TRIAL and i.target}
            doomed = [t for name, t in self.ledger.active.items() if name in targets]
            if doomed:
                self._kill_all(
                    doomed, TrialReason.KILLED_BY_USER, "the trial was killed on request"
                )
        if not stopped and any(i.kind == IntentKind.UPDATE_BUDGET for i in intents):
            self._reload_budget()
        for intent in intents:
            if intent.kind not in set(IntentKind):
                log.warning("ignoring unknown intent %r on %s", intent.kind, self.name)
            self.store.complete_intent(intent.id, self.clock.now())
        return stopped

    def _reload_budget(self) -> None:
        """Take the stored budget (``Client.edit_experiment_budget``), and only the budget."""
        stored = self.store.get_experiment(self.name).spec
        budget = {field: getattr(stored, field) for field in BUDGET_FIELDS}
        self._experiment = replace(self.experiment, spec=replace(self.experiment.spec, **budget))
        log.info("%s: budget now %s", self.name, budget)

    def _launch(self, trial: Trial) -> Launch:
        exp = self.experiment
        return build_launch(
            exp.spec,
            experiment=self.name,
            trial_name=trial.name,
            parameters=trial.parameters,
            labels=trial.labels,
            runs_dir=exp.runs_dir or os.path.join(os.getcwd(), "tunery-runs"),
            base_dir=exp.base_dir,
        )

    def _start_trial(self, trial: Trial) -> None:
        """Start a Created trial; on failure to start, the trial becomes Failed."""
        try:
            launch = self._launch(trial)
            prepare_trial_dirs(launch)
            if launch.checkpoint_dir is not None:
                parent = trial.parent
                self.executor.prepare_checkpoint(
                    self._parent_checkpoint(parent) if parent else None,
                    launch.checkpoint_dir,
                    trial.created_time,
                )
            handle = self.executor.start(launch).handle
        except Exception as exc:
            if isinstance(exc, ResourcesUnavailable):
                log.debug("trial %s waits for resources: %s", trial.name, exc)
                return
            message = exc.one_line() if isinstance(exc, TuneryError) else str(exc)
            trial, _ = self._update(
                trial,
                [TrialCondition.CREATED],
                status=TrialCondition.FAILED,
                reason=TrialReason.START_FAILED,
                message=message or type(exc).__name__,
                completion_time=self.clock.now(),
            )
            log.warning("trial %s could not start: %s", trial.name, message)
            self._emit(TrialEventKind.FINISHED, trial)
            return
        crashpoint("controller.trial_started")
        now = self.clock.now()
        source = self._source(handle, launch)
        trial, _ = self._update(
            trial,
            [TrialCondition.CREATED],
            status=TrialCondition.RUNNING,
            reason=TrialReason.RUNNING,
            message="Trial is running",
            handle=handle,
            cursor={"source": source},
            start_time=now,
        )
        crashpoint("controller.trial_running")
        self._pacer.started(trial.name, now)
        self._emit(TrialEventKind.STARTED, trial)

    def _parent_checkpoint(self, parent: str) -> str:
        return checkpoint_dir(experiment_dir(self.experiment.runs_dir, self.name), parent)

    def _source(self, handle: Mapping[str, Any], launch: Launch) -> str:
        """The file the collector reads for a trial: its own metrics path, else its output."""
        return launch.metrics_path or self.executor.output_path(handle)

    def _reconcile_trial(self, trial: Trial) -> None:
        if trial.status is TrialCondition.CREATED and not trial.handle:
            # Created before a crash (or waiting for resources).  If the crash came between
            # starting its process and saving the handle, re-attach instead of running it twice.
            launch = self._launch(trial)
            recovered = self.executor.recover(launch, trial.created_time)
            if recovered is None:
                self._start_trial(trial)
                return
            handle = recovered.handle
            trial, _ = self._update(
                trial,
                [TrialCondition.CREATED],
                status=TrialCondition.RUNNING,
                reason=TrialReason.RUNNING,
                message="Trial is running (re-attached after a controller restart)",
                handle=handle,
                cursor={"source": self._source(handle, launch)},
                start_time=recovered.started_at or self.clock.now(),
            )
        assert trial.handle is not None
        status = self.executor.poll(trial.handle)
        if status.state is not RunState.RUNNING:
            # Its last lines and final status: one transaction (after slices for a flood of
            # lines; it stays Running until the last one, maybe at a later tick).
            batch = self._read_metrics(trial, final=True)
            while batch is not None and batch.more:
                trial = self._save(trial, batch)
                if self._read_time_is_up():
                    return
                batch = self._read_metrics(trial, final=True)
            self._finish_trial(trial, status, batch)
            return
        if self._pacer.due(trial.name, self.clock.now()):
            trial = self._collect(trial, final=False)
            self._pacer.read(trial.name, self.clock.now(), complete=not self._behind)
        if trial.status is TrialCondition.CREATED:
            trial, _ = self._update(
                trial,
                [TrialCondition.CREATED],
                status=TrialCondition.RUNNING,
                reason=TrialReason.RUNNING,
                message="Trial is running",
                start_time=trial.start_time or self.clock.now(),
            )

    def _collect(self, trial: Trial, final: bool, drain: bool = False) -> Trial:
        """Read new metric lines of a trial into observations (cursor saved atomically).

        One bounded read after another until the trial's output is read, or this tick's
        reading time is up (then the next tick goes on); ``drain``: until it is read.
        """
        while True:
            batch = self._read_metrics(trial, final)
            if batch is None:
                return trial
            trial = self._save(trial, batch)
            if not batch.more or (not drain and self._read_time_is_up()):
                return trial

    def _read_time_is_up(self) -> bool:
        if time.monotonic() < self._read_until:
            return False
        self._behind = True
        return True

    def _save(self, trial: Trial, batch: Batch) -> Trial:
        """Store a read's observations, metric summaries and cursor (and labels) together."""
        trial = self.ledger.record(trial, batch)
        self._add_curve(trial.name, batch)
        return trial

    def _add_curve(self, trial_name: str, batch: Batch) -> None:
        """Keep the early stopper's copy of a trial's curves as the stored ones."""
        if self._curves is not None:
            self._curves.add(trial_name, batch.observations, batch.thin)

    def _read_metrics(self, trial: Trial, final: bool) -> Batch | None:
        """One bounded read of the trial's new metric lines; None if there is nothing new.

        Every value goes into the metric summaries (min, max, latest stay exact); the
        observations stored are thinned past ``observation_limit`` per metric.
        """
        if self._collector is None or trial.handle is None:
            return None
        cursor = trial.cursor or {}
        collector_cursor = cursor.get("collector")
        source = cursor.get("source") or self.executor.output_path(trial.handle)
        try:
            records, new_cursor = self._collector.read(source, collector_cursor, final=final)
        except OSError as exc:
            log.warning("trial %s: cannot read metrics: %s", trial.name, exc)
            return None
        more = bool(new_cursor.pop("more", False))
        if not records and new_cursor == collector_cursor:
            return None
        return self.ledger.batch(trial, records, new_cursor, more)

    def _finish_trial(
        self,
        trial: Trial,
        status: RunStatus,
        last: Batch | None,
    ) -> None:
        spec = self.experiment.spec
        now = self.clock.now()
        extra: dict[str, Any] = {}
        if last is not None:
            extra = {
                "observations": last.observations,
                "thin": last.thin,
                "metrics": last.metrics,
                "cursor": last.cursor,
            }
            if last.labels is not None:
                extra["labels"] = last.labels
            trial = replace(trial, metrics=last.metrics, cursor=last.cursor)
        objective = objective_value(spec.objective, trial.metrics)
        reason: str  # a TrialReason, or the executor's own reason for a failure
        asked = stopfile.was_asked(trial.pending_outcome)
        if stopfile.was_asked(trial.pending_outcome):  # it ended on its own (any exit code)
            trial = replace(trial, pending_outcome=stopfile.ended(trial.pending_outcome))
        if status.state is RunState.SUCCEEDED and not asked:
            # Push collects (tunery.collect.push): reporting nothing is MetricsUnavailable, as
            # on Katib; only None leaves metrics to some other way.
            no_collection = spec.metrics_collector.kind is CollectorKind.NONE
            text = objective_text(spec.objective, trial.metrics)  # a string objective
            if objective is None and text is None and not no_collection:
                new_status = TrialCondition.METRICS_UNAVAILABLE
                reason = TrialReason.METRICS_UNAVAILABLE
                metric = spec.objective.objective_metric_name
                message = f"the trial succeeded but never reported {metric!r}"
                if metric in trial.metrics:
                    message = f"the trial reported {metric!r} only as NaN/inf"
            else:
                new_status = TrialCondition.SUCCEEDED
                reason = TrialReason.SUCCEEDED
                message = "Trial has succeeded"
        elif trial.pending_outcome:
            # The previous controller was stopping this trial when it died: finish the job.
            intent = dict(trial.pending_outcome)
            new_status = TrialCondition(intent["status"])
            reason = str(intent["reason"])
            message = str(intent["message"])
        elif status.state is RunState.LOST:
            new_status = TrialCondition.FAILED
            reason = TrialReason.LOST
            message = status.message or "the trial's process disappeared without an exit status"
        else:
            new_status = TrialCondition.FAILED
            reason = status.reason or TrialReason.FAILED
            message = status.message or "Trial has failed"
        if new_status.is_failed and not trial.pending_outcome:
            message = self._with_output_line(trial, message)
        trial, applied = self._update(
            trial,
            [TrialCondition.CREATED, TrialCondition.RUNNING],
            status=new_status,
            reason=reason,
            message=message,
            objective=objective,
            completion_time=now,
            **extra,
        )
        crashpoint("controller.trial_finished")
        if applied and last is not None:
            self._add_curve(trial.name, last)
        if applied:
            self._emit(TrialEventKind.FINISHED, trial)

    def _with_output_line(self, trial: Trial, message: str) -> str:
        """``message`` plus the last meaningful line of the trial's output (its tail only)."""
        try:
            path = self.executor.output_path(trial.handle or {})
        except (KeyError, TypeError):
            return message
        names = self.experiment.spec.objective.metric_names
        return with_output_line(message, last_output_line(path, names))

    def _early_stop(self) -> None:
        """Ask the early stopper which running trials to stop, and stop them."""
        assert self._stopper and self._history is not None and self._curves is not None
        curves = self._curves.by_metric
        history = self._history.build(self.ledger.results(), metric_curves=curves)
        decisions = self._stopper.decide(history)
        for name, why in decisions.items():
            trial = self.ledger.active.get(name)
            if trial is None or trial.status is not TrialCondition.RUNNING:
                continue
            if stopfile.was_asked(trial.pending_outcome):
                continue  # asked to stop already: its grace period runs
            log.info("early stopping trial %s: %s", name, why)
            if not self._ask_to_stop(trial, why):
                self._kill(trial, TrialReason.EARLY_STOPPED, why, TrialCondition.EARLY_STOPPED)
        now, grace = self.clock.now(), self.stop_grace
        due = [t for t in self.ledger.active.values() if stopfile.grace_over(t, now, grace)]
        if due:
            self._kill_all(due, TrialReason.EARLY_STOPPED, "", TrialCondition.EARLY_STOPPED)

    def _ask_to_stop(self, trial: Trial, why: str) -> bool:
        """Save the outcome, then write the stop marker (:mod:`tunery.stopfile`); False: the
        trial cannot be asked (no grace, an executor without ``stop_channel``, not listening)."""
        trial_dir = self._launch(trial).trial_dir
        if self.stop_grace <= 0 or not getattr(self.executor, "stop_channel", False):
            return False
        if not stopfile.listens(trial_dir):
            return False
        pending = stopfile.asked_outcome(
            TrialCondition.EARLY_STOPPED.value, TrialReason.EARLY_STOPPED, why, self.clock.now()
        )
        trial, applied = self._update(trial, [TrialCondition.RUNNING], pending_outcome=pending)
        crashpoint("controller.stop_asked")
        return applied and stopfile.request_stop(stopfile.stop_file(trial_dir), why)

    def _kill(
        self,
        trial: Trial,
        reason: str,
        message: str,
        status: TrialCondition = TrialCondition.KILLED,
    ) -> None:
        """Stop a trial's process; it becomes ``status`` (Killed, or EarlyStopped)."""
        self._kill_all([trial], reason, message, status)

    def _kill_all(
        self,
        trials: Sequence[Trial],
        reason: str,
        message: str,
        status: TrialCondition = TrialCondition.KILLED,
    ) -> None:
        """Stop trials' processes, all at once; they become ``status``.

        The intended outcome is saved with each trial before its process is stopped, so that a
        controller killed in between still records it (see ``_finish_trial``).  The processes
        are stopped in parallel: trials that ignore SIGTERM cost one grace period together,
        not one each, so no tick outlasts the lease; the lease is renewed between the steps.
        """
        stopping: list[Trial] = []
        outcomes: dict[str, dict[str, str]] = {}
        for trial in trials:
            intent = {"status": status.value, "reason": reason, "message": message}
            if stopfile.was_asked(trial.pending_outcome):
                intent = stopfile.killed(trial.pending_outcome, self.clock.now())
            outcomes[trial.name] = intent
            if trial.handle:
                trial, _ = self._update(
                    trial,
                    [TrialCondition.RUNNING, TrialCondition.CREATED],
                    pending_outcome=intent,
                )
            stopping.append(trial)
        crashpoint("controller.stopping")
        handles = [t for t in stopping if t.handle]
        if len(handles) == 1:
            self._stop_quietly(handles[0])
        elif handles:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(16, len(handles))) as pool:
                list(pool.map(self._stop_quietly, handles))
        self._renew_lease(self.clock.now())
        spec = self.experiment.spec
        for trial in stopping:
            if trial.handle:
                trial = self._collect(trial, final=True, drain=True)
            outcome = outcomes[trial.name]
            trial, applied = self._update(
                trial,
                [TrialCondition.CREATED, TrialCondition.RUNNING],
                status=TrialCondition(outcome["status"]),
                reason=outcome["reason"],
                message=outcome["message"],
                objective=objective_value(spec.objective, trial.metrics),
                completion_time=self.clock.now(),
            )
            if applied:
                self._emit(TrialEventKind.FINISHED, trial)

    def _stop_quietly(self, trial: Trial) -> None:
        assert trial.handle is not None
        try:
            self.executor.stop(trial.handle)
        except Exception as exc:
            log.warning("could not stop trial %s: %s", trial.name, exc)

    def _check_completion(self) -> bool:
        """The rules of :mod:`tunery.completion` (Katib's order); True when it ended."""
        end = decide(
            self.experiment.spec,
            self.ledger.counts,
            self.ledger.goal_trial,
            self._nothing_to_suggest,
        )
        if end is None:
            return False
        self._finish_experiment(end.status, end.reason, end.message, kill_reason=end.kill_reason)
        return True

    def _finish_experiment(
        self,
        status: ExperimentCondition,
        reason: ExperimentReason,
        message: str,
        kill_reason: str,
    ) -> None:
        # Katib leaves running trials running; we stop them (all at once) and say why.
        self._kill_all(list(self.ledger.active.values()), kill_reason, message)
        self._driven.advance(self.clock.now(), self.experiment.spec, save=True)
        self.store.set_experiment_status(
            self.name, status, reason.value, message, completion_time=self.clock.now()
        )
        self._experiment = self.store.get_experiment(self.name)
        self._emit(TrialEventKind.EXPERIMENT_FINISHED, experiment=self._experiment)

    def _create_trials(self) -> None:
        spec = self.experiment.spec
        counts = self.ledger.counts
        free = spec.parallel_trial_count - counts.active
        if spec.max_trial_count is not None:
            free = min(free, spec.max_trial_count - (counts.active + counts.completed))
        if free <= 0:
            self._nothing_to_suggest = False
            return
        assert self._suggester is not None and self._history is not None
        history = self._history.build(self.ledger.results())
        # spec.initialTrials first, in order (the algorithm's turn comes once all are created).
        first = initial_assignments(spec, history.space, self.ledger.trials)[:free]
        assignments: list[Assignment] = first or self._suggester.suggest(history, free)
        # Nothing while trials run may mean "wait for them" (hyperband's rungs, pbt's
        # generations); nothing with none running is the end of the search.
        self._nothing_to_suggest = not assignments and counts.active == 0
        if not assignments:
            self._save_state()
            return
        now = self.clock.now()
        created = [self.ledger.create_trial(a, now) for a in assignments[:free]]
        self._save_state()
        if created:
            crashpoint("controller.trials_created")
        for trial in created:
            self._start_trial(trial)

    def _save_state(self) -> None:
        """Store the suggester's state when it changed since it was last stored."""
        assert self._suggester is not None
        self.ledger.save_state(self._suggester.dump_state())

    def _emit(
        self, kind: TrialEventKind, trial: Trial | None = None, experiment: Experiment | None = None
    ) -> None:
        if self.on_event is not None:
            self.on_event(TrialEvent(kind, trial, experiment))
