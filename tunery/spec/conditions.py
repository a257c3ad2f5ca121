"""Conditional parameters in documents: ``parameters[].activeWhen`` and its Katib annotation.

Native form (``tunery/v1``)::

    parameters:
      - {name: model, parameterType: categorical, feasibleSpace: {list: [svm, rf]}}
      - name: C
        parameterType: double
        feasibleSpace: {min: "0.001", max: "1000", distribution: logUniform}
        activeWhen: {model: [svm]}          # several keys: all must hold

A value may be written alone (``{model: svm}``) for a one-value list.

Katib form (``kubeflow.org/v1beta1``): Katib's API server drops fields it does not know, so the
conditions travel in one annotation, JSON mapping each conditional parameter to its
``activeWhen``::

    metadata:
      annotations:
        tunery.dev/active-when: '{"C": {"model": ["svm"]}, "depth": {"model": ["rf"]}}'

Katib itself ignores the annotation (it then searches every parameter), so the document stays
valid for Katib; a document without it is unchanged.  The rules (known parents,
categorical/discrete/int parents, values of the parent, no cycle) are
:func:`tunery.parameters.check_conditions`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tunery.errors import SpecError
from tunery.model import ActiveWhen, ParameterSpec
from tunery.parameters import ACTIVE_WHEN_ANNOTATION
from tunery.spec.katib import _mapping, _scalar_str

__all__ = [
    "ACTIVE_WHEN_ANNOTATION",
    "apply_annotation",
    "read_active_when",
    "write_active_when",
    "write_annotation",
]

_EXAMPLE = "e.g. activeWhen: {model: [svm]}"


def read_active_when(value: Any, path: str) -> ActiveWhen:
    """``{parent: [values]}`` (or ``{parent: value}``) as the model's tuple form."""
    if value is None:
        return ()
    conditions = _mapping(
        value, path, what=f"a mapping of parent parameters to values ({_EXAMPLE})"
    )
    if not conditions:
        raise SpecError(path, "names no parent parameter", f"{_EXAMPLE}, or leave it out")
    out: list[tuple[str, tuple[str, ...]]] = []
    for parent, values in conditions.items():
        where = f"{path}.{parent}"
        items = values if isinstance(values, list) else [values]
        if not items:
            raise SpecError(
                where, "lists no value", f"list the values of {parent!r} that activate it"
            )
        out.append((parent, tuple(_scalar_str(v, f"{where}[{j}]") for j, v in enumerate(items))))
    return tuple(out)


def write_active_when(active_when: ActiveWhen) -> dict[str, list[str]]:
    """The document form of a condition (values as strings, like feasibleSpace lists)."""
    return {parent: [str(v) for v in values] for parent, values in active_when}


def apply_annotation(
    parameters: Sequence[ParameterSpec], annotations: dict[str, str]
) -> tuple[ParameterSpec, ...]:
    """Pop the ``tunery.dev/active-when`` annotation into the parameters it names."""
    text = annotations.pop(ACTIVE_WHEN_ANNOTATION, None)
    if text is None:
        return tuple(parameters)
    path = f"metadata.annotations[{ACTIVE_WHEN_ANNOTATION}]"
    hint = 'a JSON object, e.g. \'{"C": {"model": ["svm"]}}\''
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SpecError(path, f"is not valid JSON ({exc})", hint) from None
    if not isinstance(data, dict):
        raise SpecError(path, "must be a JSON object of parameter names", hint)
    by_name = {p.name: p for p in parameters}
    for name in data:
        if name not in by_name:
            raise SpecError(
                f"{path}.{name}",
                f"names no parameter: {name!r}",
                f"the parameters are: {', '.join(by_name)}",
            )
    out: list[ParameterSpec] = []
    for param in parameters:
        if param.name not in data:
            out.append(param)
            continue
        if param.active_when:
            raise SpecError(
                f"{path}.{param.name}",
                f"parameter {param.name!r} also has activeWhen",
                "give its condition once: in the annotation or in activeWhen",
            )
        conditions = read_active_when(data[param.name], f"{path}.{param.name}")
        out.append(replace(param, active_when=conditions))
    return tuple(out)


def write_annotation(parameters: Sequence[ParameterSpec], annotations: dict[str, str]) -> None:
    """Add the annotation of the parameters' conditions (Katib form), if any."""
    conditions: Mapping[str, Any] = {
        p.name: write_active_when(p.active_when) for p in parameters if p.active_when
    }
    if conditions:
        annotations[ACTIVE_WHEN_ANNOTATION] = json.dumps(conditions, separators=(", ", ": "))
