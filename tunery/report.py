"""In-trial helper: report metrics as Katib-format lines (no dependencies).

Use it inside a training script or a function run by :func:`tunery.tune`::

    from tunery.report import report
    report(loss=0.31, accuracy=0.92, step=epoch)

prints ``step=3 loss=0.31 accuracy=0.92`` on standard output (flushed at once), which
tunery's default StdOut collector (and Katib's) reads.  ``step`` (or ``epoch``) on the same
line becomes the step of every other metric of the line.
"""

from __future__ import annotations

import math
import re
import sys
from typing import TextIO

_NAME = re.compile(r"^[\w|-]+$")


def format_metrics(step: int | None = None, **metrics: float) -> str:
    """The Katib line for ``metrics`` (and ``step``), e.g. ``step=3 loss=0.31``."""
    if not metrics:
        raise ValueError("report() needs at least one metric, e.g. report(loss=0.3)")
    parts = []
    if step is not None:
        parts.append(f"step={int(step)}")
    for name, value in metrics.items():
        if not _NAME.match(name):
            raise ValueError(
                f"metric name {name!r} cannot be collected: use letters, digits, '_', '-' or '|'"
            )
        number = float(value)
        if math.isnan(number):
            parts.append(f"{name}=nan")
        elif math.isinf(number):
            parts.append(f"{name}={'inf' if number > 0 else '-inf'}")
        else:
            parts.append(f"{name}={number!r}")
    return " ".join(parts)


def report(step: int | None = None, *, file: TextIO | None = None, **metrics: float) -> None:
    """Print ``metrics`` as one Katib-format line and flush it."""
    out = file if file is not None else sys.stdout
    out.write(format_metrics(step, **metrics) + "\n")
    out.flush()
