"""``spec.initialTrials``: assignments that run first, in order, before the algorithm's own.

Native form (``apiVersion: tunery/v1``)::

    spec:
      initialTrials:
        - {lr: 0.01, batch: 32}
        - {lr: 0.001, batch: 64}

Katib's Experiment has no such field (its webhook refuses unknown fields), so the Katib form
carries the list, as JSON, in the annotation :data:`INITIAL_TRIALS_ANNOTATION`::

    metadata:
      annotations:
        tunery.dev/initial-trials: '[{"lr": 0.01, "batch": 32}]'

Each entry names every parameter with a value inside its feasibleSpace (checked by
:func:`validate_initial_trials`); there may be no more of them than ``maxTrialCount``
(they run as normal trials and count towards it).  ``hyperband`` and ``pbt`` refuse them:
their trials belong to brackets and generations they plan themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tunery.errors import SpecError
from tunery.model import ExperimentSpec
from tunery.spec.loading import type_name

__all__ = [
    "INITIAL_TRIALS_ANNOTATION",
    "read_initial_trials",
    "validate_initial_trials",
    "write_initial_trials",
]

INITIAL_TRIALS_ANNOTATION = "tunery.dev/initial-trials"
_PATH = "spec.initialTrials"
_EXAMPLE = "e.g. initialTrials: [{lr: 0.01, batch: 32}]"
#: Algorithms that plan every trial themselves.
_REFUSING = ("hyperband", "pbt")


def read_initial_trials(
    spec: Mapping[str, Any], annotations: dict[str, str], *, native: bool
) -> tuple[Mapping[str, Any], ...]:
    """The list from ``spec.initialTrials`` (native form) or the annotation (either form;
    popped from ``annotations``: the model keeps it apart)."""
    given = spec.get("initialTrials")
    text = annotations.pop(INITIAL_TRIALS_ANNOTATION, None)
    path = _PATH
    if given is not None and not native:
        raise SpecError(
            _PATH,
            "is not a field of Katib's Experiment (its webhook would refuse it)",
            f"put the list, as JSON, in the annotation {INITIAL_TRIALS_ANNOTATION}, or use "
            "apiVersion tunery/v1",
        )
    if given is None and text is not None:
        path = f"metadata.annotations[{INITIAL_TRIALS_ANNOTATION}]"
        try:
            given = json.loads(text)
        except ValueError as exc:
            raise SpecError(
                path, f"is not JSON: {exc}", """e.g. '[{"lr": 0.01, "batch": 32}]'"""
            ) from None
    if given is None:
        return ()
    if not isinstance(given, list):
        raise SpecError(path, f"must be a list, not {type_name(given)}", _EXAMPLE)
    out = []
    for i, entry in enumerate(given):
        if not isinstance(entry, Mapping) or not all(isinstance(k, str) for k in entry):
            raise SpecError(
                f"{_PATH}[{i}]",
                f"must be a mapping of parameter names to values, not {type_name(entry)}",
                _EXAMPLE,
            )
        out.append(dict(entry))
    return tuple(out)


def write_initial_trials(
    spec: ExperimentSpec, body: dict[str, Any], metadata: dict[str, Any]
) -> None:
    """Put ``spec.initial_trials`` in a document being written (the field, or the annotation
    in the Katib form)."""
    if not spec.initial_trials:
        return
    entries = [dict(entry) for entry in spec.initial_trials]
    if spec.source_format == "katib":
        annotations = metadata.setdefault("annotations", {})
        annotations[INITIAL_TRIALS_ANNOTATION] = json.dumps(entries)
    else:
        body["initialTrials"] = entries


def validate_initial_trials(spec: ExperimentSpec) -> None:
    """Every entry names each parameter, and only them, with a feasible value."""
    if not spec.initial_trials:
        return
    from tunery.errors import UserInputError
    from tunery.space import SearchSpace

    algorithm = spec.algorithm.algorithm_name
    if algorithm in _REFUSING:
        raise SpecError(
            _PATH,
            f"{algorithm} plans every trial itself and cannot start from given assignments",
            "remove initialTrials, or use another algorithm (tpe, bayesianoptimization...)",
        )
    count = len(spec.initial_trials)
    if spec.max_trial_count is not None and count > spec.max_trial_count:
        raise SpecError(
            _PATH,
            f"{count} entries, more than maxTrialCount ({spec.max_trial_count}): they run as "
            "trials of the budget",
            f"raise maxTrialCount to at least {count}, or list fewer",
        )
    space = SearchSpace.from_spec(spec)
    names = [p.name for p in spec.parameters]
    listed = ", ".join(names)
    for i, entry in enumerate(spec.initial_trials):
        for name in entry:
            if name not in names:
                raise SpecError(
                    f"{_PATH}[{i}].{name}",
                    "is not a parameter of the experiment",
                    f"the parameters are: {listed}",
                )
        for j, name in enumerate(names):
            if name not in entry:
                continue
            try:
                space.validate_value(name, entry[name])
            except UserInputError as exc:
                message = exc.message.removeprefix(f"parameter {name!r}: ")
                raise SpecError(
                    f"{_PATH}[{i}].{name}",
                    message,
                    f"give a value inside spec.parameters[{j}].feasibleSpace",
                ) from None
        # Which parameters an entry needs is the space's reading (every one, or with
        # conditions the active ones): a value is missing when it cannot read the entry.
        try:
            space.canonical(entry)
        except UserInputError as exc:
            missing = [n for n in names if n not in entry]
            absent = next((n for n in missing if repr(n) in exc.message), None)
            raise SpecError(
                f"{_PATH}[{i}].{absent}" if absent else f"{_PATH}[{i}]",
                "is missing" if absent else exc.message,
                f"give every parameter a value (the parameters are: {listed})",
            ) from None
