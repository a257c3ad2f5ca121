"""Katib's ``darts`` algorithm: a pass-through to the DARTS trainer of each trial.

Katib's DARTS suggestion service (``pkg/suggestion/v1beta1/nas/darts/service.py``) searches
nothing itself: the whole search (a supernet of mixed operations, its weights and
architecture parameters trained together) runs inside one trial, which prints the genotype it
derives.  Every trial gets the same three assignments, formatted exactly as Katib's service
writes them:

- ``algorithm-settings``: the trainer's settings, Katib's defaults (numbers) updated with the
  experiment's ``algorithmSettings`` (strings as given, ``"None"`` as ``null``; a name Katib
  does not know is appended, passed through), as ``json.dumps`` writes the dict with every
  ``"`` turned into ``'``: ``{'num_epochs': '1', 'w_lr': 0.025, ...}``;
- ``search-space``: the primitives, ``skip_connection`` as is and ``<operationType>_<k>x<k>``
  for each value ``k`` of an operation's first parameter's list, as a JSON list with the same
  quote swap: ``['max_pooling_3x3']``;
- ``num-layers``: ``graphConfig.numLayers`` as text.

The trainer tunery ships for them is ``python -m tunery.nas.darts`` (:mod:`tunery.nas.darts`).
The suggester is stateless and never ends the search by itself: ``maxTrialCount`` does (Katib's
examples run one trial).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import AlgorithmSetting, Assignment, ExperimentSpec, NasOperation
from tunery.suggest.base import register

__all__ = [
    "KATIB_DEFAULTS",
    "DartsSuggester",
    "algorithm_settings",
    "assignments",
    "katib_text",
    "search_space",
    "validate",
]

#: Katib's ``get_algorithm_settings`` defaults, typed as its service writes them (the order is
#: the order of the printed dict).
KATIB_DEFAULTS: dict[str, Any] = {
    "num_epochs": 50,
    "w_lr": 0.025,
    "w_lr_min": 0.001,
    "w_momentum": 0.9,
    "w_weight_decay": 3e-4,
    "w_grad_clip": 5.0,
    "alpha_lr": 3e-4,
    "alpha_weight_decay": 1e-3,
    "batch_size": 128,
    "num_workers": 4,
    "init_channels": 16,
    "print_step": 50,
    "num_nodes": 4,
    "stem_multiplier": 3,
}


def katib_text(value: Any) -> str:
    """``json.dumps(value)`` with every ``"`` turned into ``'``, as Katib's service writes it."""
    return json.dumps(value).replace('"', "'")


def algorithm_settings(settings: Sequence[AlgorithmSetting]) -> dict[str, Any]:
    """Katib's ``get_algorithm_settings``: defaults (numbers), then each setting as given."""
    out: dict[str, Any] = dict(KATIB_DEFAULTS)
    for s in settings:
        out[s.name] = None if s.value == "None" else s.value
    return out


def search_space(operations: Sequence[NasOperation]) -> list[str]:
    """Katib's ``get_search_space``: the primitives the trainer mixes on every edge."""
    primitives: list[str] = []
    for op in operations:
        if op.operation_type == "skip_connection":
            primitives.append(op.operation_type)
            continue
        for size in op.parameters[0].feasible_space.list:
            primitives.append(f"{op.operation_type}_{size}x{size}")
    return primitives


def assignments(spec: ExperimentSpec) -> dict[str, str]:
    """The three assignments of every trial of a darts experiment, as Katib formats them."""
    nas = spec.nas_config
    if nas is None:
        raise _needs_nas_config()
    return {
        "algorithm-settings": katib_text(algorithm_settings(spec.algorithm.algorithm_settings)),
        "search-space": katib_text(search_space(nas.operations)),
        "num-layers": str(nas.graph_config.num_layers),
    }


def _needs_nas_config() -> SpecError:
    return SpecError(
        "spec.nasConfig",
        "is required by algorithm darts, which searches architectures, not spec.parameters",
        "add spec.nasConfig (graphConfig.numLayers and operations, as in Katib's "
        "examples/v1beta1/nas/darts-cpu.yaml), or use another algorithm",
    )


def validate(spec: ExperimentSpec) -> None:
    """Katib's ``validate_algorithm_spec``: the operations, then the settings it knows (every
    other setting is passed through; ``tunery validate`` warns about it)."""
    if spec.nas_config is None:
        raise _needs_nas_config()
    from tunery.spec.nas import check_operations, darts_settings

    check_operations(spec.nas_config.operations, darts=True)
    darts_settings(spec.algorithm.algorithm_settings)


class DartsSuggester:
    """The same three assignments for every trial (stateless, as Katib's service)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.values = assignments(spec)

    def suggest(self, history: History, count: int) -> list[Assignment]:
        return [Assignment(dict(self.values)) for _ in range(max(count, 0))]

    def dump_state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, state: dict[str, Any]) -> None:
        """Nothing to restore: every trial gets the same assignments."""


register("darts", DartsSuggester, validate)
