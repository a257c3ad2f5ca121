"""What the CLI shows of a multi-objective experiment: the Pareto front as a table (``tunery
best``), its size and hypervolume (``tunery get``), and the list's "best" cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunery.cli._common import _short
from tunery.model import Experiment, Objective, ObjectiveType, Trial
from tunery.objectives import FrontSummary, constraint_values, objective_values

__all__ = ["constraint_line", "front_lines", "front_table", "mo_lines", "reference_text"]


def _arrow(direction: ObjectiveType) -> str:
    return "↓" if direction is ObjectiveType.MINIMIZE else "↑"


def reference_text(objective: Objective, summary: FrontSummary) -> str:
    """``accuracy=0, latency_ms=100 (stated)`` or ``... (default: nadir + 10% of the range)``."""
    if summary.reference is None:
        return "none yet"
    values = ", ".join(
        f"{t.metric}={_short(v)}" for t, v in zip(objective.terms, summary.reference, strict=True)
    )
    how = (
        "stated in the spec" if summary.stated else "default: the front's nadir + 10% of its range"
    )
    return f"{values} ({how})"


def front_lines(exp: Experiment, summary: FrontSummary) -> list[str]:
    """``tunery get``'s lines about the front."""
    objective = exp.spec.objective
    if not summary.front:
        feasible = " feasible" if objective.constraints else ""
        return [f"pareto front: empty (no completed{feasible} trial with every objective yet)"]
    volume = "-" if summary.hypervolume is None else _short(summary.hypervolume)
    return [
        f"pareto front: {len(summary.front)} trials, hypervolume {volume}",
        f"reference point: {reference_text(objective, summary)}",
        f"see them with `tunery best {exp.command_ref}`",
    ]


def mo_lines(exp: Experiment, trials: Sequence[Trial]) -> list[str] | None:
    """The front's lines of a multi-objective experiment (None for a single objective)."""
    from tunery.objectives import front_summary

    if not exp.spec.objective.is_multi:
        return None
    return front_lines(exp, front_summary(exp.spec.objective, trials))


def constraint_line(objective: Objective, trial: Trial) -> str | None:
    """``constraints: memory_mb=300 (max 512), recall=0.7 (0.5..1)`` or None without any."""
    if not objective.constraints:
        return None
    parts = []
    for c, value in zip(objective.constraints, constraint_values(objective, trial), strict=True):
        if c.min is not None and c.max is not None:
            bound = f"{_short(c.min)}..{_short(c.max)}"
        elif c.max is not None:
            bound = f"max {_short(c.max)}"
        else:
            bound = f"min {_short(c.min)}"
        parts.append(f"{c.metric}={'-' if value is None else _short(value)} ({bound})")
    return "constraints: " + ", ".join(parts)


def front_table(exp: Experiment, front: Sequence[Trial]) -> Any:
    """The front as a rich table: trial, each objective (↑ maximised, ↓ minimised), each
    constraint's metric, each parameter."""
    from rich import box
    from rich.table import Table

    from tunery.spec import format_value

    objective = exp.spec.objective
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"pareto front of {exp.name}: {len(front)} trials",
        title_justify="left",
    )
    table.add_column("trial", no_wrap=True)
    for term in objective.terms:
        table.add_column(f"{term.metric} {_arrow(term.type)}", justify="right", no_wrap=True)
    shown = {t.metric for t in objective.terms}
    constraint_metrics = [c.metric for c in objective.constraints if c.metric not in shown]
    for metric in constraint_metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    for p in exp.spec.parameters:
        table.add_column(p.name, no_wrap=True)
    for trial in front:
        values = objective_values(objective, trial) or ()
        bounds = dict(
            zip(
                [c.metric for c in objective.constraints],
                constraint_values(objective, trial),
                strict=True,
            )
        )
        table.add_row(
            trial.name,
            *(_short(v) for v in values),
            *(
                _short(bounds.get(m)) if bounds.get(m) is not None else "-"
                for m in constraint_metrics
            ),
            *(
                format_value(trial.parameters[p.name]) if p.name in trial.parameters else "-"
                for p in exp.spec.parameters
            ),
        )
    return table
