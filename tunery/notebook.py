"""Experiments in notebooks and interactive sessions: a progress bar while the SDK waits, and
the HTML that Jupyter shows for an :class:`~tunery.handle.ExperimentHandle`.

* Progress (:func:`want_progress`, :func:`watch`): shown when the session is interactive (an
  IPython kernel, or standard error on a terminal) unless ``progress=False``; a tqdm bar of
  completed/maxTrialCount with the running count and the best value.  In a notebook without
  ``ipywidgets`` it is tqdm's text bar.
* HTML (:func:`experiment_html`): status, counts by status, the best trial and its
  parameters, and a small chart of the objective per trial with the best so far, as inline
  SVG (no script, no external resource).  Every string from the user is escaped.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import threading
import time
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any, TextIO

from tunery.model import Experiment, Objective, Trial, TrialCondition, best_trial
from tunery.progress import Snapshot, SnapshotReader, format_value, snapshot_of_trials

if TYPE_CHECKING:
    from tunery.storage.base import BaseStore

__all__ = [
    "experiment_html",
    "history_svg",
    "in_kernel",
    "is_interactive",
    "progress_bar",
    "want_progress",
    "watch",
]

# ------------------------------------------------------------------ progress


def in_kernel() -> bool:
    """Whether this is a Jupyter (IPython kernel) session."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def is_interactive(*, kernel: bool | None = None, stderr: TextIO | None = None) -> bool:
    """An IPython kernel, or standard error on a terminal (a Python or IPython prompt)."""
    if kernel if kernel is not None else in_kernel():
        return True
    stream = sys.stderr if stderr is None else stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def want_progress(progress: bool | None) -> bool:
    """``progress`` when given, else whether the session is interactive."""
    return is_interactive() if progress is None else bool(progress)


def progress_bar(
    total: int | None, desc: str, *, notebook: bool | None = None, file: TextIO | None = None
) -> Any:
    """A tqdm bar counting trials: the notebook widget in a kernel with ``ipywidgets``,
    tqdm's text bar (on ``file``, default standard error) otherwise."""
    in_notebook = notebook if notebook is not None else in_kernel()
    if in_notebook and importlib.util.find_spec("ipywidgets") is not None:
        try:
            from tqdm.notebook import tqdm as widget_bar

            return widget_bar(total=total, desc=desc, unit="trial")
        except ImportError:  # an ipywidgets tqdm cannot use: the text bar
            pass
    from tqdm.std import tqdm as text_bar

    return text_bar(
        total=total,
        desc=desc,
        unit="trial",
        file=sys.stderr if file is None else file,
        dynamic_ncols=True,
    )


def postfix(snapshot: Snapshot) -> str:
    """The bar's text after the count: running trials, failures, the best value."""
    parts = [f"{snapshot.active} running"]
    if snapshot.failed:
        parts.append(f"{snapshot.failed} failed")
    if snapshot.best_value is not None:
        parts.append(f"best {snapshot.metric}={format_value(snapshot.best_value)}")
    return ", ".join(parts)


def watch(
    thread: threading.Thread,
    store: BaseStore,
    experiment: Experiment,
    timeout: float | None = None,
    *,
    interval: float = 0.5,
    file: TextIO | None = None,
) -> None:
    """Wait for ``thread`` (the experiment's controller), at most ``timeout`` seconds, with a
    progress bar updated every ``interval`` seconds from the store."""
    reader = SnapshotReader(store, experiment)
    snapshot = reader.read()
    bar = progress_bar(snapshot.max_trials, experiment.name, file=file)
    end = None if timeout is None else time.monotonic() + timeout
    try:
        _show(bar, snapshot)
        while thread.is_alive():
            left = interval if end is None else min(interval, end - time.monotonic())
            if left <= 0:
                break
            thread.join(left)
            _show(bar, reader.read())
    finally:
        bar.close()


def _show(bar: Any, snapshot: Snapshot) -> None:
    if bar.total != snapshot.max_trials:  # ``tunery edit --max-trials`` while it runs
        bar.total = snapshot.max_trials
    bar.n = snapshot.completed
    bar.set_postfix_str(postfix(snapshot), refresh=False)
    bar.refresh()


# ------------------------------------------------------------------ HTML

#: The chart's size and inner margins (left, right, top, bottom), in pixels.
WIDTH, HEIGHT = 420, 170
MARGIN = (52, 12, 12, 28)
#: At most this many points are drawn (evenly picked); the best-so-far line uses them all.
MAX_POINTS = 2000


def _num(value: float) -> str:
    return f"{value:.1f}"


def history_svg(objective: Objective, trials: Sequence[Trial]) -> str:
    """An inline SVG chart: each trial's objective (dots, by trial index) and the best so far
    (a step line over succeeded and early-stopped trials).  Well-formed XML."""
    metric = escape(objective.objective_metric_name)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="sans-serif" font-size="10">'
        f"<title>{metric} per trial, and the best so far</title>"
    )
    points = [
        (t.index, float(t.objective), t.status)
        for t in sorted(trials, key=lambda t: t.index)
        if t.objective is not None and math.isfinite(t.objective)
    ]
    if not points:
        return (
            f'{head}<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#666">'
            f"no {metric} reported yet</text></svg>"
        )
    left, right, top, bottom = MARGIN
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    if y_hi == y_lo:
        pad = abs(y_lo) * 0.05 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad

    def sx(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * (WIDTH - left - right)

    def sy(y: float) -> float:
        return HEIGHT - bottom - (y - y_lo) / (y_hi - y_lo) * (HEIGHT - top - bottom)

    parts = [head]
    x0, x1, y0, y1 = left, WIDTH - right, top, HEIGHT - bottom
    parts.append(
        f'<path d="M{x0} {y0}V{y1}H{x1}" fill="none" stroke="#999" stroke-width="1"/>'
        f'<text x="{x0 - 4}" y="{_num(sy(y_hi) + 3)}" text-anchor="end">'
        f"{escape(format_value(y_hi))}</text>"
        f'<text x="{x0 - 4}" y="{_num(sy(y_lo) + 3)}" text-anchor="end">'
        f"{escape(format_value(y_lo))}</text>"
        f'<text x="{x0}" y="{HEIGHT - 14}" text-anchor="middle">{min(xs)}</text>'
        f'<text x="{x1}" y="{HEIGHT - 14}" text-anchor="middle">{max(xs)}</text>'
        f'<text x="{(x0 + x1) / 2}" y="{HEIGHT - 3}" text-anchor="middle">trial</text>'
    )
    step = max(1, math.ceil(len(points) / MAX_POINTS))
    dots = []
    for x, y, status in points[::step]:
        counted = status in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED)
        colour = "#1f77b4" if counted else "#bbbbbb"
        dots.append(f'<circle cx="{_num(sx(x))}" cy="{_num(sy(y))}" r="2.5" fill="{colour}"/>')
    parts.append(f'<g class="trials">{"".join(dots)}</g>')
    path: list[str] = []
    best: float | None = None
    for x, y, status in points:
        if status not in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED):
            continue
        if best is None:
            best = y
            path.append(f"M{_num(sx(x))} {_num(sy(y))}")
        elif objective.better(y, best):
            best = y
            path.append(f"H{_num(sx(x))}V{_num(sy(y))}")
    if path:
        path.append(f"H{_num(sx(max(xs)))}")
        parts.append(
            f'<path class="best" d="{"".join(path)}" fill="none" stroke="#d62728" '
            'stroke-width="1.5"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any) -> str:
    return f"<td>{escape(format_value(value))}</td>"


def experiment_html(
    experiment: Experiment, trials: Sequence[Trial], driven: float | None = None
) -> str:
    """The HTML of an experiment and its trials for Jupyter (``_repr_html_``); ``driven``:
    the seconds it was driven, to show its time budget (as ``tunery get`` does)."""
    spec = experiment.spec
    snapshot = snapshot_of_trials(spec, experiment.name, trials)
    best = best_trial(spec.objective, list(trials))
    metric = spec.objective.objective_metric_name
    budget = spec.max_trial_count if spec.max_trial_count is not None else "∞"
    reason = f" ({experiment.reason})" if experiment.reason else ""
    out = [
        '<div class="tunery-experiment" style="font-family:sans-serif;font-size:13px">',
        f"<div><b>tunery experiment {escape(experiment.name)}</b>: "
        f"<b>{escape(experiment.shown_status)}</b>{escape(reason)}</div>",
        f"<div>{escape(spec.algorithm.algorithm_name)}, {escape(spec.objective.type.value)} "
        f"{escape(metric)}, {snapshot.completed}/{budget} trials completed, "
        f"parallel {spec.parallel_trial_count}</div>",
        '<table style="border-collapse:collapse"><tr>'
        "<th>succeeded</th><th>early-stopped</th><th>failed</th><th>killed</th>"
        "<th>running</th>",
        # Warm-start seeds never ran: counted apart, as the CLI and the UI do.
        "<th>seeded (not run)</th>" if snapshot.seeded else "",
        "</tr><tr>",
        "".join(
            _cell(n)
            for n in (
                snapshot.succeeded,
                snapshot.early_stopped,
                snapshot.failed,
                snapshot.killed,
                snapshot.active,
                *((snapshot.seeded,) if snapshot.seeded else ()),
            )
        ),
        "</tr></table>",
    ]
    if driven is not None and spec.max_experiment_duration is not None:
        from tunery.deadline import time_budget_text

        out.append(f"<div>{escape(time_budget_text(spec, driven) or '')}</div>")
    if best is None:
        out.append("<div>best trial: none yet</div>")
    else:
        out.append(
            f"<div>best trial <b>{escape(best.name)}</b>: "
            f"{escape(metric)} = <b>{escape(format_value(best.objective))}</b></div>"
        )
        out.append('<table style="border-collapse:collapse"><tr><th>parameter</th><th>value</th>')
        for name, value in best.parameters.items():
            out.append(f"</tr><tr><td>{escape(str(name))}</td>{_cell(value)}")
        out.append("</tr></table>")
    out.append(f"<div>{history_svg(spec.objective, trials)}</div>")
    out.append("</div>")
    return "".join(out)
