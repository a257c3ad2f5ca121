"""Katib's ``hyperband``: successive halving in brackets, the resource set by the algorithm.

Settings, as Katib's hyperband service reads and validates them
(``pkg/suggestion/v1beta1/hyperband/service.py``):

- ``resource_name`` (required): the parameter that carries the budget (epochs, say); its
  feasible space is ignored, hyperband sets its value (an int parameter gets whole numbers);
- ``r_l`` (required): the largest budget R, a positive number (tunery's bound: the first
  bracket, ``eta**s_max`` configurations, holds at most 100,000);
- ``eta`` (default ``3``): the halving rate, an integer; like Katib, a value ``<= 0`` means 3;
  ``1`` is refused (Katib divides by ``log(eta)``);
- ``random_state`` (tunery): seed of the random configurations.

The schedule is Katib's: ``s_max = floor(log(R) / log(eta))``; brackets ``s = s_max, ..., 0``;
bracket ``s`` starts ``n = ceil((s_max + 1) * eta**s / (s + 1))`` random configurations with
budget ``R * eta**-s`` (rung 0), and rung ``i + 1`` runs the best ``ceil(c_i / eta)`` of the
``c_i`` configurations of rung ``i`` again with ``eta`` times the budget, up to ``R``.  Each
promotion is a new trial (the same parameters, a larger resource), as in Katib.  A rung starts
only when every trial of the one before has finished: Succeeded and EarlyStopped trials rank by
their objective, others are never promoted.  After the last bracket the algorithm has nothing
more to suggest and the experiment ends with ``ExperimentSuggestionEndReached`` (or earlier, at
``maxTrialCount`` or the goal).

How this differs from Katib.  Katib keeps hyperband's progress in the experiment's algorithm
settings and needs ``parallelTrialCount >= eta**s_max`` (it launches a whole rung at once);
tunery keeps it in the algorithm-state blob, hands a rung out as slots free up, so any
``parallelTrialCount`` works, and labels each trial with its bracket and rung
(``tunery.dev/hyperband-bracket``, ``tunery.dev/hyperband-rung``).  The trials and their labels
are the truth: a controller killed between creating trials and saving the state resumes the
same bracket without repeating or skipping a trial (the random configurations of a bracket are
drawn from a stream seeded by ``(seed, bracket)``).  Random configurations never repeat one of
an earlier bracket or of a trial hyperband did not label (ignoring the resource); a finite space
may give a bracket fewer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunery.errors import SpecError
from tunery.history import Entry, History
from tunery.model import (
    Assignment,
    ExperimentSpec,
    ParameterType,
    ParamValue,
    Trial,
)
from tunery.settings import NUMBER, check_random_state, resolve_seed
from tunery.space import Key, SearchSpace
from tunery.suggest.base import register, setting_path

__all__ = ["BRACKET_LABEL", "RUNG_LABEL", "Hyperband", "HyperbandSettings", "parse_settings"]

BRACKET_LABEL = "tunery.dev/hyperband-bracket"
RUNG_LABEL = "tunery.dev/hyperband-rung"
DEFAULT_ETA = 3
_KNOWN = ("resource_name", "r_l", "eta", "random_state")
#: Most random configurations a bracket may start (the first bracket starts ``eta**s_max``).
MAX_BRACKET = 100_000


@dataclass(frozen=True)
class HyperbandSettings:
    resource_name: str
    r_l: float
    eta: int = DEFAULT_ETA

    @property
    def s_max(self) -> int:
        # A hair of tolerance so that R = eta**k gives k despite floating point.
        return max(0, math.floor(math.log(self.r_l) / math.log(self.eta) + 1e-9))

    def bracket_size(self, s: int) -> int:
        """How many random configurations bracket ``s`` starts with."""
        return math.ceil((self.s_max + 1) * self.eta**s / (s + 1) - 1e-9)

    def rung_sizes(self, s: int) -> list[int]:
        sizes = [self.bracket_size(s)]
        for _ in range(s):
            sizes.append(math.ceil(sizes[-1] / self.eta))
        return sizes

    def resource(self, s: int, i: int) -> float:
        """The budget of rung ``i`` of bracket ``s``."""
        return self.r_l * float(self.eta) ** (i - s)

    def schedule(self) -> list[tuple[int, list[int], list[float]]]:
        """``(bracket, rung sizes, rung budgets)`` for every bracket, in the order they run."""
        return [
            (s, self.rung_sizes(s), [self.resource(s, i) for i in range(s + 1)])
            for s in range(self.s_max, -1, -1)
        ]


def _fail(spec: ExperimentSpec, name: str, message: str, hint: str) -> SpecError:
    return SpecError(setting_path(spec, name), message, hint)


def parse_settings(spec: ExperimentSpec) -> HyperbandSettings:
    """Katib's ValidateAlgorithmSettings for hyperband; a SpecError names the bad setting."""
    settings = spec.algorithm.settings_dict()
    for i, setting in enumerate(spec.algorithm.algorithm_settings):
        if setting.name not in _KNOWN:
            raise SpecError(
                f"spec.algorithm.algorithmSettings[{i}]",
                f"unknown setting {setting.name} for algorithm hyperband",
                f"hyperband accepts only: {', '.join(_KNOWN)}",
            )
    missing = [k for k in ("r_l", "resource_name") if k not in settings]
    if missing:
        raise SpecError(
            "spec.algorithm.algorithmSettings",
            "r_l and resource_name must be set",
            'add e.g. {name: resource_name, value: "epochs"} and {name: r_l, value: "27"}',
        )
    text = settings["r_l"].strip()
    if not NUMBER.match(text) or not math.isfinite(float(text)) or float(text) <= 0:
        raise _fail(
            spec, "r_l", f"r_l must be a positive number, not {settings['r_l']!r}", 'e.g. "27"'
        )
    r_l = float(text)
    eta = DEFAULT_ETA
    if "eta" in settings:
        text = settings["eta"].strip()
        if not NUMBER.match(text) or not math.isfinite(float(text)):
            raise _fail(spec, "eta", f"eta must be an integer, not {settings['eta']!r}", 'e.g. "3"')
        eta = int(float(text))
        if eta <= 0:
            eta = DEFAULT_ETA  # Katib's rule
        if eta == 1:
            raise _fail(spec, "eta", "eta must be at least 2 (it halves by eta)", 'e.g. "3"')
    # The first bracket is the largest: eta**s_max configurations (an int: no overflow).
    largest = eta ** HyperbandSettings("", r_l, eta).s_max
    if largest > MAX_BRACKET:
        raise _fail(
            spec,
            "r_l",
            f"r_l {settings['r_l'].strip()} with eta {eta} starts a bracket of "
            f"{largest if largest < 10**9 else f'{float(largest):.3g}'} configurations; at most "
            f"{MAX_BRACKET} are supported",
            "lower r_l (the largest budget, in units of the smallest), or raise eta",
        )
    if "random_state" in settings:
        problem = check_random_state(settings["random_state"])
        if problem is not None:
            raise _fail(spec, "random_state", *problem)
    name = settings["resource_name"]
    names = [p.name for p in spec.parameters]
    if name not in names:
        raise _fail(
            spec,
            "resource_name",
            f"value of resource_name setting ({name!r}) must be in parameters",
            f"name one of: {', '.join(names)}",
        )
    resource = next(p for p in spec.parameters if p.name == name)
    children = [p.name for p in spec.parameters if any(c == name for c, _ in p.active_when)]
    if resource.active_when or children:
        raise _fail(
            spec,
            "resource_name",
            f"the resource parameter {name!r} "
            + (
                "is conditional (activeWhen)"
                if resource.active_when
                else f"decides {children[0]!r}"
            )
            + "; hyperband sets it for every trial",
            "make the resource an always-active parameter that no activeWhen names",
        )
    if resource.parameter_type not in (ParameterType.INT, ParameterType.DOUBLE):
        raise _fail(
            spec,
            "resource_name",
            f"the resource parameter {name!r} must be int or double, "
            f"not {resource.parameter_type.value}",
            "point resource_name at the epochs/steps parameter",
        )
    if len(names) < 2:
        raise _fail(
            spec,
            "resource_name",
            "hyperband needs at least one parameter besides the resource",
            "add the hyperparameters to search",
        )
    return HyperbandSettings(name, r_l, eta)


def validate(spec: ExperimentSpec) -> None:
    parse_settings(spec)


class Hyperband:
    """Katib's hyperband schedule, handed out as slots free up (see the module docstring)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.settings = parse_settings(spec)
        self.seed = resolve_seed(spec, seed)
        resource = next(p for p in spec.parameters if p.name == self.settings.resource_name)
        self.integer_resource = resource.parameter_type is ParameterType.INT
        self.space = SearchSpace([p for p in spec.parameters if p.name != resource.name])
        self._state: dict[str, Any] | None = None

    # ------------------------------------------------------------------ the protocol

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        by_rung: dict[tuple[int, int], list[Entry]] = {}
        # Trials hyperband did not label (created by other means) are never suggested again.
        earlier: set[Key] = set()
        for entry in history.entries:
            place = _place(entry.trial)
            if place is not None:
                by_rung.setdefault(place, []).append(entry)
            else:
                key = self._key(entry.trial)
                if key is not None:
                    earlier.add(key)
        for s, sizes, _ in self.settings.schedule():
            members: list[Key] = []
            for i in range(len(sizes)):
                trials = by_rung.get((s, i), [])
                if i == 0:
                    rng = np.random.default_rng([self.seed, s])
                    members = self.space.sample_new_keys(rng, earlier, sizes[0])
                else:
                    members = self._promoted(by_rung.get((s, i - 1), []), sizes[i])
                given = {k for k in (self._key(e.trial) for e in trials) if k is not None}
                todo = [k for k in members if k not in given]
                if todo:
                    self._state = self._describe(s, i, members, len(given))
                    return [self._assignment(k, s, i) for k in todo[:count]]
                if any(e.trial.status.is_active for e in trials):
                    self._state = self._describe(s, i, members, len(given))
                    return []  # the rung is out; wait for it to finish
            for (bracket, _), ts in by_rung.items():
                if bracket == s:
                    earlier.update(k for k in (self._key(e.trial) for e in ts) if k is not None)
        self._state = {"finished": True, "s_max": self.settings.s_max}
        return []

    def dump_state(self) -> dict[str, Any] | None:
        return self._state

    def load_state(self, state: dict[str, Any]) -> None:
        """Keep the saved progress for display; the trials' labels are the truth on resume."""
        self._state = dict(state)

    # ------------------------------------------------------------------ helpers

    def _key(self, trial: Trial) -> Key | None:
        """The key of a trial's configuration without the resource (in hyperband's space)."""
        params = {k: v for k, v in trial.parameters.items() if k != self.settings.resource_name}
        return self.space.try_canonical(params)

    def _promoted(self, rung: Sequence[Entry], size: int) -> list[Key]:
        ranked: list[tuple[float, int, Key]] = []
        for e in rung:
            key = self._key(e.trial)
            if not e.observed or e.loss is None or key is None:
                continue
            ranked.append((e.loss, e.trial.index, key))
        ranked.sort()
        return [key for _, _, key in ranked[:size]]

    def _resource_value(self, s: int, i: int) -> ParamValue:
        r = self.settings.resource(s, i)
        if self.integer_resource:
            return max(1, math.floor(r + 1e-9))
        return r

    def _assignment(self, key: Key, s: int, i: int) -> Assignment:
        params = self.space.params_of(key)
        params[self.settings.resource_name] = self._resource_value(s, i)
        return Assignment(params, labels={BRACKET_LABEL: str(s), RUNG_LABEL: str(i)})

    def _describe(self, s: int, i: int, members: list[Key], given: int) -> dict[str, Any]:
        return {
            "s_max": self.settings.s_max,
            "eta": self.settings.eta,
            "bracket": s,
            "rung": i,
            "resource": self._resource_value(s, i),
            "rung_size": len(members),
            "handed_out": min(given, len(members)),
        }


def _place(trial: Trial) -> tuple[int, int] | None:
    try:
        return int(trial.labels[BRACKET_LABEL]), int(trial.labels[RUNG_LABEL])
    except (KeyError, ValueError):
        return None


register("hyperband", Hyperband, validate, conditional=True)
