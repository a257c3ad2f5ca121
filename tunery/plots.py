"""Axes of the SDK's plotly figures (``Experiment.plot_*``): one parameter's parallel-coordinates
dimension, drawn as the search space defines the parameter.

- categorical: one tick per category, in the space's order;
- int (and discrete with whole values only): whole ticks only;
- double with a ``logUniform`` or ``logNormal`` distribution: plotly's parallel coordinates have
  no log axis, so the values are drawn as ``log10(value)`` and the ticks are labelled with the
  values themselves (whole decades, else 1-2-5 steps, else the ends);
- any other number: plotly's own axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tunery.model import Distribution, ParameterSpec, ParameterType

#: At most this many ticks on a whole-number axis.
MAX_INT_TICKS = 11
_LOG_DISTRIBUTIONS = (Distribution.LOG_UNIFORM, Distribution.LOG_NORMAL)
_NICE_STEPS = [m * 10**e for e in range(0, 20) for m in (1, 2, 5)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def is_integer_axis(p: ParameterSpec) -> bool:
    if p.parameter_type is ParameterType.INT:
        return True
    if p.parameter_type is ParameterType.DISCRETE and p.feasible_space.list:
        numbers = [_number(v) for v in p.feasible_space.list]
        return all(n is not None and n.is_integer() for n in numbers)
    return False


def is_log_axis(p: ParameterSpec) -> bool:
    return (
        p.parameter_type is ParameterType.DOUBLE
        and p.feasible_space.distribution in _LOG_DISTRIBUTIONS
    )


def integer_ticks(low: float, high: float) -> list[int]:
    """Whole numbers from ``low`` to ``high``, every one or every 2, 5, 10, ... of them."""
    first, last = math.ceil(low), math.floor(high)
    if last < first:
        return []
    step = next(s for s in _NICE_STEPS if (last - first) // s + 1 <= MAX_INT_TICKS)
    start = math.ceil(first / step) * step
    return list(range(start, last + 1, step))


def log_ticks(low: float, high: float) -> list[float]:
    """Tick positions (log10 of the values) between ``low`` and ``high`` (log10 too)."""
    eps = 1e-9
    decades = [float(d) for d in range(math.ceil(low - eps), math.floor(high + eps) + 1)]
    if len(decades) >= 2:
        return decades
    steps = [
        math.log10(m) + d
        for d in range(math.floor(low) - 1, math.ceil(high) + 1)
        for m in (1, 2, 5)
    ]
    inside = [s for s in steps if low - eps <= s <= high + eps]
    if len(inside) >= 2:
        return inside
    return [low, high] if high > low else [low]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def parcoords_dimension(p: ParameterSpec, values: Sequence[Any]) -> dict[str, Any]:
    """The plotly ``Parcoords`` dimension of parameter ``p`` with the trials' ``values``."""
    if p.parameter_type is ParameterType.CATEGORICAL:
        labels = list(p.feasible_space.list)
        for v in values:
            if v is not None and str(v) not in labels:
                labels.append(str(v))
        return {
            "label": p.name,
            "values": [labels.index(str(v)) if v is not None else None for v in values],
            "tickvals": list(range(len(labels))),
            "ticktext": labels,
        }
    numbers = [_number(v) for v in values]
    present = [n for n in numbers if n is not None]
    if is_log_axis(p) and present and all(n > 0 for n in present):
        logs = [math.log10(n) if n is not None else None for n in numbers]
        low, high = min(math.log10(n) for n in present), max(math.log10(n) for n in present)
        ticks = log_ticks(low, high)
        return {
            "label": f"{p.name} (log)",
            "values": logs,
            "tickvals": ticks,
            "ticktext": [_fmt(10**t) for t in ticks],
        }
    if is_integer_axis(p) and present:
        whole = integer_ticks(min(present), max(present))
        return {
            "label": p.name,
            "values": numbers,
            "tickvals": whole,
            "ticktext": [str(t) for t in whole],
        }
    return {"label": p.name, "values": numbers}
