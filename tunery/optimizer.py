"""Ask/tell: drive any tunery algorithm from your own loop.

    import tunery

    opt = tunery.Optimizer(
        {"x": tunery.search.double(-5, 10), "y": tunery.search.double(0, 15)},
        algorithm="random",
        objective="minimize",
        seed=0,
    )
    for _ in range(50):
        s = opt.ask()
        opt.tell(s, branin(**s.params))
    print(opt.best.params, opt.best.value)

Early stopping (``early_stopping="medianstop"`` or ``"asha"``, with ``early_stopping_settings``)
works from the same loop: report each step's value and ask whether to go on::

    opt = tunery.Optimizer(space, algorithm="tpe", early_stopping="asha",
                           early_stopping_settings={"min_resource": 1, "reduction_factor": 3})
    s = opt.ask()
    for epoch in range(1, 28):
        loss = train_one_epoch(**s.params)
        if opt.should_stop(s, epoch, loss):
            break  # recorded as EarlyStopped with its value; no tell() needed
    else:
        opt.tell(s, loss)

``ask(n)`` returns a batch (the algorithm knows the earlier ones are in flight, so a batch does
not repeat itself).  ``tell(s, None)`` (or ``tell(s, failed=True)``) records a failure.  With
``storage`` (a database URL or SQLite path) and a ``name``, every suggestion and result is
persisted as an experiment (``tunery trials NAME`` shows it), and creating the Optimizer again
with the same name resumes it, algorithm state included.  The optimizer plays the controller's
part for its experiment, so it holds the experiment's lease while it lives.

An experiment ends as a controller's would: :meth:`Optimizer.finish` (or leaving a ``with
Optimizer(...) as opt:`` block without an exception) marks it Succeeded with the reason
``ExperimentFinished`` and a completion time, and releases the lease; with ``max_trial_count``
the ``tell`` (or the early stop) that completes the last trial of the budget finishes it with
``ExperimentMaxTrialsReached``.  A finished Optimizer takes no more calls (a one-line
UserInputError says so).  Creating the Optimizer again with the same name, space and storage
continues the work: the stored experiment is Running again (its completion time cleared), its
still-running suggestions can be told.

Every argument is checked before anything is recorded, and a bad one is a one-line
:class:`~tunery.errors.UserInputError` (or :class:`~tunery.errors.SpecError`) naming it:
the space as a spec's parameters are checked (``parameters['lr'].feasibleSpace.min: ...``),
``ask(n)`` up to :data:`MAX_ASK`, steps from 0 to :data:`MAX_STEP`, values numbers or None.
With storage, the database is written first and memory after it succeeds, so the two agree
after every call, failed ones included (``docs/multifidelity.md``, "What the calls accept").
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tunery.clock import Clock, SystemClock
from tunery.completion import no_result_note
from tunery.curves import CurveBook, stopping_metrics
from tunery.deadline import DrivenTime, budget_seconds, out_of_time, time_end
from tunery.errors import NotFoundError, SpecError, UserInputError
from tunery.model import (
    Assignment,
    ExperimentCondition,
    ExperimentReason,
    ExperimentSpec,
    MetricSummary,
    Observation,
    ParamValue,
    Trial,
    TrialCondition,
    TrialReason,
    best_trial,
    objective_value,
)
from tunery.objectives import objective_values, pareto_front
from tunery.optimizer_arguments import (
    MAX_ASK,
    MAX_STEP,
    argument_error,
    ask_count,
    check_step,
    is_single_value,
    objective_number,
    quote,
    setting_text,
    whole_number,
)
from tunery.optimizer_objectives import (
    constraint_entries,
    intermediate_metrics,
    objective_entries,
    result_metrics,
)
from tunery.warmstart import AddTrial

if TYPE_CHECKING:
    from tunery.ledger import TrialLedger
    from tunery.storage.base import BaseStore

__all__ = ["MAX_ASK", "MAX_STEP", "Best", "Optimizer", "Suggestion"]

_METRIC = "objective"


@dataclass(frozen=True)
class Suggestion:
    """One configuration to evaluate: ``params`` and the ``id`` to tell its result under.

    ``labels`` carries what the algorithm says about it: hyperband's bracket and rung, pbt's
    generation and parent.  ``parent``: the id of the suggestion whose checkpoint an ask/tell
    loop should start from (pbt), or None.
    """

    id: str
    params: dict[str, ParamValue]
    labels: dict[str, str] = field(default_factory=dict)
    parent: str | None = None


@dataclass(frozen=True)
class Best:
    """A told result: ``value`` the (first) objective's, ``values`` every objective's."""

    id: str
    params: dict[str, ParamValue]
    value: float
    values: tuple[float, ...] | None = None


class Optimizer(AddTrial):
    """Ask/tell over a search space with a tunery algorithm (``add_trial``: warm starts)."""

    def __init__(
        self,
        parameters: Mapping[str, Any],
        algorithm: str = "bayesianoptimization",
        objective: str = "minimize",
        settings: Mapping[str, Any] | None = None,
        seed: int | None = 0,
        storage: str | os.PathLike[str] | None = None,
        name: str | None = None,
        early_stopping: str | None = None,
        early_stopping_settings: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        max_trial_count: int | None = None,
        objectives: Any = None,
        constraints: Any = None,
        max_duration: str | float | None = None,
    ) -> None:
        from tunery.history import HistoryBuilder
        from tunery.ledger import TrialLedger
        from tunery.search import split_parameters
        from tunery.space import SearchSpace
        from tunery.spec import parse_document
        from tunery.spec.katib import parameter_to_document
        from tunery.stopping import create_stopper
        from tunery.suggest import create_suggester

        if not isinstance(objective, str) or objective not in ("minimize", "maximize"):
            raise UserInputError(
                f"objective must be 'minimize' or 'maximize', not {quote(objective)}",
                "pass objective='minimize' or objective='maximize'",
            )
        if not isinstance(parameters, Mapping):
            raise UserInputError(
                f"parameters must be a dict of names to values, not {type(parameters).__name__}",
                "e.g. {'lr': tunery.search.double(1e-4, 1e-1, log=True), 'epochs': 10}",
            )
        for what, given in (
            ("settings", settings),
            ("early_stopping_settings", early_stopping_settings),
        ):
            if given is not None and not isinstance(given, Mapping):
                raise UserInputError(
                    f"{what} must be a dict of setting names to values, not {type(given).__name__}",
                    f"e.g. {what}={{'random_state': 1}}"
                    if what == "settings"
                    else f"e.g. {what}={{'min_resource': 1}}",
                )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise UserInputError(f"seed must be an integer, not {seed!r}", "e.g. seed=0")
        budget = None if max_trial_count is None else whole_number(max_trial_count)
        if max_trial_count is not None and (budget is None or budget < 1):
            raise UserInputError(
                f"max_trial_count must be a whole number of at least 1, not "
                f"{quote(max_trial_count)}",
                "e.g. max_trial_count=100, or leave it out for no budget",
            )
        searched, fixed = split_parameters(parameters)
        self.fixed = fixed
        self.name = name or "ask-tell"
        #: The experiment's store key (its name unless the name is taken in another namespace).
        self._key = self.name
        doc: dict[str, Any] = {
            "apiVersion": "tunery/v1",
            "kind": "Experiment",
            "metadata": {"name": self.name},
            "spec": {
                "objective": {"type": objective, "objectiveMetricName": _METRIC},
                "algorithm": {
                    "algorithmName": algorithm,
                    "algorithmSettings": [
                        {"name": k, "value": setting_text(v, "settings", k)}
                        for k, v in (settings or {}).items()
                    ],
                },
                "parallelTrialCount": 1,
                "parameters": [parameter_to_document(p) for p in searched],
                # Never run: ask/tell evaluates in the caller's process.
                "trialTemplate": {
                    "command": ["ask-tell", *[f"${{trialParameters.{p.name}}}" for p in searched]]
                },
            },
        }
        if budget is not None:
            doc["spec"]["maxTrialCount"] = budget
        if max_duration is not None:  # the time budget (tunery.deadline)
            doc["spec"]["maxExperimentDuration"] = budget_seconds(max_duration, "max_duration")
        if objectives is not None:  # several objectives (or one named metric)
            if objective != "minimize":
                raise UserInputError(
                    "give objective= or objectives=, not both",
                    "put each direction in objectives=[(metric, direction), ...]",
                )
            del doc["spec"]["objective"]
            doc["spec"]["objectives"] = objective_entries(objectives)
        if constraints is not None:
            doc["spec"]["constraints"] = constraint_entries(constraints)
        if early_stopping is not None:
            doc["spec"]["earlyStopping"] = {
                "algorithmName": early_stopping,
                "algorithmSettings": [
                    {"name": k, "value": setting_text(v, "early_stopping_settings", k)}
                    for k, v in (early_stopping_settings or {}).items()
                ],
            }
        elif early_stopping_settings:
            raise UserInputError(
                "early_stopping_settings given without early_stopping",
                "pass early_stopping='medianstop' or 'asha' too",
            )
        try:
            self.spec: ExperimentSpec = parse_document(doc)
            self._suggester = create_suggester(self.spec, None if seed is None else int(seed))
            self._stopper = create_stopper(self.spec)
        except SpecError as exc:
            raise argument_error(
                exc,
                [p.name for p in searched],
                list(settings or {}),
                list(early_stopping_settings or {}),
            ) from None
        self.clock = clock or SystemClock()
        #: The metric of ``report``/``should_stop`` values: the (first) objective's.
        self._metric = self.spec.objective.objective_metric_name
        #: Builds the History the algorithms see (the search space is built once).
        self._history = HistoryBuilder(SearchSpace.from_spec(self.spec), self.spec.objective)
        #: Intermediate values reported per suggestion, in order, per objective and constraint
        #: metric (what early stopping reads).
        self._curves = CurveBook(stopping_metrics(self.spec.objective))
        #: Configurations :meth:`enqueue` asked for, handed out by ``ask`` first.
        self._queue: list[dict[str, ParamValue]] = []
        #: Set by :meth:`finish` (the experiment's reason): no more calls.
        self._finished: ExperimentReason | None = None
        #: The trials through their one writer; with storage it holds the experiment's lease.
        self._ledger: TrialLedger
        if storage is None:
            from tunery.storage.memory import InMemoryStore

            memory = InMemoryStore()
            self._create(memory)
            self._ledger = TrialLedger(memory, self._key, lease_ttl=3600.0)
            self._ledger.watch = self._history.put
            self._ledger.load(self.spec.objective)
        else:
            if isinstance(storage, os.PathLike):
                storage = os.fspath(storage)
            if not isinstance(storage, str):
                raise UserInputError(
                    f"storage must be a database URL or a file path, not {quote(storage)}",
                    "e.g. storage='study.db' or storage='postgresql://HOST/DB'",
                )
            self._open(storage)
        self._driven = DrivenTime(self._ledger, self.clock.now())

    # ------------------------------------------------------------------ persistence

    def _create(self, store: BaseStore) -> None:
        """Store the experiment (through the client, as every experiment) and mark it Running:
        the optimizer is its experiment's controller."""
        from tunery.client import Client

        made = Client(store=store, clock=self.clock).create_experiment(
            self.spec, base_dir=os.getcwd(), trial_dirs=False
        )
        self._key = made.key
        store.set_experiment_status(
            self._key,
            ExperimentCondition.RUNNING,
            ExperimentReason.RUNNING,
            "driven by ask/tell",
            start_time=self.clock.now(),
        )

    def _open(self, storage: str) -> None:
        from tunery.ledger import TrialLedger
        from tunery.storage import Store

        if self.name == "ask-tell":
            raise UserInputError("an Optimizer with storage needs a name", "pass name='my-study'")
        store = Store(storage)
        try:
            self._key = store.resolve(self.name, self.spec.namespace)
        except NotFoundError:
            existing = None
        else:
            existing = store.get_experiment(self._key)
        now = self.clock.now()
        if existing is None:
            self._create(store)
        elif existing.spec != self.spec:
            raise UserInputError(
                f"an experiment named {self.name!r} already exists with another search space, "
                "algorithm, objective or max_trial_count",
                "use another name=, or delete it with `tunery delete NAME`",
            )
        ledger = TrialLedger(store, self._key, lease_ttl=3600.0)
        ledger.acquire(now, fence=False)
        if existing is not None and existing.status is not ExperimentCondition.RUNNING:
            # Continuing work: the finished experiment runs again under this driver.
            store.set_experiment_status(
                self._key,
                ExperimentCondition.RUNNING,
                ExperimentReason.RUNNING,
                "continued by ask/tell",
                clear_completion=True,
            )
        self._ledger = ledger
        # The History follows every write (a flat cost per ask, whatever the trial count).
        ledger.watch = self._history.put
        ledger.load(self.spec.objective)
        for metric in self._curves.metrics:
            self._curves.extend(store.get_observations(self._key, metric=metric))
        state = ledger.load_state()
        if state is not None:
            self._suggester.load_state(state)

    def close(self) -> None:
        """Release the experiment's lease (with storage); the experiment stays Running."""
        self._driven.advance(self.clock.now(), self.spec, save=True)
        self._ledger.release()

    def finish(self) -> None:
        """End the experiment: Succeeded, with a completion time, and the lease released.

        The reason is ``ExperimentMaxTrialsReached`` when ``max_trial_count`` trials have
        completed, else ``ExperimentFinished``.  Suggestions still running stay Running (an
        Optimizer created again with the same name continues, and can tell them).  Calling
        it again does nothing.
        """
        if self._finished is not None:
            return
        budget = self.spec.max_trial_count
        if budget is not None and self._ledger.counts.completed >= budget:
            self._end(ExperimentReason.MAX_TRIALS_REACHED, self._max_trials_message(budget))
        else:
            self._end(ExperimentReason.FINISHED, "finished by its ask/tell driver")

    def _end(self, reason: ExperimentReason, message: str, status: Any = None) -> None:
        self._driven.advance(self.clock.now(), self.spec, save=True)
        self._ledger.store.set_experiment_status(
            self._key,
            status or ExperimentCondition.SUCCEEDED,
            reason.value,
            message,
            completion_time=self.clock.now(),
        )
        self._finished = reason
        self._ledger.release()

    def _check_open(self, verb: str) -> None:
        if self._finished is not None:
            raise UserInputError(
                f"{verb}(): the experiment {self.name!r} is finished ({self._finished.value})",
                "create the Optimizer again with the same name and storage to continue it"
                if self._finished is ExperimentReason.FINISHED
                else "raise the budget in a new Optimizer (another name), or read opt.best",
            )

    def _completed(self) -> None:
        """After a trial completed: finish when it used the last of ``max_trial_count``."""
        budget = self.spec.max_trial_count
        if budget is not None and self._ledger.counts.completed >= budget:
            self._end(ExperimentReason.MAX_TRIALS_REACHED, self._max_trials_message(budget))

    def _max_trials_message(self, budget: int) -> str:
        """``5 trials completed``, saying so when none that ran succeeded (seeds never ran:
        :func:`tunery.completion.no_result_note`, as at a controller's every ending)."""
        return f"{budget} trials completed{no_result_note(self._ledger.counts)}"

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` (or the trial budget) ended the experiment."""
        return self._finished is not None

    def __enter__(self) -> Optimizer:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()

    # ------------------------------------------------------------------ ask / tell

    def enqueue(self, params: Mapping[str, Any]) -> None:
        """Have a later ``ask`` return this configuration before any the algorithm suggests.

        ``params`` names every searched parameter with a feasible value (fixed values may be
        left out); it is checked now: a value off the space or its step is a UserInputError.
        The queue lives in this process only: an Optimizer created again from ``storage``
        starts with an empty one.
        """
        from tunery.space import SearchSpace

        self._check_open("enqueue")
        if not isinstance(params, Mapping):
            raise UserInputError(
                f"enqueue(params) takes a dict of parameter names to values, not "
                f"{type(params).__name__}",
                "e.g. opt.enqueue({'lr': 0.01})",
            )
        searched = {k: v for k, v in params.items() if k not in self.fixed}
        self._queue.append(SearchSpace.from_spec(self.spec).normalize(searched))

    def ask(self, n: int | None = None) -> Any:
        """One :class:`Suggestion`, or a list of ``n`` (fewer when the space is exhausted).

        ``n`` is a whole number from 1 to :data:`MAX_ASK`.  With ``max_trial_count`` no more
        suggestions than the budget has left are handed out.  Once ``max_duration`` (``"2h"``
        or seconds the Optimizer was open, summed over re-creations) is used, ``ask()`` raises
        a UserInputError and ``ask(n)`` returns ``[]``; none running, the experiment ends.
        """
        self._check_open("ask")
        count = 1 if n is None else ask_count(n)
        self._driven.advance(self.clock.now(), self.spec)
        if self._driven.remaining(self.spec) == 0:  # max_duration is used
            counts = self._ledger.counts  # ask/tell kills nothing: it ends once none runs
            end = None if counts.active else time_end(self.spec, counts)
            if end is not None:
                self._end(end.reason, end.message, end.status)
            if n is not None:
                return []
            raise out_of_time(self.spec, self._driven.total)
        budget = self.spec.max_trial_count
        if budget is not None:
            left = budget - (len(self._ledger) - self._ledger.counts.seeded)
            if left <= 0 and n is None:
                raise UserInputError(
                    f"ask(): all max_trial_count={budget} suggestions are handed out",
                    "tell() the running ones (the last one finishes the experiment); "
                    "ask(n) returns [] instead of raising",
                )
            count = min(count, max(left, 0))
        queued = [Assignment(p) for p in self._queue[:count]]
        del self._queue[:count]
        # Enqueued configurations start first, so the algorithm's share of the batch sees
        # them in flight (and neither repeats nor crowds them).
        out = [self._start(assignment) for assignment in queued]
        if len(queued) < count:
            history = self._history.current()
            for assignment in self._suggester.suggest(history, count - len(queued)):
                out.append(self._start(assignment))
        self._ledger.save_state(self._suggester.dump_state())
        if not out and n is None:
            raise self._nothing_to_suggest()
        return out[0] if n is None else out

    def _nothing_to_suggest(self) -> UserInputError:
        from tunery.space import SearchSpace

        trials = self._ledger.trials
        space = SearchSpace.from_spec(self.spec)
        size = space.size()
        if size is not None and len(space.history_keys(trials)) >= size:
            return UserInputError(
                "the search space is exhausted: every configuration has been suggested",
                "read opt.best, or widen the search space",
            )
        running = sum(t.status is TrialCondition.RUNNING for t in trials)
        if running:
            return UserInputError(
                f"the algorithm has nothing to suggest now, with {running} suggestion(s) still "
                "running",
                "tell() their results and ask again (hyperband and pbt wait for a rung or a "
                "generation to finish); ask(n) returns [] instead of raising",
            )
        return UserInputError(
            f"the algorithm has nothing more to suggest ({self.spec.algorithm.algorithm_name} "
            "has ended, or found no configuration it has not suggested)",
            "read opt.best, or widen the search space",
        )

    def _start(self, assignment: Assignment) -> Suggestion:
        """A new running trial of ``assignment`` (stored first when the optimizer persists)."""
        # One write: the trial is in the database whole, or not at all (and not in memory).
        trial = self._ledger.create_trial(
            assignment,
            self.clock.now(),
            status=TrialCondition.RUNNING,
            reason=None,
            message=None,
        )
        return Suggestion(
            trial.name, {**self.fixed, **trial.parameters}, dict(trial.labels), trial.parent
        )

    def _running(self, suggestion: Suggestion | str, verb: str) -> Trial:
        if isinstance(suggestion, Suggestion):
            sid = suggestion.id
        elif isinstance(suggestion, str):
            sid = suggestion
        else:
            raise UserInputError(
                f"{verb}() takes a suggestion (or its id), not {type(suggestion).__name__}",
                f"{verb}() takes what ask() returned",
            )
        trial = self._ledger.get(sid)
        if trial is None:
            raise UserInputError(
                f"unknown suggestion {sid!r}", f"{verb}() takes what ask() returned"
            )
        if trial.status is not TrialCondition.RUNNING:
            raise UserInputError(f"suggestion {sid!r} was already told ({trial.status.value})")
        return trial

    def report(
        self, suggestion: Suggestion | str, value: float | None, step: int | None = None
    ) -> None:
        """Record an intermediate objective ``value`` at ``step`` (default: the report's number).

        With several objectives, ``value`` is a list (one per objective, None for one not
        measured at this step) or a dict of metrics (any subset; constraints' too): early
        stopping compares a step on the objectives it holds.
        ``step`` is a whole number from 0 to :data:`MAX_STEP`.  A NaN, infinite or None value
        is kept as unavailable, as a trial's garbage line would be.  Everything is checked
        before anything is recorded: a bad argument changes neither memory nor the database.
        """
        self._check_open("report")
        trial = self._running(suggestion, "report")
        values = self._intermediate(value, "report")
        self._observe(
            trial, values, self._reports(trial) if step is None else check_step(step, "report")
        )

    def _intermediate(self, value: object, verb: str) -> dict[str, float | None]:
        """An intermediate value as metrics: the objective's number, or with several
        objectives (or constraints) a list or dict (:func:`intermediate_metrics`)."""
        objective = self.spec.objective
        if objective.is_multi or (objective.constraints and not is_single_value(value)):
            return dict(intermediate_metrics(objective, value, verb))
        return {self._metric: objective_number(value, verb)}

    def _reports(self, trial: Trial) -> int:
        """The default step of a report: how many values of a metric it reported at most."""
        return max(len(c.get(trial.name, ())) for c in self._curves.by_metric.values())

    def _observe(self, trial: Trial, values: Mapping[str, float | None], step: int) -> Trial:
        """Append observations to the database (first), then to memory."""
        for metric, number in values.items():
            kept = number if number is not None and math.isfinite(number) else None
            trial, obs = self._ledger.observe(trial, metric, kept, step, self.clock.now())
            self._curves.extend([obs])
        return trial

    def should_stop(
        self, suggestion: Suggestion | str, step: int | None = None, value: float | None = None
    ) -> bool:
        """Whether the experiment's early stopping stops this suggestion now.

        With ``value``, first :meth:`report` it at ``step`` (a NaN or infinite value is
        reported as unavailable, and judges nothing).  When the answer is True the suggestion
        is finished as ``EarlyStopped`` with the reason and its value so far (under the
        objective's metric strategy, like any trial's); do not ``tell`` it afterwards.
        Without early stopping configured the answer is always False.
        """
        self._check_open("should_stop")
        trial = self._running(suggestion, "should_stop")
        at = None if step is None else check_step(step, "should_stop")
        if value is not None:
            values = self._intermediate(value, "should_stop")
            trial = self._observe(trial, values, self._reports(trial) if at is None else at)
        if self._stopper is None:
            return False
        history = self._history.current(metric_curves=self._curves.by_metric)
        reason = self._stopper.decide(history).get(trial.name)
        if reason is None:
            return False
        self._ledger.transition(
            trial,
            [TrialCondition.RUNNING],
            status=TrialCondition.EARLY_STOPPED,
            reason=TrialReason.EARLY_STOPPED,
            message=reason,
            objective=objective_value(self.spec.objective, trial.metrics),
            completion_time=self.clock.now(),
        )
        self._completed()
        return True

    def tell(
        self, suggestion: Suggestion | str, value: float | None = None, *, failed: bool = False
    ) -> None:
        """Record the objective ``value`` of a suggestion (None, NaN or ``failed``: a failure).

        ``value`` is a number (an int beyond the float range counts as infinite) or None; with
        several objectives, a list of one value per objective or a dict of metrics by name
        (constraints' metrics too: a trial without them is infeasible), see
        :mod:`tunery.optimizer_objectives`.  A NaN or infinite objective value is a failure.
        """
        self._check_open("tell")
        trial = self._running(suggestion, "tell")
        given = result_metrics(self.spec.objective, value)
        if given is None:
            number = objective_number(value, "tell")
            given = {} if number is None else {self._metric: number}
        else:
            number = given[self._metric]
            if not all(math.isfinite(given[t.metric]) for t in self.spec.objective.terms):
                failed = True
        sid = trial.name
        ok = not failed and number is not None and math.isfinite(number)
        now = self.clock.now()
        metrics = dict(trial.metrics)
        for name, got in given.items():
            metrics[name] = metrics.get(name, MetricSummary()).add(got)
        changes: dict[str, Any] = {
            "status": TrialCondition.SUCCEEDED if ok else TrialCondition.FAILED,
            "reason": TrialReason.SUCCEEDED if ok else TrialReason.FAILED,
            "objective": number if ok else None,
            "metrics": metrics,
            "completion_time": now,
        }
        curve = self._curves.first.get(sid, [])
        # The final value is the curve's last observation (as a trial's last metric line).
        obs = (
            [Observation(sid, self._metric, number if ok else None, len(curve), now)]
            if number is not None
            else []
        )
        obs += [
            Observation(sid, name, got if math.isfinite(got) else None, len(curve), now)
            for name, got in given.items()
            if name != self._metric
        ]
        self._ledger.transition(trial, [TrialCondition.RUNNING], observations=obs, **changes)
        if obs:
            self._curves.extend(obs)
        self._completed()

    @property
    def best(self) -> Best | None:
        """The best told result so far (None before the first success; with constraints, the
        best feasible one).  With several objectives: use :attr:`best_trials`."""
        if self.spec.objective.is_multi:
            raise UserInputError(
                f"opt.best: {len(self.spec.objective.terms)} objectives have no single best result",
                "use opt.best_trials: the Pareto front (no other result beats one on every "
                "objective)",
            )
        trial = best_trial(self.spec.objective, self._ledger.trials)
        if trial is None or trial.objective is None:
            return None
        return Best(trial.name, {**self.fixed, **trial.parameters}, trial.objective)

    @property
    def best_trials(self) -> list[Best]:
        """The Pareto front of the told results (feasible, not dominated), in ask order, each
        with ``values`` (one per objective); one objective: the results tied at the best."""
        front = pareto_front(self.spec.objective, self._ledger.trials)
        out = []
        for trial in front:
            values = objective_values(self.spec.objective, trial)
            assert values is not None  # the front has every value
            params = {**self.fixed, **trial.parameters}
            out.append(Best(trial.name, params, values[0], values))
        return out

    @property
    def trials(self) -> list[Trial]:
        return self._ledger.trials

    def reports(self, suggestion: Suggestion | str) -> list[tuple[int, float | None]]:
        """``(step, value)`` of each value reported for a suggestion's (first) objective, in
        order (None: reported as unavailable), as stored; a finished one's told value last."""
        sid = suggestion.id if isinstance(suggestion, Suggestion) else str(suggestion)
        return [(o.step, o.value) for o in self._curves.first.get(sid, ())]
