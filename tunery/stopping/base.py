"""The early-stopping protocol and the registry of early stoppers by Katib name.

An early stopper is data in, data out: it sees a read-only :class:`~tunery.history.History`
(every trial, and the learning curves of the objective and constraint metrics), and names the
running trials to stop now, each with a human-readable reason.  It never touches storage,
executors or the clock.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import ExperimentSpec


class EarlyStopper(Protocol):
    """What the controller needs of an early-stopping rule."""

    def decide(self, history: History) -> dict[str, str]:
        """``{trial name: reason}`` for running trials that should stop now.

        ``history.curves`` maps a trial name to its objective-metric observations in the order they
        were reported (each with its step); trials of every status are present.  With several
        objectives or constraints, ``history.curves_of(metric)`` gives each objective's and
        constraint's metric's curves in the same shape.
        """
        ...


StopperFactory = Callable[[ExperimentSpec], EarlyStopper]
StopperValidator = Callable[[ExperimentSpec], None]

_FACTORIES: dict[str, tuple[StopperFactory, StopperValidator]] = {}
_BUILTIN_MODULES: dict[str, str] = {
    "medianstop": "tunery.stopping.median",
    "asha": "tunery.stopping.asha",
}


def register(name: str, factory: StopperFactory, validator: StopperValidator) -> None:
    """Register an early stopper under its Katib name."""
    _FACTORIES[name] = (factory, validator)


def _load(name: str) -> tuple[StopperFactory, StopperValidator] | None:
    if name not in _FACTORIES and name in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as exc:
            if exc.name != _BUILTIN_MODULES[name]:
                raise
    return _FACTORIES.get(name)


def available() -> list[str]:
    """Names of the early stoppers this installation can run."""
    for name in _BUILTIN_MODULES:
        _load(name)
    return sorted(_FACTORIES)


def validate_stopper(spec: ExperimentSpec) -> None:
    """The early stopper must exist and its settings be valid (SpecError naming the setting)."""
    if spec.early_stopping is None:
        return
    name = spec.early_stopping.algorithm_name
    entry = _load(name)
    if entry is None:
        raise SpecError(
            "spec.earlyStopping.algorithmName",
            f"unknown early stopping algorithm {name!r}",
            f"use one of: {', '.join(available()) or 'none'}",
        )
    entry[1](spec)


def create_stopper(spec: ExperimentSpec) -> EarlyStopper | None:
    """The early stopper the spec asks for, or None when it asks for none."""
    if spec.early_stopping is None:
        return None
    name = spec.early_stopping.algorithm_name
    entry = _load(name)
    if entry is None:
        raise SpecError(
            "spec.earlyStopping.algorithmName",
            f"early stopping {name!r} is not available in this installation",
            f"use one of: {', '.join(available()) or 'none'}",
        )
    entry[1](spec)
    return entry[0](spec)
