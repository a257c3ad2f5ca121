"""Katib's ``pbt`` algorithm: Population Based Training with checkpoints handed down.

Katib runs it in ``pkg/suggestion/v1beta1/pbt/service.py``.  Settings (Katib's
``ValidateAlgorithmSettings``):

- ``suggestion_trial_dir`` (required): the directory where a trial finds its checkpoint.  In
  Katib it is a volume mounted into the trial's container, one sub-directory per trial;
- ``n_population`` (required): an integer ``>= 5`` (at most 100,000: tunery's bound), the
  members of each generation;
- ``truncation_threshold`` (required): in ``[0, 1]``, the fraction of each generation replaced;
- ``resample_probability`` (optional): in ``[0, 1]``; absent, explored values are perturbed by
  ``x0.8`` or ``x1.2``; present, each value is redrawn from its distribution with that
  probability (and kept otherwise);
- ``random_state`` (tunery's own, like its other algorithms): the seed.

Other names are refused (Katib's pbt service ignores them; tunery refuses unknown settings for
every algorithm, so a typo never goes unnoticed).

Generations
-----------
Generation 0 is ``n_population`` random members (distinct where the space allows).  When every
member of generation ``g`` has finished (any terminal condition), generation ``g + 1`` is built
by truncation selection: members are ranked by their objective (the experiment's direction;
failed, MetricsUnavailable and other members without an objective rank last); the bottom
``truncation_threshold`` fraction (``floor(n * threshold)`` members) is replaced by children of
members drawn at random from the top fraction of the same size (**exploit**: the child starts
from that member's checkpoint with its values, then **explore**: perturb or resample them).
Every other member continues from its *own* checkpoint with its own values.  Member ``i`` of a
generation takes slot ``i`` of the next one.

Each suggestion carries Katib's labels ``pbt.suggestion.katib.kubeflow.org/generation`` and (from
generation 1 on) ``pbt.suggestion.katib.kubeflow.org/parent``: the name of the trial whose
checkpoint it starts from, also given as the assignment's typed ``parent``.  The suggester only
names the parent: :mod:`tunery.launch` gives each trial its checkpoint directory, and the
executor copies the parent's into it before the trial starts
(:meth:`~tunery.execute.base.Executor.prepare_checkpoint`).

Differences from Katib
----------------------
- Katib perturbs *every* member that is not in the bottom fraction and gives the exploiting
  child of a replaced member that replaced member as its parent (so the child starts from the
  bad member's checkpoint with the good member's values).  tunery does classic PBT (Jaderberg
  et al., 2017): the good members continue unchanged, and an exploiting child starts from the
  checkpoint of the member it copies.
- Katib re-queues a Failed or Killed trial with the same values; tunery ranks it last (so it is
  replaced when it falls in the bottom fraction).
- Katib perturbs an ``int`` as ``int(value * factor)`` and a stepped ``double`` off its step;
  tunery rounds to the nearest value on the parameter's step (moving at least one step when the
  factor would leave the value unchanged) and clips to ``[min, max]``.  A ``discrete`` value
  moves to a numeric neighbour; a ``categorical`` one to the next or previous entry of the list
  (wrapping around, as Katib does).
- Katib's ``resample_probability`` check compares a string with a number and so refuses every
  value; tunery checks it as documented.

Resuming
--------
The suggester is stateless: the generation and the position in it are read from the history's
labels, and each generation's plan is drawn from a stream seeded by ``(seed, generation)``.  A
controller killed between creating trials and saving anything resumes without duplicates or
gaps.  PBT reuses parameter values across generations by design (the no-duplicate rule of the
other algorithms does not apply).

This module touches no file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunery.errors import SpecError
from tunery.history import Entry, History
from tunery.model import (
    PARENT_LABEL,
    Assignment,
    ExperimentSpec,
    ParameterType,
    Trial,
)
from tunery.settings import (
    INTEGER,
    check_random_state,
    parse_fraction,
    resolve_seed,
    validate_settings,
)
from tunery.space import Key, SearchSpace
from tunery.suggest.base import register

__all__ = [
    "GENERATION_LABEL",
    "PARENT_LABEL",
    "PbtSettings",
    "PbtSuggester",
    "generation_of",
    "parse_settings",
    "validate",
]

log = logging.getLogger(__name__)

#: Katib's label: the generation of a trial ("0", "1", ...).
GENERATION_LABEL = "pbt.suggestion.katib.kubeflow.org/generation"
#: The setting naming the checkpoint directory as the trial sees it.
TRIAL_DIR_SETTING = "suggestion_trial_dir"
#: Katib's smallest population.
MIN_POPULATION = 5
#: tunery's largest population (a generation is planned whole on every suggest).
MAX_POPULATION = 100_000
#: Katib's perturbation factors.
PERTURB_FACTORS = (0.8, 1.2)

_REQUIRED = ("suggestion_trial_dir", "n_population", "truncation_threshold")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class PbtSettings:
    suggestion_trial_dir: str
    n_population: int
    truncation_threshold: float
    resample_probability: float | None = None


def _check_trial_dir(value: str) -> tuple[str, str] | None:
    if not value.strip():
        return (
            "suggestion_trial_dir must name a directory",
            'give the path where trials read their checkpoint, e.g. "/var/log/katib/checkpoints/"',
        )
    if not value.strip().strip("/"):
        return (
            "suggestion_trial_dir must not be the root directory",
            'use a directory of its own, e.g. "/var/log/katib/checkpoints/"',
        )
    return None


def _check_population(value: str) -> tuple[str, str] | None:
    if not INTEGER.match(value.strip()):
        return (
            f"Param(n_population) should be an integer, not {value!r}",
            'give a whole number >= 5, e.g. value: "40"',
        )
    if int(value) < MIN_POPULATION:
        return (
            f"Param(n_population) should be >= {MIN_POPULATION}, not {value}",
            'give a whole number >= 5, e.g. value: "40"',
        )
    if int(value) > MAX_POPULATION:
        return (
            f"Param(n_population) should be at most {MAX_POPULATION}, not {value.strip()}",
            'give a whole number from 5 to 100000, e.g. value: "40"',
        )
    return None


def _check_threshold(value: str) -> tuple[str, str] | None:
    if parse_fraction(value) is None:
        return (
            f"Param(truncation_threshold) should be between 0 and 1, inclusive, not {value!r}",
            'e.g. value: "0.2" (the bottom 20% of each generation is replaced)',
        )
    return None


def _check_resample(value: str) -> tuple[str, str] | None:
    if parse_fraction(value) is None:
        return (
            "Param(resample_probability) should be null to perturb at 0.8 or 1.2, or be "
            f"between 0 and 1, inclusive, to resample, not {value!r}",
            'e.g. value: "0.25", or remove the setting to perturb values by x0.8 / x1.2',
        )
    return None


def parse_settings(spec: ExperimentSpec) -> PbtSettings:
    """Katib's ``ValidateAlgorithmSettings`` for pbt; SpecError naming the setting at fault."""
    validate_settings(
        spec,
        {
            "suggestion_trial_dir": _check_trial_dir,
            "n_population": _check_population,
            "truncation_threshold": _check_threshold,
            "resample_probability": _check_resample,
            "random_state": check_random_state,
        },
    )
    settings = spec.algorithm.settings_dict()
    missing = [name for name in _REQUIRED if name not in settings]
    if missing:
        raise SpecError(
            "spec.algorithm.algorithmSettings",
            f"Required params missing: {', '.join(missing)}",
            "pbt needs suggestion_trial_dir, n_population and truncation_threshold, e.g. "
            '{name: n_population, value: "40"}',
        )
    resample = settings.get("resample_probability")
    return PbtSettings(
        suggestion_trial_dir=settings["suggestion_trial_dir"].strip(),
        n_population=int(settings["n_population"]),
        truncation_threshold=float(settings["truncation_threshold"]),
        resample_probability=None if resample is None else float(resample),
    )


def validate(spec: ExperimentSpec) -> None:
    """Katib's ``ValidateAlgorithmSettings`` for pbt."""
    parse_settings(spec)


# --------------------------------------------------------------------------- exploring


@dataclass(frozen=True)
class _Dim:
    """What exploring needs of one parameter (codes as in :mod:`tunery.space`)."""

    kind: str  # "continuous" | "stepped" | "discrete" | "categorical"
    low: float = 0.0
    high: float = 0.0
    step: float = 1.0
    size: int = 0
    #: discrete: codes in ascending numeric order.
    order: tuple[int, ...] = ()


def _dims(space: SearchSpace) -> list[_Dim]:
    sizes = space.parameter_sizes()
    base = space.sample_keys(np.random.default_rng(0), 1)[0]
    dims: list[_Dim] = []
    for i, (param, size) in enumerate(zip(space.parameters, sizes, strict=True)):
        fs = param.feasible_space
        ptype = param.parameter_type
        if ptype is ParameterType.CATEGORICAL:
            dims.append(_Dim("categorical", size=size or 1))
        elif ptype is ParameterType.DISCRETE:
            n = size or 1
            values = []
            for code in range(n):
                key = (*base[:i], code, *base[i + 1 :])
                value = space.params_of(key)[param.name]
                assert not isinstance(value, str)
                values.append(float(value))
            order = tuple(sorted(range(n), key=lambda c: values[c]))
            dims.append(_Dim("discrete", size=n, order=order))
        elif size is None:
            dims.append(_Dim("continuous", low=float(fs.min or 0), high=float(fs.max or 0)))
        else:
            step = float(fs.step) if fs.step is not None and fs.step.strip() else 1.0
            dims.append(_Dim("stepped", low=float(fs.min or 0), step=step, size=size))
    return dims


def _perturb(dim: _Dim, code: int | float | None, rng: np.random.Generator) -> int | float:
    """One value multiplied by 0.8 or 1.2 (numbers) or moved to a neighbour (lists)."""
    assert code is not None  # pbt refuses conditional parameters
    if dim.kind in ("categorical", "discrete"):
        direction = 1 if rng.random() < 0.5 else -1
        if dim.size <= 1:
            return code
        if dim.kind == "categorical":
            return (int(code) + direction) % dim.size
        pos = dim.order.index(int(code))
        if not 0 <= pos + direction < dim.size:
            direction = -direction
        return dim.order[pos + direction]
    factor = PERTURB_FACTORS[int(rng.integers(len(PERTURB_FACTORS)))]
    if dim.kind == "continuous":
        return float(min(dim.high, max(dim.low, float(code) * factor)))
    value = dim.low + int(code) * dim.step
    target = value * factor
    k = round((target - dim.low) / dim.step)
    if k == int(code) and target != value:
        k += 1 if target > value else -1
    return min(dim.size - 1, max(0, k))


# --------------------------------------------------------------------------- the suggester


def generation_of(trial: Trial) -> int | None:
    """A trial's PBT generation, or None when it has no (valid) generation label."""
    text = trial.labels.get(GENERATION_LABEL)
    if text is None or not INTEGER.match(text.strip()) or int(text) < 0:
        return None
    return int(text)


@dataclass(frozen=True)
class _Slot:
    key: Key
    parent: str | None


class PbtSuggester:
    """Population Based Training (stateless: the history's labels say where it stands)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.settings = parse_settings(spec)
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)
        self._dims = _dims(self.space)
        self._plans: dict[tuple[Any, ...], list[_Slot]] = {}

    # ----------------------------------------------------------------- protocol

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        generations: dict[int, list[Entry]] = {}
        for entry in history.entries:
            g = generation_of(entry.trial)
            if g is not None:
                generations.setdefault(g, []).append(entry)
        n = self.settings.n_population
        if not generations:
            g, handed = 0, 0
        else:
            g = max(generations)
            members = generations[g]
            if len(members) >= n:
                if any(e.trial.status.is_active for e in members):
                    return []  # the generation is still running
                g, handed = g + 1, 0
            else:
                handed = len(members)
        previous = sorted(generations.get(g - 1, ()), key=lambda e: e.trial.index)[:n]
        plan = self._plan(g, previous)
        return [self._assignment(g, slot) for slot in plan[handed : handed + count]]

    def dump_state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, state: dict[str, Any]) -> None:
        """Nothing to restore: the suggester is stateless."""

    # ----------------------------------------------------------------- planning

    def _assignment(self, generation: int, slot: _Slot) -> Assignment:
        labels = {GENERATION_LABEL: str(generation)}
        if slot.parent is not None:
            labels[PARENT_LABEL] = slot.parent  # Katib's label, for round-trips
        return Assignment(self.space.params_of(slot.key), labels, parent=slot.parent)

    def _plan(self, generation: int, previous: Sequence[Entry]) -> list[_Slot]:
        cache_key = (
            generation,
            tuple((e.trial.name, e.trial.status, e.trial.objective) for e in previous),
        )
        plan = self._plans.get(cache_key)
        if plan is None:
            rng = np.random.default_rng([self.seed, generation])
            if generation == 0 or not previous:
                plan = self._first_generation(rng)
            else:
                plan = self._next_generation(rng, previous)
            if len(self._plans) > 8:
                self._plans.clear()
            self._plans[cache_key] = plan
        return plan

    def _first_generation(self, rng: np.random.Generator) -> list[_Slot]:
        n = self.settings.n_population
        keys = self.space.sample_new_keys(rng, set(), n)
        keys += self.space.sample_keys(rng, n - len(keys))  # a space smaller than n
        return [_Slot(key, None) for key in keys]

    def rank(self, members: Sequence[Entry]) -> list[int]:
        """Positions of ``members``, best first (no objective: last; ties: creation order)."""

        def sort_key(i: int) -> tuple[int, float, int]:
            loss = members[i].loss
            if loss is None or members[i].trial.status.is_failed:
                return (1, 0.0, i)
            return (0, loss, i)

        return sorted(range(len(members)), key=sort_key)

    def _next_generation(self, rng: np.random.Generator, previous: Sequence[Entry]) -> list[_Slot]:
        n = len(previous)
        order = self.rank(previous)
        cut = int(n * self.settings.truncation_threshold + 1e-9)
        bottom = set(order[n - cut :]) if cut else set()
        top = order[:cut]
        # Parents must have something to hand down when any top member has.
        ranked = [i for i in top if previous[i].trial.objective is not None]
        parents = ranked or top
        plan: list[_Slot] = []
        for i, member in enumerate(previous):
            if i in bottom:
                source = previous[parents[int(rng.integers(len(parents)))]]
                key = self._key(source, rng)
                plan.append(_Slot(self._explore(key, rng), source.trial.name))
            else:
                plan.append(_Slot(self._key(member, rng), member.trial.name))
        return plan

    def _key(self, entry: Entry, rng: np.random.Generator) -> Key:
        """The member's key, or a random one when it lies outside the space."""
        return entry.key if entry.key is not None else self.space.sample_keys(rng, 1)[0]

    def _explore(self, key: Key, rng: np.random.Generator) -> Key:
        probability = self.settings.resample_probability
        if probability is not None:
            fresh = self.space.sample_keys(rng, 1)[0]
            return tuple(
                fresh[d] if rng.random() < probability else code for d, code in enumerate(key)
            )
        return tuple(_perturb(dim, code, rng) for dim, code in zip(self._dims, key, strict=True))


register("pbt", PbtSuggester, validate)
