"""The SDK's plotly figures (``Experiment.plot_*``) and their parameter axes, drawn as the
search space defines each parameter.

- categorical: one tick per category, in the space's order;
- int (and discrete with whole values only): whole ticks only;
- double with a ``logUniform`` or ``logNormal`` distribution: plotly's parallel coordinates have
  no log axis, so the values are drawn as ``log10(value)`` and the ticks are labelled with the
  values themselves (whole decades, else 1-2-5 steps, else the ends);
- any other number: plotly's own axis.

Every figure is a plotly ``Figure``: ``fig.show()``, ``fig.write_html(...)``, and, with
``pip install 'tunery[export]'`` (kaleido, which drives the installed Chrome or Chromium),
``fig.write_image("fig.png")`` (or ``.svg``, ``.pdf``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunery.model import (
    Distribution,
    ExperimentSpec,
    Observation,
    ParameterSpec,
    ParameterType,
    Trial,
    TrialCondition,
)

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


#: The tick of a conditional parameter's axis where the trials that left it inactive sit.
INACTIVE_TICK = "inactive"


def parcoords_dimension(p: ParameterSpec, values: Sequence[Any]) -> dict[str, Any]:
    """The plotly ``Parcoords`` dimension of parameter ``p`` with the trials' ``values``.

    A conditional parameter's inactive trials (None) sit on an ``inactive`` tick below the
    axis's values (plotly draws no line with a missing value)."""
    dim = _dimension(p, values)
    if not p.active_when or all(v is not None for v in values):
        return dim
    present = [v for v in dim["values"] if v is not None]
    if "ticktext" in dim and p.parameter_type is ParameterType.CATEGORICAL:
        at: float = -1
    else:
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        at = lo - (0.15 * (hi - lo) if hi > lo else 1.0)
        if "tickvals" not in dim:
            dim["tickvals"] = [lo + (hi - lo) * k / 4 for k in range(5)] if hi > lo else [lo]
            dim["ticktext"] = [_fmt(t) for t in dim["tickvals"]]
        dim["range"] = [at, hi if hi > lo else lo + 1.0]
    dim["values"] = [at if v is None else v for v in dim["values"]]
    dim["tickvals"] = [at, *dim["tickvals"]]
    dim["ticktext"] = [INACTIVE_TICK, *dim["ticktext"]]
    return dim


def _dimension(p: ParameterSpec, values: Sequence[Any]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- figures


def slice_figure(go: Any, name: str, spec: ExperimentSpec, trials: Sequence[Trial]) -> Any:
    """One panel per parameter: each finished trial's objective against the parameter's value
    (log axis for log-scale doubles, whole ticks for ints, the space's order for categories),
    coloured by the trial's index."""
    from plotly.subplots import make_subplots

    done = [t for t in trials if t.objective is not None]
    metric = spec.objective.objective_metric_name
    params = list(spec.parameters)
    fig = make_subplots(rows=1, cols=max(1, len(params)), shared_yaxes=True)
    for col, p in enumerate(params, start=1):
        # (a conditional parameter's panel shows the trials where it was active)
        shown = [t for t in done if t.parameters.get(p.name) is not None]
        values = [t.parameters[p.name] for t in shown]
        fig.add_trace(
            go.Scatter(
                x=[str(v) if p.parameter_type is ParameterType.CATEGORICAL else v for v in values],
                y=[t.objective for t in shown],
                mode="markers",
                name=p.name,
                text=[t.name for t in shown],
                marker={
                    "color": [t.index for t in shown],
                    "colorscale": "Blues",
                    "showscale": col == 1,
                    "colorbar": {"title": {"text": "trial"}},
                },
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        axis: dict[str, Any] = {"title": {"text": p.name}}
        present = [n for n in (_number(v) for v in values) if n is not None]
        if p.parameter_type is ParameterType.CATEGORICAL:
            axis.update(
                type="category", categoryorder="array", categoryarray=list(p.feasible_space.list)
            )
        elif is_log_axis(p) and present and all(n > 0 for n in present):
            axis["type"] = "log"
        elif is_integer_axis(p) and present:
            axis.update(tickmode="array", tickvals=integer_ticks(min(present), max(present)))
        fig.update_xaxes(axis, row=1, col=col)
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_layout(title=f"{name}: slice plot")
    return fig


def edf_figure(go: Any, name: str, spec: ExperimentSpec, trials: Sequence[Trial]) -> Any:
    """The empirical distribution of the objective: for each value, the fraction of finished
    trials whose objective is at most that value."""
    values = sorted(float(t.objective) for t in trials if t.objective is not None)
    n = len(values)
    metric = spec.objective.objective_metric_name
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=[(i + 1) / n for i in range(n)],
            mode="lines",
            line={"shape": "hv"},
            name=name,
        )
    )
    fig.update_layout(
        title=f"{name}: empirical distribution of {metric}",
        xaxis_title=metric,
        yaxis={"title": {"text": "cumulative probability"}, "range": [0, 1.02]},
    )
    return fig


#: Bar colours of the timeline, by trial status.
STATUS_COLOURS = {
    "Succeeded": "#2f9e44",
    "EarlyStopped": "#74c0fc",
    "Running": "#fab005",
    "Created": "#adb5bd",
    "Failed": "#e03131",
    "MetricsUnavailable": "#c2255c",
    "Killed": "#868e96",
}


def timeline_figure(go: Any, name: str, trials: Sequence[Trial], now: float) -> Any:
    """Each started trial as a bar from its start to its completion (``now`` while it runs),
    one row per trial, coloured by status: shows the parallelism and the idle gaps."""
    started = sorted((t for t in trials if t.start_time is not None), key=lambda t: t.index)
    fig = go.Figure()
    for status in STATUS_COLOURS:
        group = [t for t in started if t.status.value == status]
        if not group:
            continue
        starts = [float(t.start_time) for t in group]  # type: ignore[arg-type]
        ends = [t.completion_time if t.completion_time is not None else now for t in group]
        fig.add_trace(
            go.Bar(
                name=status,
                orientation="h",
                y=[t.name for t in group],
                base=[s * 1000 for s in starts],
                x=[(e - s) * 1000 for s, e in zip(starts, ends, strict=True)],
                marker={"color": STATUS_COLOURS[status]},
            )
        )
    fig.update_layout(
        title=f"{name}: timeline",
        xaxis={"type": "date", "title": {"text": "time"}},
        yaxis={
            "title": {"text": "trial"},
            "categoryorder": "array",
            "categoryarray": [t.name for t in started],
            "autorange": "reversed",
        },
        barmode="overlay",
    )
    return fig


def intermediate_figure(
    go: Any,
    name: str,
    spec: ExperimentSpec,
    trials: Sequence[Trial],
    observations: Sequence[Observation],
) -> Any:
    """Every trial's learning curve of the objective metric on one chart (value by step);
    early-stopped trials dashed, an ``x`` where they stopped."""
    metric = spec.objective.objective_metric_name
    curves: dict[str, list[tuple[int, float]]] = {}
    for o in observations:
        if o.metric_name == metric and o.value is not None and math.isfinite(o.value):
            curves.setdefault(o.trial_name, []).append((o.step, o.value))
    fig = go.Figure()
    for t in sorted(trials, key=lambda t: t.index):
        points = sorted(curves.get(t.name, []), key=lambda p: p[0])
        if not points:
            continue
        stopped = t.status.value == "EarlyStopped"
        fig.add_trace(
            go.Scatter(
                name=t.name + (" (early-stopped)" if stopped else ""),
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="lines+markers" if len(points) > 1 else "markers",
                line={"dash": "dash" if stopped else "solid"},
                marker={
                    "size": [4] * (len(points) - 1) + [10 if stopped else 4],
                    "symbol": ["circle"] * (len(points) - 1) + ["x" if stopped else "circle"],
                },
            )
        )
    fig.update_layout(
        title=f"{name}: intermediate values of {metric}", xaxis_title="step", yaxis_title=metric
    )
    return fig


def contour_pairs(order: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of the parameters of ``order`` (the most important first), the most
    important pairs first: the pair of the first two, then the pairs the third makes with
    them, and so on.  The UI's contour selector lists them in this order too."""
    return [(order[i], order[j]) for j in range(1, len(order)) for i in range(j)]


def contour_figure(
    go: Any,
    name: str,
    spec: ExperimentSpec,
    trials: Sequence[Trial],
    order: Sequence[str],
    pairs: int = 3,
) -> Any:
    """The objective over pairs of parameters (interpolated between the trials, which are
    drawn as dots): the first ``pairs`` of :func:`contour_pairs` of ``order`` (the most
    important parameter first), one panel each."""
    from plotly.subplots import make_subplots

    done = [t for t in trials if t.objective is not None]
    by_name = {p.name: p for p in spec.parameters}
    chosen = contour_pairs([n for n in order if n in by_name])[:pairs]
    metric = spec.objective.objective_metric_name
    fig = make_subplots(
        rows=1, cols=max(1, len(chosen)), subplot_titles=[f"{a} / {b}" for a, b in chosen]
    )
    for col, (a, b) in enumerate(chosen, start=1):
        rows = [
            t for t in done if t.parameters.get(a) is not None and t.parameters.get(b) is not None
        ]
        xs = [_axis_value(by_name[a], t.parameters[a]) for t in rows]
        ys = [_axis_value(by_name[b], t.parameters[b]) for t in rows]
        zs = [t.objective for t in rows]
        fig.add_trace(
            go.Contour(
                x=xs,
                y=ys,
                z=zs,
                connectgaps=True,
                colorscale="Viridis",
                reversescale=spec.objective.type.value == "minimize",
                showscale=col == 1,
                colorbar={"title": {"text": metric}},
                name=f"{a} / {b}",
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                marker={"color": "black", "size": 4},
                text=[t.name for t in rows],
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        for p, update in ((by_name[a], fig.update_xaxes), (by_name[b], fig.update_yaxes)):
            axis: dict[str, Any] = {"title": {"text": p.name}}
            if p.parameter_type is ParameterType.CATEGORICAL:
                axis["type"] = "category"
            elif is_log_axis(p) and all(
                v is not None and float(v) > 0 for v in (xs if p.name == a else ys)
            ):
                axis["type"] = "log"
            update(axis, row=1, col=col)
    fig.update_layout(title=f"{name}: contour plot of {metric}")
    return fig


def _axis_value(p: ParameterSpec, value: Any) -> Any:
    return str(value) if p.parameter_type is ParameterType.CATEGORICAL else _number(value)


# --------------------------------------------------------------------------- Pareto front


@dataclass(frozen=True)
class ParetoPoint:
    """A completed trial (Succeeded or EarlyStopped) that reported every objective."""

    name: str
    index: int
    #: One value per objective, in the metric's own units.
    values: tuple[float, ...]
    feasible: bool
    #: On the Pareto front: feasible, and no feasible trial dominates it.
    front: bool


@dataclass(frozen=True)
class ParetoData:
    """What the Pareto charts draw (the UI's ``GET .../pareto``, the SDK's plots).

    ``reference``: the reference point in the metrics' units, as
    :func:`tunery.objectives.front_summary` gives it (``tunery get`` states the same one): the
    spec's ``reference`` values where every objective has one (``stated``), else
    :func:`tunery.pareto.reference_point` of the feasible trials' losses (per objective, the
    final front's worst value moved 10% of the front's range further); None without a
    feasible trial.  ``history``: ``(index, trial, hypervolume)`` after each point in index
    order, the hypervolume of the feasible trials so far against that one reference point (so
    it never decreases); past :data:`MAX_HISTORY` points, after every k-th point and the last
    (k the smallest that keeps it within, doubled each :data:`HISTORY_SECONDS` it takes)."""

    objectives: tuple[tuple[str, str], ...]
    constraints: tuple[tuple[str, float | None, float | None], ...]
    points: tuple[ParetoPoint, ...]
    reference: tuple[float, ...] | None
    stated: bool
    hypervolume: float | None
    history: tuple[tuple[int, str, float], ...]

    @property
    def front(self) -> list[ParetoPoint]:
        return [p for p in self.points if p.front]


_COMPLETED = (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED)
#: The most points of a hypervolume history (:func:`pareto_data`).
MAX_HISTORY = 300
#: Each time the history has taken this long, it samples half as often.
HISTORY_SECONDS = 1.0


def pareto_data(spec: ExperimentSpec, trials: Sequence[Trial]) -> ParetoData:
    """The front, the feasibility, the reference point and the hypervolume history of an
    experiment's trials: the completed ones (Succeeded, EarlyStopped) with every objective's
    value, by index (:mod:`tunery.objectives` reads the values and the feasibility and
    chooses the front and the reference point, as every face does; :mod:`tunery.pareto` does
    the maths on losses, every objective minimised)."""
    from tunery import pareto
    from tunery.objectives import front_summary, is_feasible, objective_losses, objective_values

    objective = spec.objective
    done = [t for t in sorted(trials, key=lambda t: t.index) if t.status in _COMPLETED]
    summary = front_summary(objective, done)
    on_front = {t.name for t in summary.front}
    points: list[ParetoPoint] = []
    losses: list[tuple[float, ...]] = []
    for t in done:
        values = objective_values(objective, t)
        loss = objective_losses(objective, t)
        if values is None or loss is None:
            continue
        points.append(
            ParetoPoint(t.name, t.index, values, is_feasible(objective, t), t.name in on_front)
        )
        losses.append(loss)
    history: list[tuple[int, str, float]] = []
    if summary.reference is not None:
        signs = [term.sign for term in objective.terms]
        ref_loss = tuple(s * r for s, r in zip(signs, summary.reference, strict=True))
        current: list[tuple[float, ...]] = []
        volume = 0.0
        changed = False
        # Past MAX_HISTORY points, after every k-th (and the last); k doubles whenever the
        # history has taken HISTORY_SECONDS (an exact hypervolume of a front of hundreds of
        # points in 3 or 4 objectives takes a tenth of a second).
        every = -(-len(points) // MAX_HISTORY)
        due = 0
        deadline = time.monotonic() + HISTORY_SECONDS
        last = len(points) - 1
        for k, (p, loss) in enumerate(zip(points, losses, strict=True)):
            if p.feasible and not any(_weakly_dominates(c, loss) for c in current):
                current = [c for c in current if not _weakly_dominates(loss, c)] + [loss]
                changed = True
            if k < due and k != last:
                continue
            if changed:
                final = summary.hypervolume if k == last else None
                volume = final if final is not None else pareto.hypervolume(current, ref_loss)
                changed = False
            history.append((p.index, p.name, volume))
            if time.monotonic() > deadline:
                every *= 2
                deadline = time.monotonic() + HISTORY_SECONDS
            due = k + every
    return ParetoData(
        objectives=tuple((term.metric, term.type.value) for term in objective.terms),
        constraints=tuple((c.metric, c.min, c.max) for c in objective.constraints),
        points=tuple(points),
        reference=summary.reference,
        stated=summary.stated,
        hypervolume=summary.hypervolume,
        history=tuple(history),
    )


def _weakly_dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` no worse than ``b`` anywhere (so ``b`` adds no volume to a set holding ``a``)."""
    return all(x <= y for x, y in zip(a, b, strict=True))


def objective_title(metric: str, direction: str) -> str:
    """An objective's axis title: its metric and its direction."""
    return f"{metric} ({'maximize ↑' if direction == 'maximize' else 'minimize ↓'})"


_KINDS = (
    ("front", "Pareto front", {"color": "#d1495b", "size": 9, "symbol": "circle"}),
    ("feasible", "dominated", {"color": "rgba(47,111,208,0.6)", "size": 6, "symbol": "circle"}),
    (
        "infeasible",
        "infeasible (violates a constraint)",
        {"color": "#868e96", "size": 7, "symbol": "x"},
    ),
)


def _kind(p: ParetoPoint) -> str:
    return "front" if p.front else "feasible" if p.feasible else "infeasible"


def pareto_figure(go: Any, name: str, data: ParetoData, three_d: bool = False) -> Any:
    """The trials in objective space: 2 objectives as one scatter with the front joined by its
    step line; 3 or more as a lower-triangular matrix of pairwise scatters (``three_d`` and
    exactly 3 objectives: one 3-D scatter instead).  Red: the front; blue: dominated; grey
    crosses: infeasible.  Each point's hover names its trial."""
    from plotly.subplots import make_subplots

    k = len(data.objectives)
    titles = [objective_title(m, d) for m, d in data.objectives]
    groups = {key: [p for p in data.points if _kind(p) == key] for key, _, _ in _KINDS}
    if k == 2 or (three_d and k == 3):
        fig = go.Figure()
        for key, label, marker in _KINDS:
            pts = groups[key]
            if not pts:
                continue
            if key == "front" and k == 2:
                pts = _step_order(pts, data.objectives)
            coords = {axis: [p.values[j] for p in pts] for j, axis in enumerate("xyz"[:k])}
            common = {"name": label, "text": [p.name for p in pts], "marker": marker}
            if k == 3:
                fig.add_trace(go.Scatter3d(mode="markers", **coords, **common))
            else:
                joined = key == "front" and len(pts) > 1
                fig.add_trace(
                    go.Scatter(
                        mode="lines+markers" if joined else "markers",
                        # along x, then y: the corner the worse of two front points sets
                        line={"shape": "hv", "color": "#d1495b"},
                        **coords,
                        **common,
                    )
                )
        if k == 3:
            fig.update_layout(
                scene={
                    "xaxis_title": titles[0],
                    "yaxis_title": titles[1],
                    "zaxis_title": titles[2],
                }
            )
        else:
            fig.update_layout(xaxis_title=titles[0], yaxis_title=titles[1])
        fig.update_layout(title=f"{name}: Pareto front ({len(groups['front'])} trials)")
        return fig
    fig = make_subplots(rows=k - 1, cols=k - 1, horizontal_spacing=0.08, vertical_spacing=0.1)
    for r in range(1, k):
        for c in range(r):
            for key, label, marker in _KINDS:
                pts = groups[key]
                fig.add_trace(
                    go.Scatter(
                        x=[p.values[c] for p in pts],
                        y=[p.values[r] for p in pts],
                        mode="markers",
                        name=label,
                        text=[p.name for p in pts],
                        marker=marker,
                        legendgroup=key,
                        showlegend=r == 1 and c == 0 and bool(pts),
                    ),
                    row=r,
                    col=c + 1,
                )
            fig.update_xaxes(title_text=titles[c], row=r, col=c + 1)
            fig.update_yaxes(title_text=titles[r], row=r, col=c + 1)
    fig.update_layout(
        title=f"{name}: Pareto front ({len(groups['front'])} trials), objectives in pairs",
        height=320 * (k - 1),
    )
    return fig


def _step_order(
    points: Sequence[ParetoPoint], objectives: Sequence[tuple[str, str]]
) -> list[ParetoPoint]:
    """The front's points along its step line: the best first objective first."""
    signs = [1.0 if d == "minimize" else -1.0 for _, d in objectives]
    return sorted(points, key=lambda p: (signs[0] * p.values[0], signs[1] * p.values[1]))


def hypervolume_figure(go: Any, name: str, data: ParetoData) -> Any:
    """The hypervolume of the feasible front after each completed trial, against the stated
    reference point (in the title)."""
    fig = go.Figure(
        go.Scatter(
            x=[index for index, _, _ in data.history],
            y=[volume for _, _, volume in data.history],
            text=[trial for _, trial, _ in data.history],
            mode="lines+markers",
            line={"shape": "hv"},
            name="hypervolume",
        )
    )
    ref = (
        ", ".join(
            f"{m} {_fmt(v)}" for (m, _), v in zip(data.objectives, data.reference, strict=True)
        )
        if data.reference
        else "none (no feasible trial)"
    )
    fig.update_layout(
        title=f"{name}: hypervolume history (reference point: {ref})",
        xaxis_title="trial index",
        yaxis_title="hypervolume",
    )
    return fig
