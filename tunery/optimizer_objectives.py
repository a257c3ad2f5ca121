"""The ask/tell ``Optimizer``'s several objectives and constraints: its arguments as a spec's
``objectives``/``constraints``, and what ``tell`` accepts as a result.

``Optimizer(objectives=[("accuracy", "maximize"), ("latency", "minimize")])`` (or dicts
``{"metric", "direction", "goal", "reference"}``) and ``constraints=[{"metric": "memory",
"max": 512}]`` (or tuples ``(metric, min, max)``, None for no bound).  ``tell(s, [v1, v2])``
gives each objective's value in order; ``tell(s, {"accuracy": 0.9, "latency": 12, "memory":
300})`` gives metrics by name (every objective's, the constraints' for feasibility, any other
to keep).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tunery.errors import UserInputError
from tunery.model import Objective

__all__ = ["constraint_entries", "intermediate_metrics", "objective_entries", "result_metrics"]


def _metric_name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserInputError(
            f"{where}: the metric must be a non-empty string, not {value!r}",
            "e.g. ('accuracy', 'maximize')",
        )
    return value


def objective_entries(objectives: object) -> list[dict[str, Any]]:
    """``objectives=`` as ``spec.objectives`` entries (checked again by the spec)."""
    if isinstance(objectives, str | bytes | Mapping) or not isinstance(objectives, Sequence):
        raise UserInputError(
            f"objectives must be a list of (metric, direction) pairs or dicts, not "
            f"{type(objectives).__name__}",
            "e.g. objectives=[('accuracy', 'maximize'), ('latency', 'minimize')]",
        )
    if not objectives:
        raise UserInputError(
            "objectives must name at least one objective",
            "e.g. objectives=[('accuracy', 'maximize'), ('latency', 'minimize')]",
        )
    out: list[dict[str, Any]] = []
    for i, item in enumerate(objectives):
        where = f"objectives[{i}]"
        if isinstance(item, Mapping):
            entry = dict(item)
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 2:
            entry = {"metric": item[0], "direction": item[1]}
        else:
            raise UserInputError(
                f"{where} must be a (metric, direction) pair or a dict, not {item!r}",
                "e.g. ('latency', 'minimize') or {'metric': 'accuracy', 'direction': "
                "'maximize', 'goal': 0.95}",
            )
        _metric_name(entry.get("metric"), where)
        out.append(entry)
    return out


def constraint_entries(constraints: object) -> list[dict[str, Any]]:
    """``constraints=`` as ``spec.constraints`` entries (checked again by the spec)."""
    if isinstance(constraints, str | bytes | Mapping) or not isinstance(constraints, Sequence):
        raise UserInputError(
            f"constraints must be a list of dicts or (metric, min, max) tuples, not "
            f"{type(constraints).__name__}",
            "e.g. constraints=[{'metric': 'memory_mb', 'max': 512}]",
        )
    out: list[dict[str, Any]] = []
    for i, item in enumerate(constraints):
        where = f"constraints[{i}]"
        if isinstance(item, Mapping):
            entry = dict(item)
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 3:
            entry = {"metric": item[0]}
            if item[1] is not None:
                entry["min"] = item[1]
            if item[2] is not None:
                entry["max"] = item[2]
        else:
            raise UserInputError(
                f"{where} must be a dict or a (metric, min, max) tuple, not {item!r}",
                "e.g. {'metric': 'memory_mb', 'max': 512} or ('memory_mb', None, 512)",
            )
        _metric_name(entry.get("metric"), where)
        out.append(entry)
    return out


def _number(value: object, where: str) -> float:
    if isinstance(value, str | bytes | bool) or value is None:
        raise UserInputError(f"{where} must be a number, not {value!r}", "pass a float")
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]
    except (TypeError, ValueError):
        raise UserInputError(f"{where} must be a number, not {value!r}", "pass a float") from None


def result_metrics(objective: Objective, value: object) -> dict[str, float] | None:
    """A ``tell`` value of an experiment with several objectives or constraints as metrics by
    name; None when ``value`` is a plain number or None, or the experiment has one objective
    and no constraint (the single-objective path: a number or None only)."""
    if not objective.is_multi and not objective.constraints:
        return None
    names = [t.metric for t in objective.terms]
    if isinstance(value, Mapping):
        metrics = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UserInputError(
                    f"tell(): metric names must be strings, not {key!r}", f"e.g. {names}"
                )
            metrics[key] = _number(item, f"tell(): value[{key!r}]")
        missing = [n for n in names if n not in metrics]
        if missing:
            raise UserInputError(
                f"tell(): the result has no {missing[0]!r}",
                f"give every objective's metric: {', '.join(names)} (or tell(s, None) for a "
                "failure)",
            )
        return metrics
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if len(value) != len(names):
            raise UserInputError(
                f"tell(): {len(value)} values for {len(names)} objectives ({', '.join(names)})",
                "give one value per objective, in order, or a dict of metrics",
            )
        return {
            n: _number(v, f"tell(): value[{i}]")
            for i, (n, v) in enumerate(zip(names, value, strict=True))
        }
    if objective.is_multi and value is not None:
        raise UserInputError(
            f"tell(): {len(names)} objectives need a list or a dict, not one number",
            f"e.g. tell(s, [{', '.join('v' + str(i + 1) for i in range(len(names)))}]) or a "
            f"dict of {', '.join(names)}",
        )
    return None


def intermediate_metrics(objective: Objective, value: object, verb: str) -> dict[str, float]:
    """An intermediate result (``report``/``should_stop``) of an experiment with several
    objectives or constraints, as metrics by name: a list of one value per objective (None for
    one not measured at this step) or a dict of metrics (any subset: a step may report some
    objectives only, and early stopping then compares it on those)."""
    names = [t.metric for t in objective.terms]
    if isinstance(value, Mapping):
        items = list(value.items())
        for key, _ in items:
            if not isinstance(key, str):
                raise UserInputError(
                    f"{verb}(): metric names must be strings, not {key!r}", f"e.g. {names}"
                )
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if len(value) != len(names):
            raise UserInputError(
                f"{verb}(): {len(value)} values for {len(names)} objectives ({', '.join(names)})",
                "give one value per objective, in order (None for one not measured), or a dict",
            )
        items = list(zip(names, value, strict=True))
    else:
        raise UserInputError(
            f"{verb}(): {len(names)} objectives need a list or a dict, not {value!r}",
            f"e.g. {verb}(s, [{', '.join('v' + str(i + 1) for i in range(len(names)))}], step)"
            f" or a dict of {', '.join(names)}",
        )
    return {k: _number(v, f"{verb}(): value[{k!r}]") for k, v in items if v is not None}
