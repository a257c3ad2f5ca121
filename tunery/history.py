"""What a search algorithm or an early stopper sees of an experiment: a read-only :class:`History`.

The controller (and the ask/tell ``Optimizer``) builds one from its trials whenever it asks an
algorithm something, and hands it to ``Suggester.suggest(history, count)`` and
``EarlyStopper.decide(history)``.  It is the one definition of "observed", "in flight",
"failed" and "tried" that every algorithm shares, so an algorithm writes only its algorithm.

Invariants (what an algorithm may assume)
-----------------------------------------
- ``entries`` holds every trial once, in the order given (the experiment's creation order), each
  as an :class:`Entry` ``(trial, key, loss)``.
- ``key`` is the trial's canonical key in ``space`` (see :mod:`tunery.space`), or None when its
  parameters lie outside the space (a trial created by other means, or a parameter an algorithm
  adds, such as hyperband's resource).
- ``loss`` is the trial's objective value signed for minimisation (the value for ``minimize``,
  its negation for ``maximize``), and None when the trial has no finite objective value
  (none yet, NaN or infinite).  Lower is better, always; no algorithm looks at the objective's
  type again.
- ``losses`` is one loss per objective (each signed as ``loss`` is), None when any is missing
  or not finite; with one objective it is ``(loss,)`` or None.  With several objectives,
  ``loss`` is ``losses[0]`` (None when ``losses`` is None), so an observed entry has every loss.
- ``constraints`` is one number per constraint bound, ``<= 0`` when satisfied (``value - max``
  for a max bound, ``min - value`` for a min bound; a constraint with both bounds gives two, min
  first), ``()`` when the experiment has no constraints, None when a constraint's metric has no
  finite value (then the entry is not ``feasible``).  ``n_objectives``/``n_constraints`` give
  the lengths.
- The partitions split ``entries`` by status, each in the order of ``entries``:
  ``completed`` (Succeeded, EarlyStopped), ``active`` (Created, Running), ``failed`` (Failed,
  MetricsUnavailable) and ``killed``.  Every entry is in exactly one of them.
- ``observed`` is what a model learns from: the completed entries with a key and a loss.
  Warm-start seeds (results known before the experiment, :mod:`tunery.warmstart`) are
  Succeeded trials like any other, hence observed; ``tunery.model.is_seed`` tells them apart
  (reason ``WarmStarted``, never run) for an algorithm that must (cmaes starts from them).
- ``tried_keys`` is the set of keys of every entry with a key, whatever its status: what a
  suggester must not suggest again.
- ``curves`` maps a trial name to its objective metric's observations in the order reported
  (each with its step), for early stoppers; a trial without any maps to nothing.  A curve may be
  thinned in place between two histories (see :mod:`tunery.thinning`).  With several objectives
  (or constraints) ``curves_of(metric)`` gives each objective's and constraint's metric's curves
  in the same shape (``metric_curves`` holds them all, by metric); ``curves`` is always
  ``curves_of`` the first objective's metric.
- A History is never changed after it is built, and an algorithm must not change what it holds
  (the trials, the curves, the sets).  The partitions are computed on first use.

Building one costs a dictionary look-up per trial when a :class:`HistoryBuilder` is kept across
calls (the controller keeps one per experiment, and the space's key cache with it).  A builder
told of every new or changed trial (:meth:`HistoryBuilder.put`, as the ask/tell ``Optimizer``
does) builds one without looking at the unchanged trials at all (:meth:`HistoryBuilder.current`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import NamedTuple

from tunery.model import (
    ExperimentSpec,
    Objective,
    ObjectiveType,
    Observation,
    Trial,
    TrialCondition,
)
from tunery.objectives import objective_losses, violations
from tunery.space import Key, SearchSpace

__all__ = ["Entry", "History", "HistoryBuilder"]

_COMPLETED = frozenset({TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED})
_ACTIVE = frozenset({TrialCondition.CREATED, TrialCondition.RUNNING})
_FAILED = frozenset({TrialCondition.FAILED, TrialCondition.METRICS_UNAVAILABLE})


class Entry(NamedTuple):
    """One trial as an algorithm sees it (see the module docstring for ``key``, ``loss``,
    ``losses`` and ``constraints``)."""

    trial: Trial
    key: Key | None
    loss: float | None
    losses: tuple[float, ...] | None = None
    constraints: tuple[float, ...] | None = ()

    @property
    def feasible(self) -> bool:
        """Every constraint known and satisfied (True with no constraints)."""
        return self.constraints is not None and all(v <= 0 for v in self.constraints)

    @property
    def completed(self) -> bool:
        """Succeeded or EarlyStopped."""
        return self.trial.status in _COMPLETED

    @property
    def observed(self) -> bool:
        """Completed with a finite objective value (whether or not it has a key)."""
        return self.loss is not None and self.trial.status in _COMPLETED


def _sign(objective: Objective) -> float:
    return -1.0 if objective.type is ObjectiveType.MAXIMIZE else 1.0


_new_entry = tuple.__new__
_NO_CONSTRAINTS: tuple[float, ...] = ()

_NO_CURVES: Mapping[str, Sequence[Observation]] = MappingProxyType({})


def _curves(
    metric: str,
    curves: Mapping[str, Sequence[Observation]] | None,
    metric_curves: Mapping[str, Mapping[str, Sequence[Observation]]] | None,
) -> tuple[Mapping[str, Sequence[Observation]], Mapping[str, Mapping[str, Sequence[Observation]]]]:
    """``(curves, metric_curves)`` of a History whose first objective's metric is ``metric``."""
    if metric_curves is None:
        first = {} if curves is None else curves
        return first, {metric: first}
    if curves is None:
        return metric_curves.get(metric, {}), metric_curves
    if metric_curves.get(metric) is curves:
        return curves, metric_curves
    return curves, {**metric_curves, metric: curves}


def _entry(trial: Trial, space: SearchSpace, sign: float, objective: Objective) -> Entry:
    if objective.is_multi:
        losses = objective_losses(objective, trial)
        loss = losses[0] if losses is not None else None
    else:
        value = trial.objective
        loss = sign * value if value is not None and math.isfinite(value) else None
        losses = None if loss is None else (loss,)
    found = violations(objective, trial) if objective.constraints else _NO_CONSTRAINTS
    # (tuple.__new__ directly: a NamedTuple's own __new__ costs twice as much per trial.)
    return _new_entry(Entry, (trial, space.key_of(trial), loss, losses, found))


def _bounds(objective: Objective) -> int:
    return sum((c.min is not None) + (c.max is not None) for c in objective.constraints)


@dataclass(frozen=True, eq=False)
class History:
    """The trials of an experiment, split once for every algorithm (see the module docstring)."""

    space: SearchSpace
    entries: tuple[Entry, ...]
    #: 1.0 for ``minimize``, -1.0 for ``maximize``: ``loss == sign * objective``.
    sign: float = 1.0
    curves: Mapping[str, Sequence[Observation]] = field(default_factory=dict)
    #: How many objectives (the length of every entry's ``losses``).
    n_objectives: int = 1
    #: How many constraint bounds (the length of every entry's ``constraints`` but None).
    n_constraints: int = 0
    #: metric -> trial name -> that metric's observations (every objective's and constraint's
    #: metric the builder was given; :meth:`curves_of` reads it).
    metric_curves: Mapping[str, Mapping[str, Sequence[Observation]]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        trials: Iterable[Trial],
        space: SearchSpace,
        objective: Objective,
        curves: Mapping[str, Sequence[Observation]] | None = None,
        *,
        metric_curves: Mapping[str, Mapping[str, Sequence[Observation]]] | None = None,
    ) -> History:
        """The history of ``trials`` (in their order) over ``space``.

        ``curves`` are the first objective's metric's, ``metric_curves`` every metric's (by
        metric); either may be given, ``curves`` wins for the first objective's metric.  Keys
        come from the space's key cache; keep a :class:`HistoryBuilder` to reuse the entries
        of unchanged trials across calls as well.
        """
        sign = _sign(objective)
        entries = tuple(_entry(trial, space, sign, objective) for trial in trials)
        first, by_metric = _curves(objective.objective_metric_name, curves, metric_curves)
        return cls(
            space,
            entries,
            sign,
            first,
            len(objective.terms),
            _bounds(objective),
            by_metric,
        )

    @classmethod
    def from_spec(
        cls,
        spec: ExperimentSpec,
        trials: Iterable[Trial],
        curves: Mapping[str, Sequence[Observation]] | None = None,
        *,
        metric_curves: Mapping[str, Mapping[str, Sequence[Observation]]] | None = None,
    ) -> History:
        """:meth:`build` over a space made from ``spec`` (for one-off callers and tests)."""
        return cls.build(
            trials,
            SearchSpace.from_spec(spec),
            spec.objective,
            curves,
            metric_curves=metric_curves,
        )

    def __len__(self) -> int:
        """How many trials there are (any status, in the space or not)."""
        return len(self.entries)

    def curves_of(self, metric: str) -> Mapping[str, Sequence[Observation]]:
        """Trial name -> ``metric``'s observations in the order reported (as :attr:`curves`).

        Empty for a metric whose curves were not gathered (the controller gathers those of
        every objective and constraint when early stopping is on).
        """
        return self.metric_curves.get(metric, _NO_CURVES)

    @cached_property
    def trials(self) -> tuple[Trial, ...]:
        """Every trial, in order."""
        return tuple(e.trial for e in self.entries)

    @cached_property
    def completed(self) -> tuple[Entry, ...]:
        """Succeeded and EarlyStopped trials (with or without a loss or a key)."""
        return tuple(e for e in self.entries if e.trial.status in _COMPLETED)

    @cached_property
    def observed(self) -> tuple[Entry, ...]:
        """Completed trials with a key and a loss: what a model learns from."""
        return tuple(e for e in self.completed if e.loss is not None and e.key is not None)

    @cached_property
    def active(self) -> tuple[Entry, ...]:
        """Created and Running trials (in flight)."""
        return tuple(e for e in self.entries if e.trial.status in _ACTIVE)

    @cached_property
    def running(self) -> tuple[Entry, ...]:
        """Running trials: the only ones an early stopper may stop."""
        return tuple(e for e in self.active if e.trial.status is TrialCondition.RUNNING)

    @cached_property
    def running_trials(self) -> tuple[Trial, ...]:
        """The trials of :attr:`running`."""
        return tuple(e.trial for e in self.running)

    @cached_property
    def failed(self) -> tuple[Entry, ...]:
        """Failed and MetricsUnavailable trials."""
        return tuple(e for e in self.entries if e.trial.status in _FAILED)

    @cached_property
    def killed(self) -> tuple[Entry, ...]:
        """Killed trials."""
        return tuple(e for e in self.entries if e.trial.status is TrialCondition.KILLED)

    @cached_property
    def tried_keys(self) -> frozenset[Key]:
        """The keys of every trial in the space, whatever its status."""
        return frozenset(e.key for e in self.entries if e.key is not None)


class HistoryBuilder:
    """Builds the :class:`History` of one experiment again and again, cheaply.

    An entry is reused while its trial is the same object (trials are frozen: a changed trial
    is a new object), so a build costs one dictionary look-up per unchanged trial.
    """

    def __init__(self, space: SearchSpace, objective: Objective) -> None:
        self.space = space
        self.objective = objective
        self.sign = _sign(objective)
        #: The first objective's metric: ``History.curves`` are its curves.
        self.metric = objective.objective_metric_name
        self._entries: dict[str, Entry] = {}
        #: What :meth:`put` keeps: the entries in order, each one's position, the tried keys.
        self._kept: list[Entry] = []
        self._position: dict[str, int] = {}
        self._tried: set[Key] = set()

    def build(
        self,
        trials: Iterable[Trial],
        curves: Mapping[str, Sequence[Observation]] | None = None,
        *,
        metric_curves: Mapping[str, Mapping[str, Sequence[Observation]]] | None = None,
    ) -> History:
        """The history of ``trials`` (in their order), with ``curves`` for early stoppers.

        ``metric_curves``: every gathered metric's curves, by metric (see :meth:`History.build`).
        """
        cache = self._entries
        space, sign, objective = self.space, self.sign, self.objective
        entries: list[Entry] = []
        append = entries.append
        for trial in trials:
            entry = cache.get(trial.name)
            if entry is None or entry.trial is not trial:
                entry = cache[trial.name] = _entry(trial, space, sign, objective)
            append(entry)
        if len(cache) > 2 * len(entries) + 64:
            names = {e.trial.name for e in entries}
            for name in [n for n in cache if n not in names]:
                del cache[name]
        first, by_metric = _curves(self.metric, curves, metric_curves)
        return History(
            space,
            tuple(entries),
            sign,
            first,
            len(objective.terms),
            _bounds(objective),
            by_metric,
        )

    def put(self, trial: Trial) -> None:
        """Take a new trial (after every earlier one) or a new version of one it has.

        Costs the same whatever the number of trials; :meth:`current` is then their history.
        (A trial's parameters, hence its key, never change.)
        """
        entry = _entry(trial, self.space, self.sign, self.objective)
        at = self._position.get(trial.name)
        if at is None:
            self._position[trial.name] = len(self._kept)
            self._kept.append(entry)
            if entry.key is not None:
                self._tried.add(entry.key)
        else:
            self._kept[at] = entry

    def current(
        self,
        curves: Mapping[str, Sequence[Observation]] | None = None,
        *,
        metric_curves: Mapping[str, Mapping[str, Sequence[Observation]]] | None = None,
    ) -> History:
        """The history of the trials given to :meth:`put`, in the order they came.

        The same History :meth:`build` makes of them, with ``tried_keys`` already known (a
        copy of a set: no per-trial work in Python).
        """
        first, by_metric = _curves(self.metric, curves, metric_curves)
        history = History(
            self.space,
            tuple(self._kept),
            self.sign,
            first,
            len(self.objective.terms),
            _bounds(self.objective),
            by_metric,
        )
        history.__dict__["tried_keys"] = frozenset(self._tried)
        return history
