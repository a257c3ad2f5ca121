"""The CLI's views of string objectives and NAS architectures (``tunery trials``, ``best``,
``get``, ``list``): cells elided in tables, the whole text and the layers in ``best``/``get``
(``--json`` has every string whole)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Widths of the table cells a string objective, an architecture and a string parameter get.
OBJECTIVE_WIDTH = 40
ARCHITECTURE_WIDTH = 60
PARAMETER_WIDTH = 40


def param_cell(value: Any) -> str:
    """A parameter's cell: a string longer than :data:`PARAMETER_WIDTH` elided (an ENAS
    ``nn_config`` is kilobytes), anything else as ``_short`` writes it."""
    if isinstance(value, str) and len(value) > PARAMETER_WIDTH:
        from tunery.nas.render import elide

        return elide(value, PARAMETER_WIDTH)
    from tunery.cli._common import _short

    return _short(value)


def objective_text(spec: Any, trial: Any) -> str | None:
    """A trial's (model trial's or bulk row's) string objective, or None."""
    text = getattr(trial, "objective_text", None)
    if text is not None or getattr(trial, "objective", None) is not None:
        return text
    metric = spec.objective.objective_metric_name
    raw = trial.metrics.get(metric) if isinstance(trial.metrics, Mapping) else None
    if raw is None:
        return None
    from tunery.model import MetricSummary

    if isinstance(raw, MetricSummary):
        return raw.pick_text(spec.objective.strategy_for(metric))
    if isinstance(raw, Mapping) and raw.get("text") is not None:
        summary = MetricSummary.from_json(raw)
        return summary.pick_text(spec.objective.strategy_for(metric))
    return None


def objective_cell(spec: Any, trial: Any) -> str | None:
    """The objective cell of a string objective: a genotype's cells in short, else the text,
    elided; None for a number."""
    from tunery.nas.render import ArchitectureError, elide, parse_genotype

    text = objective_text(spec, trial)
    if text is None:
        return None
    if text.lstrip().startswith("Genotype("):
        try:
            return elide(parse_genotype(text).summary(), OBJECTIVE_WIDTH)
        except ArchitectureError:
            pass
    return elide(text, OBJECTIVE_WIDTH)


def architecture_cell(trial: Any) -> str | None:
    """An ENAS trial's layers on one line, elided; None when its parameters have none."""
    if not isinstance(trial.parameters.get("architecture"), str):  # (10,000 rows: no import)
        return None
    from tunery.nas.render import ARCHITECTURE, elide, trial_architecture

    arc = trial_architecture(trial.parameters)
    if arc is None:
        return elide(str(trial.parameters[ARCHITECTURE]), ARCHITECTURE_WIDTH)
    return elide(arc.summary(), ARCHITECTURE_WIDTH)


def best_lines(spec: Any, trial: Any) -> list[str]:
    """What ``best``/``get`` add for a string objective or a NAS trial: its architecture
    readable, under ``layers:`` (ENAS, one line per layer) or ``cells:`` (a DARTS genotype,
    one line per cell node); nothing for a plain trial."""
    from tunery.nas.render import trial_architecture

    arc = trial_architecture(trial.parameters, (objective_text(spec, trial),))
    if arc is None:
        return []
    title = "layers:" if arc.kind == "enas" else "cells:"
    return [title, *(f"  {line}" for line in arc.lines())]
