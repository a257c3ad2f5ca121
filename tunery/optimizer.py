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
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tunery.errors import UserInputError
from tunery.model import (
    Assignment,
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    MetricSummary,
    Observation,
    ParamValue,
    Trial,
    TrialCondition,
    best_trial,
    objective_value,
)

__all__ = ["Best", "Optimizer", "Suggestion"]

_METRIC = "objective"


@dataclass(frozen=True)
class Suggestion:
    """One configuration to evaluate: ``params`` and the ``id`` to tell its result under.

    ``labels`` carries what the algorithm says about it: hyperband's bracket and rung, pbt's
    generation and parent (whose checkpoint an ask/tell loop should start from).
    """

    id: str
    params: dict[str, ParamValue]
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Best:
    id: str
    params: dict[str, ParamValue]
    value: float


class Optimizer:
    """Ask/tell over a search space with a tunery algorithm."""

    def __init__(
        self,
        parameters: Mapping[str, Any],
        algorithm: str = "bayesianoptimization",
        objective: str = "minimize",
        settings: Mapping[str, Any] | None = None,
        seed: int = 0,
        storage: str | None = None,
        name: str | None = None,
        early_stopping: str | None = None,
        early_stopping_settings: Mapping[str, Any] | None = None,
    ) -> None:
        from tunery.search import split_parameters
        from tunery.spec import parse_document
        from tunery.spec.katib import parameter_to_document
        from tunery.stopping import create_stopper
        from tunery.suggest import create_suggester

        if objective not in ("minimize", "maximize"):
            raise UserInputError(
                f"objective must be 'minimize' or 'maximize', not {objective!r}",
                "pass objective='minimize' or objective='maximize'",
            )
        searched, fixed = split_parameters(parameters)
        self.fixed = fixed
        self.name = name or "ask-tell"
        doc: dict[str, Any] = {
            "apiVersion": "tunery/v1",
            "kind": "Experiment",
            "metadata": {"name": self.name},
            "spec": {
                "objective": {"type": objective, "objectiveMetricName": _METRIC},
                "algorithm": {
                    "algorithmName": algorithm,
                    "algorithmSettings": [
                        {"name": k, "value": str(v)} for k, v in (settings or {}).items()
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
        if early_stopping is not None:
            doc["spec"]["earlyStopping"] = {
                "algorithmName": early_stopping,
                "algorithmSettings": [
                    {"name": k, "value": str(v)} for k, v in (early_stopping_settings or {}).items()
                ],
            }
        elif early_stopping_settings:
            raise UserInputError(
                "early_stopping_settings given without early_stopping",
                "pass early_stopping='medianstop' or 'asha' too",
            )
        self.spec: ExperimentSpec = parse_document(doc)
        self._suggester = create_suggester(self.spec, seed)
        self._stopper = create_stopper(self.spec)
        #: Intermediate values reported per suggestion, in order (what early stopping reads).
        self._curves: dict[str, list[Observation]] = {}
        self._trials: dict[str, Trial] = {}
        #: Configurations :meth:`enqueue` asked for, handed out by ``ask`` first.
        self._queue: list[dict[str, ParamValue]] = []
        self._store: Any = None
        self._owner = ""
        if storage is not None:
            self._open(storage)

    # ------------------------------------------------------------------ persistence

    def _open(self, storage: str) -> None:
        from tunery.controller import default_owner, owner_is_dead
        from tunery.spec import to_document
        from tunery.storage import Store

        if self.name == "ask-tell":
            raise UserInputError("an Optimizer with storage needs a name", "pass name='my-study'")
        store = Store(storage)
        existing = store.find_experiment(self.name)
        now = _now()
        if existing is None:
            store.create_experiment(
                Experiment(
                    name=self.name,
                    spec=self.spec,
                    document=to_document(self.spec),
                    created_time=now,
                    base_dir=os.getcwd(),
                )
            )
            store.set_experiment_status(
                self.name,
                ExperimentCondition.RUNNING,
                "ExperimentRunning",
                "driven by ask/tell",
                start_time=now,
            )
        elif existing.spec != self.spec:
            raise UserInputError(
                f"an experiment named {self.name!r} already exists with another search space, "
                "algorithm or objective",
                "use another name=, or delete it with `tunery delete NAME`",
            )
        self._owner = default_owner()
        store.acquire_lease(self.name, self._owner, now, 3600.0, steal=owner_is_dead)
        self._store = store
        for trial in store.list_trials(self.name):
            self._trials[trial.name] = trial
        for obs in store.get_observations(self.name, metric=_METRIC):
            self._curves.setdefault(obs.trial_name, []).append(obs)
        state = store.load_algorithm_state(self.name)
        if state is not None:
            self._suggester.load_state(state)

    def close(self) -> None:
        """Release the experiment's lease (with storage)."""
        if self._store is not None:
            self._store.release_lease(self.name, self._owner)

    def __enter__(self) -> Optimizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ ask / tell

    def enqueue(self, params: Mapping[str, Any]) -> None:
        """Have a later ``ask`` return this configuration before any the algorithm suggests.

        ``params`` names every searched parameter with a feasible value (fixed values may be
        left out); it is checked now: a value off the space or its step is a UserInputError.
        """
        from tunery.space import SearchSpace

        searched = {k: v for k, v in params.items() if k not in self.fixed}
        self._queue.append(SearchSpace.from_spec(self.spec).normalize(searched))

    def ask(self, n: int | None = None) -> Any:
        """One :class:`Suggestion`, or a list of ``n`` (fewer when the space is exhausted)."""
        count = 1 if n is None else n
        if count < 1:
            raise UserInputError(f"ask(n) needs n >= 1, not {n}")
        queued = [Assignment(p) for p in self._queue[:count]]
        del self._queue[:count]
        # Enqueued configurations start first, so the algorithm's share of the batch sees
        # them in flight (and neither repeats nor crowds them).
        out = [self._start(assignment) for assignment in queued]
        if len(queued) < count:
            history = list(self._trials.values())
            for assignment in self._suggester.suggest(history, count - len(queued)):
                out.append(self._start(assignment))
        if not out and n is None:
            raise UserInputError(
                "the search space is exhausted: every configuration has been suggested",
                "read opt.best, or widen the search space",
            )
        if self._store is not None:
            state = self._suggester.dump_state()
            if state is not None:
                self._store.save_algorithm_state(self.name, state)
        return out[0] if n is None else out

    def _start(self, assignment: Assignment) -> Suggestion:
        """A new running trial of ``assignment`` (stored when the optimizer persists)."""
        index = len(self._trials) + 1
        now = _now()
        trial = Trial(
            name=f"{self.name}-{index:04d}",
            experiment=self.name,
            index=index,
            parameters=dict(assignment.parameters),
            status=TrialCondition.RUNNING,
            labels=dict(assignment.labels),
            created_time=now,
            start_time=now,
        )
        self._trials[trial.name] = trial
        if self._store is not None:
            self._store.create_trial(replace(trial, status=TrialCondition.CREATED))
            self._store.update_trial(
                self.name,
                trial.name,
                expect=[TrialCondition.CREATED],
                status=TrialCondition.RUNNING,
                start_time=now,
            )
        return Suggestion(trial.name, {**self.fixed, **trial.parameters}, dict(trial.labels))

    def _running(self, suggestion: Suggestion | str, verb: str) -> Trial:
        sid = suggestion.id if isinstance(suggestion, Suggestion) else suggestion
        trial = self._trials.get(sid)
        if trial is None:
            raise UserInputError(
                f"unknown suggestion {sid!r}", f"{verb}() takes what ask() returned"
            )
        if trial.status is not TrialCondition.RUNNING:
            raise UserInputError(f"suggestion {sid!r} was already told ({trial.status.value})")
        return trial

    def report(self, suggestion: Suggestion | str, value: float, step: int | None = None) -> None:
        """Record an intermediate objective ``value`` at ``step`` (default: the report's number).

        A NaN or infinite value is kept as unavailable, as a trial's garbage line would be.
        """
        trial = self._running(suggestion, "report")
        curve = self._curves.setdefault(trial.name, [])
        at = len(curve) if step is None else int(step)
        number = float(value)
        kept = number if math.isfinite(number) else None
        obs = Observation(trial.name, _METRIC, kept, at, _now())
        curve.append(obs)
        metrics = dict(trial.metrics)
        metrics[_METRIC] = metrics.get(_METRIC, MetricSummary()).add(kept)
        if self._store is not None:
            self._store.add_observations(
                self.name, trial.name, [obs], metrics=metrics, cursor=trial.cursor
            )
        self._trials[trial.name] = replace(trial, metrics=metrics)

    def should_stop(
        self, suggestion: Suggestion | str, step: int | None = None, value: float | None = None
    ) -> bool:
        """Whether the experiment's early stopping stops this suggestion now.

        With ``value``, first :meth:`report` it at ``step``.  When the answer is True the
        suggestion is finished as ``EarlyStopped`` with the reason and its value so far (under
        the objective's metric strategy, like any trial's); do not ``tell`` it afterwards.
        Without early stopping configured the answer is always False.
        """
        if value is not None:
            self.report(suggestion, value, step)
        trial = self._running(suggestion, "should_stop")
        if self._stopper is None:
            return False
        reason = self._stopper.decide(list(self._trials.values()), self._curves).get(trial.name)
        if reason is None:
            return False
        changes: dict[str, Any] = {
            "status": TrialCondition.EARLY_STOPPED,
            "reason": "TrialEarlyStopped",
            "message": reason,
            "objective": objective_value(self.spec.objective, trial.metrics),
            "completion_time": _now(),
        }
        if self._store is not None:
            self._store.update_trial(
                self.name, trial.name, expect=[TrialCondition.RUNNING], **changes
            )
        self._trials[trial.name] = replace(trial, **changes)
        return True

    def tell(
        self, suggestion: Suggestion | str, value: float | None = None, *, failed: bool = False
    ) -> None:
        """Record the objective ``value`` of a suggestion (None, NaN or ``failed``: a failure)."""
        trial = self._running(suggestion, "tell")
        sid = trial.name
        number = None if value is None else float(value)
        ok = not failed and number is not None and math.isfinite(number)
        now = _now()
        metrics = dict(trial.metrics)
        if number is not None:
            metrics[_METRIC] = metrics.get(_METRIC, MetricSummary()).add(number)
        changes: dict[str, Any] = {
            "status": TrialCondition.SUCCEEDED if ok else TrialCondition.FAILED,
            "reason": "TrialSucceeded" if ok else "TrialFailed",
            "objective": number if ok else None,
            "metrics": metrics,
            "completion_time": now,
        }
        if self._store is not None:
            step = len(self._curves.get(sid, ()))
            obs = (
                [Observation(sid, _METRIC, number if ok else None, step, now)]
                if number is not None
                else []
            )
            self._store.update_trial(
                self.name, sid, expect=[TrialCondition.RUNNING], observations=obs, **changes
            )
        self._trials[sid] = replace(trial, **changes)

    @property
    def best(self) -> Best | None:
        """The best told result so far (None before the first success)."""
        trial = best_trial(self.spec.objective, list(self._trials.values()))
        if trial is None or trial.objective is None:
            return None
        return Best(trial.name, {**self.fixed, **trial.parameters}, trial.objective)

    @property
    def trials(self) -> list[Trial]:
        return list(self._trials.values())


def _now() -> float:
    return datetime.now(UTC).timestamp()
