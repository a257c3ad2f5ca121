"""Katib's ``grid`` algorithm: every configuration of a finite space, in order, then the end.

Katib runs grid search in its Optuna service (``pkg/suggestion/v1beta1/optuna/service.py``,
``_validate_grid_setting``; the grid itself comes from ``internal/search_space.py``,
``convert_to_combinations``).  Its rules, which tunery follows:

- every ``double`` parameter needs a ``step`` (Katib: "Param ... step is nil; For discrete
  search space, all parameters must include step"); ``int`` parameters step by 1 by default;
  double values are ``np.arange(min, max + step, step)`` without points above ``max``;
- ``maxTrialCount`` may not exceed the number of grid points ("Max Trial Count: M > all
  possible search combinations: N");
- the only setting is ``random_state`` (an integer ``>= 0``); other names are refused.

Conditional parameters (``activeWhen``): the grid is the tree's, each inactive subtree one point
(:mod:`tunery.conditions`), at most 2**20 points.

Order: Katib's combinations are the product of the parameters sorted by name (the last name
varying fastest).  Optuna's GridSampler visits the unvisited points in random order (seeded by
``random_state``); tunery walks them in product order, so ``random_state`` is accepted and
ignored.  Configurations already in the history (any status) are skipped, and when none is left
``suggest`` returns none: the experiment ends with ``ExperimentSuggestionEndReached`` (Katib
never sets that reason and hangs).

The position is derived from the history (the first grid points not tried), so the suggester is
stateless and resumes correctly after any restart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import Assignment, ExperimentSpec, ParameterType
from tunery.settings import check_random_state, validate_settings
from tunery.space import ENUMERATION_LIMIT, SearchSpace
from tunery.suggest.base import register

__all__ = ["GridSuggester", "validate"]


def validate(spec: ExperimentSpec) -> None:
    """Katib's ``_validate_grid_setting``."""
    validate_settings(spec, {"random_state": check_random_state})
    for i, param in enumerate(spec.parameters):
        step = param.feasible_space.step
        if param.parameter_type is ParameterType.DOUBLE and (step is None or not step.strip()):
            raise SpecError(
                f"spec.parameters[{i}].feasibleSpace.step",
                f"parameter {param.name!r} has no step; the grid algorithm needs a step for "
                f"every double parameter",
                'add a step, e.g. step: "0.1", or list the values as a discrete parameter',
            )
    space = SearchSpace.from_spec(spec)
    size = space.grid_size()
    assert size is not None  # every double has a step
    if space.conditional and size > ENUMERATION_LIMIT:
        raise SpecError(
            "spec.parameters",
            f"the conditional grid has {size} points; tunery enumerates at most "
            f"{ENUMERATION_LIMIT} of a tree",
            "use larger steps or shorter lists, or another algorithm (random, sobol)",
        )
    if spec.max_trial_count is not None and spec.max_trial_count > size:
        raise SpecError(
            "spec.maxTrialCount",
            f"Max Trial Count: {spec.max_trial_count} > all possible search combinations: {size}",
            f"lower maxTrialCount to {size} or less, or leave it out to stop when the grid ends",
        )


class GridSuggester:
    """Grid search in Katib's order, skipping what the history holds (stateless)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        size = self.space.grid_size()
        if size is None:
            validate(spec)  # raises the SpecError naming the double without step
        assert size is not None
        self.size = size

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        space = self.space
        keys = history.tried_keys
        if self.size < 1 << 62:
            # The first `count` grid positions not tried lie below len(tried) + count.
            tried = space.flat_indices(keys)
            candidates = np.arange(min(self.size, len(keys) + count), dtype=np.int64)
            free = candidates[~np.isin(candidates, tried)][:count]
            flats = [int(flat) for flat in free]
        else:
            taken = {space.flat_index(key) for key in keys}
            flats = []
            flat = 0
            while len(flats) < count and flat < self.size:
                if flat not in taken:
                    flats.append(flat)
                flat += 1
        return [Assignment(space.params_of(space.key_at(flat))) for flat in flats]

    def dump_state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, state: dict[str, Any]) -> None:
        """Nothing to restore: the position is derived from the history."""


register("grid", GridSuggester, validate, multi_objective=True, conditional=True)
