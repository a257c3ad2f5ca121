"""Search-space helpers for the Python API, in the spirit of Katib's ``katib.search``.

    import tunery
    parameters = {
        "lr": tunery.search.double(1e-4, 1e-1, log=True),
        "layers": tunery.search.int(1, 4),
        "optimizer": tunery.search.categorical(["adam", "sgd"]),
        "batch_size": tunery.search.discrete([16, 32, 64]),
        "epochs": 10,  # a fixed value: passed to the function as it is, not searched
    }

Katib-style dicts (``{"parameterType": "double", "feasibleSpace": {"min": "0.1", ...}}``) are
accepted too.

Conditional parameters: give :func:`categorical` a mapping from each value to the parameters
searched only when it is chosen (nested to any depth; ``{}`` or None for a value without any)::

    parameters = {
        "model": tunery.search.categorical({
            "svm": {"C": tunery.search.double(1e-3, 1e3, log=True),
                    "kernel": tunery.search.categorical({"rbf": {}, "poly": {
                        "degree": tunery.search.int(2, 5)}})},
            "rf": {"depth": tunery.search.int(2, 12)},
            "knn": None,
        }),
    }

Each branch parameter gets ``activeWhen: {model: [svm]}``; one searched under several values
with the same space is active for all of them.  An inactive parameter is absent from the
trial's parameters (the function's dict has no key for it).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tunery.errors import SpecError, UserInputError
from tunery.model import Distribution, FeasibleSpace, ParameterSpec, ParameterType
from tunery.spec import format_value


@dataclass(frozen=True)
class SearchParameter:
    """A parameter's type and feasible space, named when it is placed in a dict."""

    parameter_type: ParameterType
    feasible_space: FeasibleSpace
    #: ``categorical({value: {name: parameter, ...}})``: the parameters under each value.
    branches: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def named(self, name: str) -> ParameterSpec:
        return ParameterSpec(name, self.parameter_type, self.feasible_space)


def _num(value: float | builtins.int, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (builtins.int, float)):
        raise UserInputError(f"{what} must be a number, not {value!r}")
    if isinstance(value, builtins.int):
        return _int_text(value, what)
    return format_value(value)


def _int_text(value: builtins.int, what: str) -> str:
    try:
        return str(value)
    except ValueError:  # more digits than Python writes (sys.get_int_max_str_digits)
        raise UserInputError(
            f"{what} is an integer of {value.bit_length()} bits; at most 64 are supported",
            "use a smaller value",
        ) from None


def double(min: float, max: float, step: float | None = None, log: bool = False) -> SearchParameter:
    """A float between ``min`` and ``max`` (on a log scale with ``log=True``)."""
    return SearchParameter(
        ParameterType.DOUBLE,
        FeasibleSpace(
            min=_num(min, "min"),
            max=_num(max, "max"),
            step=None if step is None else _num(step, "step"),
            distribution=Distribution.LOG_UNIFORM if log else Distribution.UNIFORM,
        ),
    )


def int(  # shadows the builtin on purpose: mirrors katib.search.int
    min: builtins.int, max: builtins.int, step: builtins.int | None = None, log: bool = False
) -> SearchParameter:
    """An integer between ``min`` and ``max`` inclusive."""
    for what, v in (("min", min), ("max", max), ("step", step)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, builtins.int)):
            raise UserInputError(f"search.int {what} must be an integer, not {v!r}")
    return SearchParameter(
        ParameterType.INT,
        FeasibleSpace(
            min=_int_text(min, "search.int min"),
            max=_int_text(max, "search.int max"),
            step=None if step is None else _int_text(step, "search.int step"),
            distribution=Distribution.LOG_UNIFORM if log else Distribution.UNIFORM,
        ),
    )


def categorical(
    values: Sequence[str] | Mapping[str, Mapping[str, Any] | None],
) -> SearchParameter:
    """One of ``values`` (strings); a mapping gives each value the parameters searched only
    when it is chosen (see the module docstring)."""
    if isinstance(values, str) or not values:
        raise UserInputError("search.categorical needs a non-empty list of values")
    branches: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
    if isinstance(values, Mapping):
        for value, sub in values.items():
            if sub is None:
                sub = {}
            if not isinstance(sub, Mapping):
                raise UserInputError(
                    f"search.categorical: the branch of {value!r} must be a dict of parameters, "
                    f"not {type(sub).__name__}",
                    'e.g. {"svm": {"C": tunery.search.double(1e-3, 1e3, log=True)}, "knn": {}}',
                )
            if sub:
                branches.append((str(value), tuple(sub.items())))
    return SearchParameter(
        ParameterType.CATEGORICAL,
        FeasibleSpace(list=tuple(str(v) for v in values), distribution=Distribution.UNIFORM),
        tuple(branches),
    )


def discrete(values: Sequence[float | builtins.int]) -> SearchParameter:
    """One of the numbers ``values``."""
    if isinstance(values, str) or not values:
        raise UserInputError("search.discrete needs a non-empty list of numbers")
    return SearchParameter(
        ParameterType.DISCRETE,
        FeasibleSpace(
            list=tuple(_num(v, "a discrete value") for v in values),
            distribution=Distribution.UNIFORM,
        ),
    )


def split_parameters(
    parameters: Mapping[str, Any],
) -> tuple[list[ParameterSpec], dict[str, Any]]:
    """(searched parameters, fixed values) of a ``{name: helper | Katib dict | value}`` map."""
    searched: list[ParameterSpec] = []
    fixed: dict[str, Any] = {}
    for name, value in parameters.items():
        if isinstance(value, SearchParameter):
            searched.append(value.named(name))
            if value.branches:
                _add_branches(name, value, searched, set(parameters))
        elif isinstance(value, ParameterSpec):
            searched.append(value)
        elif isinstance(value, Mapping) and "parameterType" in value:
            try:
                searched.append(_from_katib_dict(name, value))
            except SpecError as exc:
                # Its own one-parameter document: say the parameter's name, not the index 0.
                raise SpecError(
                    exc.path.replace("spec.parameters[0]", f"parameters[{name!r}]", 1),
                    exc.message,
                    exc.hint,
                ) from None
        else:
            fixed[name] = value
    if not searched:
        raise UserInputError(
            "no parameter to search",
            "give at least one tunery.search.double/int/categorical/discrete(...) value",
        )
    return searched, fixed


def _add_branches(
    parent: str, value: SearchParameter, searched: list[ParameterSpec], top: set[str]
) -> None:
    """The parameters under each value of ``parent`` (depth first), with their conditions."""
    for choice, sub in value.branches:
        for name, child in sub:
            if not isinstance(child, SearchParameter):
                raise UserInputError(
                    f"search.categorical: {name!r} under {parent}={choice!r} is not a search "
                    f"parameter ({type(child).__name__})",
                    "give tunery.search.double/int/categorical/discrete(...); fixed values go "
                    "at the top level",
                )
            if name in top:
                raise UserInputError(
                    f"parameter {name!r} is both a top-level parameter and one under "
                    f"{parent}={choice!r}",
                    "give the branch parameter another name",
                )
            spec = child.named(name)
            index = next((i for i, p in enumerate(searched) if p.name == name), None)
            if index is None:
                searched.append(replace(spec, active_when=((parent, (choice,)),)))
                if child.branches:
                    _add_branches(name, child, searched, top)
                continue
            known = searched[index]
            same = (known.parameter_type, known.feasible_space) == (
                spec.parameter_type,
                spec.feasible_space,
            )
            if not same or len(known.active_when) != 1 or known.active_when[0][0] != parent:
                raise UserInputError(
                    f"parameter {name!r} appears twice in the search space with other "
                    f"spaces or parents",
                    "give each branch parameter its own name, or the same space under "
                    "values of one categorical",
                )
            values = known.active_when[0][1]
            searched[index] = replace(known, active_when=((parent, (*values, choice)),))


def _from_katib_dict(name: str, value: Mapping[str, Any]) -> ParameterSpec:
    from tunery.spec import parse_document

    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "check"},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "m"},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 1,
            "parameters": [{"name": name, **value}],
            "trialTemplate": {"command": ["x", f"${{trialParameters.{name}}}"]},
        },
    }
    return parse_document(doc, check_algorithm=False).parameters[0]
