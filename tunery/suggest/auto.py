"""``algorithmName: auto``: tunery picks the algorithm by the search space and the budget.

Not a Katib algorithm (Katib has no such name); the choice is made once, from the spec, and
the same spec always gives the same choice (:func:`choose`), which ``tunery validate`` and
``tunery run --dry-run`` explain (:func:`explain`).

Phases
------
1. **sobol** for the first ``n_initial_points`` trials: one per parameter, at least 10 and at
   most 20, and at most a third of ``maxTrialCount`` (at least 2) when it is smaller, so a small
   budget keeps most of its trials for the model.
2. **the model**, by these rules (measured on ``benchmarks/optimizers/suite.py``, see
   ``docs/benchmarks.md``), in this order:

   * ``cmaes`` for large budgets over high-dimensional numeric spaces: at least
     :data:`CMAES_MIN_DIMS` double/int parameters, no categorical, and more than
     :data:`GP_MAX_TRIALS` trials (or no ``maxTrialCount``);
   * ``tpe`` for large budgets (more than :data:`GP_MAX_TRIALS` trials, or no
     ``maxTrialCount``), for spaces where most parameters are categorical, and for more than
     :data:`GP_MAX_DIMS` dimensions: its cost per suggestion stays flat where a GP's grows;
   * ``bayesianoptimization`` (the GP) otherwise: small budgets on mostly numeric spaces,
     where it was the best of tunery's algorithms at 25 and 100 evaluations.

   With several objectives the same rules pick among the multi-objective algorithms (the GP's
   expected hypervolume improvement for small budgets, MOTPE otherwise): ``cmaes`` refuses
   several objectives, so ``tpe`` takes its place.

Every candidate is checked as the algorithm itself would check the spec
(:func:`tunery.suggest.base.validate_algorithm`): one that refuses the space (e.g. ``cmaes``
on fewer than two numeric parameters, or an algorithm that does not take conditional
parameters) is passed over for the next (``tpe``, then ``random``).

Each trial gets the label :data:`SUGGESTED_BY_LABEL` naming the algorithm that made it
(``sobol``, ``bayesianoptimization``, ...), shown by ``tunery trials`` and the UI's trial page.

Settings: ``n_initial_points`` (an integer ``>= 0``, the sobol phase's length) and
``random_state``.

State: ``{"choice": name, "sobol": <sobol's state>, "model": <the model's state>}``; a
resumed experiment continues the same sequence and the same model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tunery.errors import SpecError
from tunery.history import Entry, History
from tunery.model import (
    AlgorithmSetting,
    AlgorithmSpec,
    Assignment,
    ExperimentSpec,
    ParameterType,
    Trial,
)
from tunery.settings import check_int, check_random_state, resolve_seed, validate_settings
from tunery.suggest.base import Suggester, create_suggester, register, validate_algorithm

__all__ = [
    "SUGGESTED_BY_LABEL",
    "AutoSuggester",
    "Choice",
    "choose",
    "explain",
    "validate",
]

#: The trial label naming the algorithm that suggested the trial.
SUGGESTED_BY_LABEL = "tunery.dev/suggested-by"

#: Above this many trials (or with no maxTrialCount) the model is tpe, not the GP.
GP_MAX_TRIALS = 300
#: Above this many dimensions the GP is passed over for tpe.
GP_MAX_DIMS = 20
#: From this many numeric parameters (and no categorical) cmaes is chosen.
CMAES_MIN_DIMS = 16

_SETTINGS = {
    "n_initial_points": check_int("n_initial_points", 0, 10),
    "random_state": check_random_state,
}


def validate(spec: ExperimentSpec) -> None:
    """``n_initial_points`` and ``random_state`` are the settings."""
    validate_settings(spec, _SETTINGS)


@dataclass(frozen=True)
class Choice:
    """What ``auto`` runs for a spec, and why."""

    #: The algorithm after the sobol phase.
    model: str
    #: How many trials the sobol phase suggests.
    initial: int
    #: The algorithm of the first phase (``sobol``, or ``random`` where sobol refuses).
    starter: str
    #: One sentence: why this model.
    reason: str


def _initial_points(spec: ExperimentSpec, dims: int) -> int:
    text = spec.algorithm.settings_dict().get("n_initial_points")
    if text is not None and text.strip().isdigit():
        return int(text)
    n = min(max(dims, 10), 20)
    budget = spec.max_trial_count
    if budget is not None:
        n = min(n, max(2, budget // 3))
    return n


def _with_algorithm(spec: ExperimentSpec, name: str, **settings: str) -> ExperimentSpec:
    """``spec`` run by algorithm ``name`` with ``settings`` (and auto's random_state)."""
    values = dict(settings)
    seed = spec.algorithm.settings_dict().get("random_state")
    if seed is not None:
        values["random_state"] = seed
    algorithm = AlgorithmSpec(name, tuple(AlgorithmSetting(k, v) for k, v in values.items()))
    return replace(spec, algorithm=algorithm)


def _accepts(spec: ExperimentSpec, name: str) -> bool:
    try:
        validate_algorithm(_with_algorithm(spec, name))
    except SpecError:
        return False
    return True


def _preferred(spec: ExperimentSpec) -> tuple[str, str]:
    """The model the rules pick, and why (before checking that it accepts the space)."""
    params = spec.parameters
    dims = len(params)
    categorical = sum(p.parameter_type is ParameterType.CATEGORICAL for p in params)
    numeric = sum(p.parameter_type in (ParameterType.DOUBLE, ParameterType.INT) for p in params)
    budget = spec.max_trial_count
    budget_text = "no maxTrialCount" if budget is None else f"maxTrialCount {budget}"
    large = budget is None or budget > GP_MAX_TRIALS
    if categorical == 0 and numeric >= CMAES_MIN_DIMS and large:
        return "cmaes", f"{numeric} numeric parameters and {budget_text}: a large search"
    if large:
        return "tpe", f"{budget_text}: a large budget, where tpe's cost per trial stays flat"
    if 2 * categorical > dims:
        return "tpe", f"{categorical} of {dims} parameters are categorical"
    if dims > GP_MAX_DIMS:
        return "tpe", f"{dims} parameters: more than a Gaussian process models well"
    return (
        "bayesianoptimization",
        f"{budget_text} and {dims} mostly numeric parameter{'s' if dims != 1 else ''}: "
        "a small budget, where a Gaussian process does best",
    )


def choose(spec: ExperimentSpec) -> Choice:
    """What ``auto`` runs for ``spec`` (the same spec always gives the same choice)."""
    model, reason = _preferred(spec)
    for fallback in (model, "tpe", "random"):
        if _accepts(spec, fallback):
            if fallback != model:
                reason = f"{reason}; {model} does not accept this space, so {fallback}"
            model = fallback
            break
    starter = "sobol" if _accepts(spec, "sobol") else "random"
    return Choice(model, _initial_points(spec, len(spec.parameters)), starter, reason)


def explain(spec: ExperimentSpec) -> str:
    """One line for ``validate`` and ``run --dry-run``: what auto runs and why."""
    c = choose(spec)
    first = f"{c.starter} for the first {c.initial} trials, then " if c.initial else ""
    return f"algorithm auto: {first}{c.model} ({c.reason})"


def _model_settings(model: str) -> dict[str, str]:
    """The model's own start-up phase is auto's sobol phase: none of its own."""
    if model == "bayesianoptimization":
        return {"n_initial_points": "0"}
    if model == "tpe":
        return {"n_startup_trials": "0"}
    return {}


class AutoSuggester:
    """Sobol first, then the model :func:`choose` picks; labels each trial with its maker."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.choice = choose(spec)
        seed = resolve_seed(spec, seed)
        self.starter: Suggester = create_suggester(_with_algorithm(spec, self.choice.starter), seed)
        model_spec = _with_algorithm(spec, self.choice.model, **_model_settings(self.choice.model))
        self.model: Suggester = create_suggester(model_spec, seed)

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        first = min(count, max(0, self.choice.initial - len(history)))
        made = _labelled(self.starter.suggest(history, first), self.choice.starter)
        rest = count - len(made)
        if rest > 0:
            if made:
                # The model must not repeat what the starter just gave: it sees them pending.
                history = _with_pending(history, made)
            made += _labelled(self.model.suggest(history, rest), self.choice.model)
        return made

    def dump_state(self) -> dict[str, Any] | None:
        return {
            "choice": self.choice.model,
            "sobol": self.starter.dump_state(),
            "model": self.model.dump_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        starter = state.get("sobol")
        if isinstance(starter, dict):
            self.starter.load_state(starter)
        model = state.get("model")
        # A state written for another model (the rules changed between versions) is not
        # this model's: it starts afresh on the stored trials.
        if isinstance(model, dict) and state.get("choice") == self.choice.model:
            self.model.load_state(model)


def _labelled(assignments: list[Assignment], name: str) -> list[Assignment]:
    return [replace(a, labels={**a.labels, SUGGESTED_BY_LABEL: name}) for a in assignments]


def _with_pending(history: History, made: list[Assignment]) -> History:
    """``history`` plus ``made`` as Created trials (the model treats them as pending)."""
    extra = []
    for i, a in enumerate(made):
        trial = Trial(f"auto-pending-{i}", "", -1, dict(a.parameters))
        extra.append(Entry(trial, history.space.try_canonical(a.parameters), None, None, ()))
    return replace(history, entries=history.entries + tuple(extra))


# auto takes every space some algorithm takes (``choose`` checks each candidate against the
# spec), conditional spaces included.
register("auto", AutoSuggester, validate, multi_objective=True, conditional=True)
