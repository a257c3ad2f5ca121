"""The suggester protocol and the registry of algorithms by Katib name.

A suggester is data in, data out: it sees the experiment spec, a read-only
:class:`~tunery.history.History` of the trials and an optional JSON state blob, and returns
assignments.  It never touches storage, executors or
the clock.  ``suggest`` must be deterministic for a given seed, history and state.

Returning fewer assignments than asked means the algorithm has nothing more to offer right
now; returning none while no trial is running ends the experiment with
``ExperimentSuggestionEndReached``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import NAS_ALGORITHMS, Assignment, ExperimentSpec


class Suggester(Protocol):
    """What the controller needs of a search algorithm."""

    def suggest(self, history: History, count: int) -> list[Assignment]:
        """Up to ``count`` new assignments given every trial so far (any status)."""
        ...

    def dump_state(self) -> dict[str, Any] | None:
        """JSON-serialisable state to persist, or None when stateless."""
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``dump_state`` returned."""
        ...


class AlgorithmNotAvailableError(SpecError):
    """A valid Katib algorithm name that this version of tunery cannot run yet."""


#: A factory builds a suggester from a validated spec and a seed.
SuggesterFactory = Callable[[ExperimentSpec, "int | None"], Suggester]
#: A validator raises SpecError naming ``spec.algorithm.algorithmSettings[i]`` on bad settings.
SettingsValidator = Callable[[ExperimentSpec], None]

_FACTORIES: dict[str, tuple[SuggesterFactory, SettingsValidator]] = {}

#: Where each built-in algorithm lives; imported on first use.
_BUILTIN_MODULES: dict[str, str] = {
    "random": "tunery.suggest.random",
    "grid": "tunery.suggest.grid",
    "sobol": "tunery.suggest.sobol",
    "bayesianoptimization": "tunery.suggest.gp",
    "tpe": "tunery.suggest.tpe",
    "multivariate-tpe": "tunery.suggest.tpe",
    "cmaes": "tunery.suggest.cmaes",
    "hyperband": "tunery.suggest.hyperband",
    "pbt": "tunery.suggest.pbt",
    "nsga2": "tunery.suggest.nsga2",
    "auto": "tunery.suggest.auto",
    "enas": "tunery.suggest.enas",
    "darts": "tunery.suggest.darts",
}

#: Katib's algorithm names that a later version of tunery implements.
KATIB_ALGORITHMS = (
    "random",
    "grid",
    "sobol",
    "tpe",
    "multivariate-tpe",
    "bayesianoptimization",
    "cmaes",
    "hyperband",
    "pbt",
    "enas",
    "darts",
)


#: The algorithms registered as able to tune several objectives.
_MULTI_OBJECTIVE: set[str] = set()
#: The algorithms registered as able to search conditional parameters (``activeWhen``).
_CONDITIONAL: set[str] = set()
#: Why a built-in algorithm refuses conditional parameters (said in its validation error).
_NOT_CONDITIONAL_BECAUSE = {
    "cmaes": "it evolves one continuous vector of every parameter",
    "pbt": "its population exploits and perturbs one fixed set of parameters",
}


def register(
    name: str,
    factory: SuggesterFactory,
    validator: SettingsValidator,
    *,
    multi_objective: bool = False,
    conditional: bool = False,
) -> None:
    """Register an algorithm under its Katib name.

    ``multi_objective``: it can tune several objectives (it reads ``History.n_objectives`` and
    ``Entry.losses``, or samples without looking at results); the others refuse a
    multi-objective experiment at validation.  Every algorithm accepts constraints: feasibility
    always decides "best", whether or not the algorithm models it.

    ``conditional``: it searches conditional parameters (``ParameterSpec.active_when``): it
    suggests only active parameters (:class:`tunery.conditions.ConditionalSpace`) and its model,
    if any, handles inactive ones; the others refuse such a space at validation.
    """
    _FACTORIES[name] = (factory, validator)
    for flag, names in ((multi_objective, _MULTI_OBJECTIVE), (conditional, _CONDITIONAL)):
        if flag:
            names.add(name)
        else:
            names.discard(name)


def multi_objective_algorithms() -> list[str]:
    """The algorithms that can tune several objectives (built-ins in their order, then others)."""
    names = available()
    order = {name: i for i, name in enumerate(_BUILTIN_MODULES)}
    return sorted(
        (n for n in names if n in _MULTI_OBJECTIVE), key=lambda n: (order.get(n, len(order)), n)
    )


def conditional_algorithms() -> list[str]:
    """The algorithms that can search conditional parameters (built-ins first, in order)."""
    names = available()
    order = {name: i for i, name in enumerate(_BUILTIN_MODULES)}
    return sorted(
        (n for n in names if n in _CONDITIONAL), key=lambda n: (order.get(n, len(order)), n)
    )


def _load(name: str) -> tuple[SuggesterFactory, SettingsValidator] | None:
    if name not in _FACTORIES and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    return _FACTORIES.get(name)


def available() -> list[str]:
    """Names of the algorithms this installation can run."""
    for name in _BUILTIN_MODULES:
        _load(name)
    return sorted(_FACTORIES)


def validate_algorithm(spec: ExperimentSpec) -> None:
    """Katib's ValidateAlgorithmSettings: the name must exist and its settings be valid."""
    name = spec.algorithm.algorithm_name
    entry = _load(name)
    if entry is None:
        if name in NAS_ALGORITHMS:
            raise AlgorithmNotAvailableError(
                "spec.algorithm.algorithmName",
                f"spec.nasConfig is valid, but Katib's neural architecture search algorithm "
                f"{name!r} does not run yet in this version of tunery (issue 21)",
                "run this experiment on Katib for now",
            )
        if name in KATIB_ALGORITHMS:
            raise AlgorithmNotAvailableError(
                "spec.algorithm.algorithmName",
                f"algorithm {name!r} is a Katib algorithm this version of tunery does not run yet",
                f"use one of: {', '.join(available())}",
            )
        raise SpecError(
            "spec.algorithm.algorithmName",
            f"unknown algorithm {name!r}",
            f"use one of: {', '.join(available())}",
        )
    terms = len(spec.objective.terms)
    if terms > 1 and name not in _MULTI_OBJECTIVE:
        raise SpecError(
            "spec.algorithm.algorithmName",
            f"algorithm {name} cannot tune {terms} objectives",
            f"use one of: {', '.join(multi_objective_algorithms())}",
        )
    if name not in _CONDITIONAL and any(p.active_when for p in spec.parameters):
        because = _NOT_CONDITIONAL_BECAUSE.get(name)
        raise SpecError(
            "spec.algorithm.algorithmName",
            f"algorithm {name} cannot search conditional parameters (activeWhen)"
            + (f": {because}" if because else ""),
            f"use one of: {', '.join(conditional_algorithms())}",
        )
    entry[1](spec)


def create_suggester(spec: ExperimentSpec, seed: int | None = None) -> Suggester:
    """Build the suggester the spec names (validating its settings first)."""
    validate_algorithm(spec)
    entry = _load(spec.algorithm.algorithm_name)
    assert entry is not None  # validate_algorithm raised otherwise
    return entry[0](spec, seed)


def setting_path(spec: ExperimentSpec, name: str) -> str:
    """The YAML path of an algorithm setting, for error messages."""
    for i, s in enumerate(spec.algorithm.algorithm_settings):
        if s.name == name:
            return f"spec.algorithm.algorithmSettings[{i}]"
    return "spec.algorithm.algorithmSettings"
