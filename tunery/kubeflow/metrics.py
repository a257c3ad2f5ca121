"""``report_metrics``: Kubeflow's push-style metric line, one JSON object per call.

Same output as ``kubeflow.optimizer.report_metrics`` (kubeflow/sdk ``kubeflow/optimizer/
metrics.py``, commit b1f57a1c): ``{"epoch":..,"loss":"0.5","step":..,"timestamp":"..."}`` on
stdout, metric values as strings, keys sorted, flushed.  Inside a tunery trial the StdOut
collector records these lines as observations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["report_metrics"]


def report_metrics(
    metrics: Mapping[str, Any],
    *,
    step: int | None = None,
    epoch: int | None = None,
    timestamp: datetime | None = None,
) -> None:
    """Print ``metrics`` as one JSON line (TypeError: not a mapping; ValueError: empty)."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a mapping, got {type(metrics).__name__}")
    if not metrics:
        raise ValueError("metrics must be non-empty")
    line: dict[str, Any] = {"timestamp": (timestamp or datetime.now(UTC)).isoformat()}
    if step is not None:
        line["step"] = step
    if epoch is not None:
        line["epoch"] = epoch
    line.update({str(name): str(value) for name, value in metrics.items()})
    print(json.dumps(line, separators=(",", ":"), sort_keys=True), flush=True)
