"""Katib's rules for search parameters, shared by spec validation and the search space.

:func:`check_parameters` is the one place where a parameter's bounds, step, list and
distribution are checked, with the messages users see: :mod:`tunery.spec.validate` calls it for
every spec, and :class:`tunery.space.SearchSpace` for the parameters it is built from (so a
space built directly refuses what a spec would, and trusts its parameters afterwards).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from tunery.errors import SpecError, clip
from tunery.model import Distribution, ParameterSpec, ParameterType
from tunery.settings import NUMBER

__all__ = [
    "ACTIVE_WHEN_ANNOTATION",
    "INT_MAX",
    "INT_MIN",
    "check_conditions",
    "check_parameter",
    "check_parameters",
    "number",
]

_INTEGER = re.compile(r"^[+-]?\d+$")
_NON_FINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)
#: Katib's int parameters are Go ``int`` (64 bits); so are tunery's (numpy codes, databases).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def number(text: str, path: str, *, integer: bool) -> float:
    """A parameter bound, step or list entry: a finite number (a 64-bit integer for ints)."""
    pattern = _INTEGER if integer else NUMBER
    if not pattern.match(text.strip()):
        if _NON_FINITE.match(text.strip()):
            raise SpecError(path, f"must be a finite number, not {text!r}", 'e.g. "0.01"')
        kind = "an integer" if integer else "a number"
        raise SpecError(
            path, f"must be {kind}, not {text!r}", 'e.g. "1"' if integer else 'e.g. "0.01"'
        )
    digits = text.strip().lstrip("+-").lstrip("0")
    # (The length first: Python refuses to read an int of more than 4,300 digits.)
    if integer and (len(digits) > 19 or not INT_MIN <= int(text) <= INT_MAX):
        raise SpecError(
            path,
            f"must be a 64-bit integer (from -2**63 to 2**63-1), not {clip(text.strip(), 40)}",
            "use a smaller value",
        )
    value = float(text)
    if not math.isfinite(value):
        raise SpecError(path, f"must be a finite number, not {text!r}", 'e.g. "0.01"')
    return value


def check_parameters(parameters: Sequence[ParameterSpec], *, merge_repeats: bool = False) -> None:
    """Katib's rules for a spec's parameters, in order: a SpecError at the first problem.

    ``merge_repeats`` accepts a list value written twice (a search space built directly merges
    equal entries; a spec may not repeat one).
    """
    if not parameters:
        raise SpecError(
            "spec.parameters",
            "spec.parameters must be specified",
            "give at least one parameter to tune, e.g. "
            '{name: lr, parameterType: double, feasibleSpace: {min: "0.001", max: "0.1"}}',
        )
    seen: set[str] = set()
    for i, param in enumerate(parameters):
        if param.name in seen:
            raise SpecError(
                f"spec.parameters[{i}].name",
                f"duplicate parameter name {param.name!r}",
                "give each parameter its own name",
            )
        seen.add(param.name)
        check_parameter(param, f"spec.parameters[{i}]", merge_repeats=merge_repeats)


def check_parameter(param: ParameterSpec, path: str, *, merge_repeats: bool = False) -> None:
    """Katib's rules for one parameter at ``path`` (``spec.parameters[i]``)."""
    fs = param.feasible_space
    fp = f"{path}.feasibleSpace"
    ptype = param.parameter_type
    if ptype in (ParameterType.DOUBLE, ParameterType.INT):
        integer = ptype is ParameterType.INT
        if fs.list:
            raise SpecError(
                f"{fp}.list",
                f"feasibleSpace.list is not supported for parameterType: {ptype.value}",
                "give min and max, or make the parameter discrete or categorical",
            )
        bounds: dict[str, str] = {}
        for key, value in (("min", fs.min), ("max", fs.max)):
            if value is None:
                raise SpecError(
                    f"{fp}.{key}",
                    f"feasibleSpace.max and feasibleSpace.min must be specified for "
                    f"parameterType: {ptype.value}",
                    'e.g. feasibleSpace: {min: "1", max: "10"}',
                )
            bounds[key] = value
        low = number(bounds["min"], f"{fp}.min", integer=integer)
        high = number(bounds["max"], f"{fp}.max", integer=integer)
        if low > high:
            raise SpecError(
                f"{fp}.min",
                f"min ({fs.min}) is greater than max ({fs.max})",
                "swap them, or fix the bound",
            )
        if not math.isfinite(high - low):
            raise SpecError(
                f"{fp}.max",
                f"the range from {fs.min} to {fs.max} is too wide: max - min overflows a float",
                "narrow the range, or search a log scale",
            )
        if fs.step is not None:
            step = number(fs.step, f"{fp}.step", integer=integer)
            if step <= 0:
                raise SpecError(
                    f"{fp}.step",
                    f"step must be positive, not {fs.step!r}",
                    "use a step greater than 0, or leave it out",
                )
        if fs.distribution in (Distribution.LOG_UNIFORM, Distribution.LOG_NORMAL) and low <= 0:
            raise SpecError(
                f"{fp}.min",
                f"a {fs.distribution.value} distribution needs min > 0, not {fs.min!r}",
                "raise min above 0, or use the uniform distribution",
            )
        return
    for key, value in (("min", fs.min), ("max", fs.max), ("step", fs.step)):
        if value is not None:
            raise SpecError(
                f"{fp}.{key}",
                f"feasibleSpace .max, .min and .step is not supported for parameterType: "
                f"{ptype.value}",
                "list the values in feasibleSpace.list",
            )
    if not fs.list:
        raise SpecError(
            f"{fp}.list",
            f"a {ptype.value} parameter needs a non-empty feasibleSpace.list",
            'e.g. list: ["16", "32", "64"]'
            if ptype is ParameterType.DISCRETE
            else "e.g. list: [sgd, adam]",
        )
    seen: set[str] = set()
    for j, item in enumerate(fs.list):
        if item in seen and not merge_repeats:
            raise SpecError(f"{fp}.list[{j}]", f"duplicate value {item!r}", "list each value once")
        seen.add(item)
        if ptype is ParameterType.DISCRETE:
            number(item, f"{fp}.list[{j}]", integer=False)


#: The annotation that carries conditions in a Katib document (Katib prunes unknown fields).
ACTIVE_WHEN_ANNOTATION = "tunery.dev/active-when"
_PARENT_TYPES = (ParameterType.CATEGORICAL, ParameterType.DISCRETE, ParameterType.INT)


def condition_path(parameters: Sequence[ParameterSpec], index: int, *, katib: bool) -> str:
    """Where parameter ``index``'s condition is written: the field, or the Katib annotation."""
    if katib:
        return f"metadata.annotations[{ACTIVE_WHEN_ANNOTATION}].{parameters[index].name}"
    return f"spec.parameters[{index}].activeWhen"


def value_matches(parent: ParameterSpec, value: object) -> bool:
    """True when ``value`` is one of the values a categorical/discrete/int ``parent`` takes."""
    fs = parent.feasible_space
    text = str(value).strip() if not isinstance(value, bool) else ""
    if parent.parameter_type is ParameterType.CATEGORICAL:
        return text in fs.list
    if parent.parameter_type is ParameterType.DISCRETE:
        if not NUMBER.match(text):
            return False
        return any(NUMBER.match(e.strip()) and float(e) == float(text) for e in fs.list)
    if not _INTEGER.match(text):
        try:
            as_float = float(text)
        except ValueError:
            return False
        if not as_float.is_integer():
            return False
        text = str(int(as_float))
    low, high = int((fs.min or "0").strip()), int((fs.max or "0").strip())
    step = int(fs.step.strip()) if fs.step is not None and fs.step.strip() else 1
    number_ = int(text)
    return low <= number_ <= high and (number_ - low) % step == 0


def check_conditions(parameters: Sequence[ParameterSpec], *, katib: bool = False) -> None:
    """The rules of ``activeWhen`` (after :func:`check_parameters`): known parents other than
    the parameter itself, categorical/discrete/int parents, values in the parent's feasible
    space, no cycle.  ``katib``: name the annotation in errors instead of the field."""
    by_name = {p.name: p for p in parameters}
    for i, param in enumerate(parameters):
        path = condition_path(parameters, i, katib=katib)
        for parent_name, values in param.active_when:
            where = f"{path}.{parent_name}"
            if parent_name == param.name:
                raise SpecError(
                    where,
                    f"parameter {param.name!r} depends on itself",
                    "name another parameter (e.g. the categorical that chooses it)",
                )
            parent = by_name.get(parent_name)
            if parent is None:
                raise SpecError(
                    where,
                    f"unknown parameter {parent_name!r}",
                    f"name one of: {', '.join(p.name for p in parameters if p is not param)}",
                )
            if parent.parameter_type not in _PARENT_TYPES:
                raise SpecError(
                    where,
                    f"parameter {parent_name!r} is a {parent.parameter_type.value}; a condition "
                    f"needs a categorical, discrete or int parameter",
                    f"condition on a categorical, discrete or int parameter, or make "
                    f"{parent_name!r} discrete (list its values)",
                )
            if not values:
                raise SpecError(
                    where, "lists no value", f"list the values of {parent_name!r} that activate it"
                )
            for j, value in enumerate(values):
                if not value_matches(parent, value):
                    raise SpecError(
                        f"{where}[{j}]",
                        f"{value!r} is not a value of {parent_name!r}",
                        "give values from its feasibleSpace"
                        + (
                            f": {', '.join(parent.feasible_space.list)}"
                            if parent.feasible_space.list
                            else ""
                        ),
                    )
    _check_acyclic(parameters, katib=katib)


def _check_acyclic(parameters: Sequence[ParameterSpec], *, katib: bool) -> None:
    index = {p.name: i for i, p in enumerate(parameters)}
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        trail.append(name)
        for parent, _ in parameters[index[name]].active_when:
            if state.get(parent) == 1:
                cycle = [*trail[trail.index(parent) :], parent]
                raise SpecError(
                    condition_path(parameters, index[name], katib=katib) + f".{parent}",
                    f"conditions form a cycle (each depends on the next): {' -> '.join(cycle)}",
                    "make the conditions a tree: a parameter may not depend on what depends on it",
                )
            if state.get(parent) is None:
                visit(parent, trail)
        trail.pop()
        state[name] = 2

    for param in parameters:
        if param.name not in state:
            visit(param.name, [])
