"""Katib's Push collector, locally: metrics a trial reports from Python, not by printing.

Inside a trial, :func:`report_metrics` (Katib's ``kubeflow.katib.report_metrics``, same
signature) records metrics as observations of that trial:

* with the ``Push`` collector (``metricsCollectorSpec.collector.kind: Push``), the launcher
  names a file of the trial's own in :envvar:`TUNERY_METRICS_PATH`
  (``<trial dir>/metrics/push.jsonl``); each call appends one JSON metric line with a
  timestamp, and the controller reads the file with the StdOut collector's parser
  (:class:`PushCollector`), incrementally and bounded, like a File collector's file (so it is
  mirrored from a Dask worker too).  A trial that succeeds without reporting the objective is
  ``MetricsUnavailable``, as on Katib;
* with the ``StdOut`` collector (the default), the line goes to standard output, where the
  collector reads it: Katib would store pushed metrics next to the collected ones, and so
  does tunery;
* with a collector that reads something else (``File``, ``TensorFlowEvent``, ``None``), it
  raises :class:`RuntimeError` (Katib's error for a push that cannot be stored) saying how
  to report instead.

Outside a trial (no ``KATIB_TRIAL_NAME`` in the environment) it raises :class:`ValueError`, as
Katib does.  ``db_manager_address`` and ``timeout`` are accepted for Katib's code and unused:
there is no DB manager to reach.

:func:`report_json` prints Kubeflow's JSON metric line (``kubeflow.optimizer.report_metrics``:
one JSON object per call, string values), which the StdOut collector recognises; in a Push
trial the line is also appended to the trial's push file.

The launcher tells a trial its collector in :envvar:`TUNERY_METRICS_COLLECTOR` (the Katib kind
name).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from tunery.collect.stdout import TIMESTAMP_KEY, StdOutCollector, parse_step, parse_value
from tunery.model import CollectorKind

__all__ = [
    "COLLECTOR_ENV",
    "DEFAULT_DB_MANAGER_ADDRESS",
    "DEFAULT_TIMEOUT",
    "METRICS_PATH_ENV",
    "PUSH_FILE",
    "PushCollector",
    "format_json",
    "report_json",
    "report_metrics",
]

#: Environment variable holding the trial's collector kind (``StdOut``, ``Push``, ...).
COLLECTOR_ENV = "TUNERY_METRICS_COLLECTOR"
#: Environment variable naming the file (or directory) the trial's collector reads.
METRICS_PATH_ENV = "TUNERY_METRICS_PATH"
#: The push file's name, in the trial's metrics directory.
PUSH_FILE = "push.jsonl"
#: Katib's defaults (``kubeflow.katib.constants``), accepted and unused locally.
DEFAULT_DB_MANAGER_ADDRESS = "katib-db-manager.kubeflow:6789"
DEFAULT_TIMEOUT = 120

_STEP_KEYS = ("step", "epoch")


class PushCollector(StdOutCollector):
    """The Push collector: the trial's push file, read with the StdOut collector's parser
    (Katib's default filter and JSON metric lines; no ``metricsFormat``: Push has none)."""

    def __init__(self, metric_names: Sequence[str], **bounds: int) -> None:
        super().__init__(metric_names, (), **bounds)


# --------------------------------------------------------------------------- values


def _check_mapping(metrics: Any, function: str) -> None:
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"{function}() takes a dict of metrics, e.g. {{'loss': 0.3}}; "
            f"got {type(metrics).__name__}"
        )


def _number(name: Any, value: Any) -> float:
    """``float(value)``, or Katib's ValueError naming the metric."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"metric names must be non-empty strings, got {name!r}")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"Invalid value {value!r} for metric {name!r}: a metric value must be a number "
            "or convertible to float (e.g. 0.31 or '0.31')"
        ) from None


def _json_number(value: float) -> float | str:
    """A finite float as a JSON number; NaN/inf as the strings the collector reads."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _text(value: Any, number: float) -> str:
    """Kubeflow's ``str(value)`` when the collector reads it as ``number``, else the float."""
    text = str(value)
    ok, parsed = parse_value(text)
    if ok and (parsed == number or (parsed is None and not math.isfinite(number))):
        return text
    return str(_json_number(number))


def _iso(timestamp: datetime | None) -> str:
    """An RFC3339 timestamp (UTC when naive is local time, as Python has it)."""
    ts = datetime.now(UTC) if timestamp is None else timestamp
    if ts.tzinfo is None:
        ts = ts.astimezone(UTC)
    return ts.isoformat()


def _push_line(metrics: Mapping[str, Any]) -> str:
    """The JSON line of one :func:`report_metrics` call (timestamp first, then the metrics)."""
    payload: dict[str, Any] = {TIMESTAMP_KEY: _iso(None)}
    for name, value in metrics.items():
        number = _number(name, value)
        if name == TIMESTAMP_KEY:
            raise ValueError(
                f"metric name {TIMESTAMP_KEY!r} is reserved for the time of the report; "
                "rename the metric"
            )
        payload[name] = _json_number(number)
    return json.dumps(payload, separators=(",", ":"))


def format_json(
    metrics: Mapping[str, Any],
    *,
    step: int | None = None,
    epoch: int | None = None,
    timestamp: datetime | None = None,
) -> str:
    """Kubeflow's JSON metric line: ``{"accuracy":"0.92","loss":"0.31","step":3,
    "timestamp":"..."}`` (keys sorted, metric values as strings).

    Raises TypeError when ``metrics`` is not a mapping and ValueError when it is empty, when a
    value is not float-convertible (naming the metric), or when a metric is named like a key
    of the line (``timestamp``, or ``step``/``epoch`` given as an argument too).
    """
    _check_mapping(metrics, "report_metrics")
    if not metrics:
        raise ValueError("report_metrics() needs at least one metric, e.g. {'loss': 0.3}")
    payload: dict[str, Any] = {TIMESTAMP_KEY: _iso(timestamp)}
    for key, given in (("step", step), ("epoch", epoch)):
        if given is None:
            continue
        integral = parse_step(given)
        if integral is None:
            raise ValueError(f"{key} must be an integer, got {given!r}")
        payload[key] = integral
    for name, value in metrics.items():
        number = _number(name, value)
        if name in payload:
            raise ValueError(
                f"metric {name!r} clashes with the line's own {name!r} key; rename the metric"
                + ("" if name == TIMESTAMP_KEY else f" or drop the {name}= argument")
            )
        payload[name] = _text(value, number)
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


# --------------------------------------------------------------------------- writing


def _append(path: str, line: str) -> None:
    """Append one line with a single ``write`` (O_APPEND): concurrent reporters (threads, a
    gang's replicas) never interleave within a line."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _print(line: str, file: TextIO | None = None) -> None:
    out = file if file is not None else sys.stdout
    out.write(line + "\n")
    out.flush()


def _push_path(trial: str) -> str:
    path = os.environ.get(METRICS_PATH_ENV)
    if not path:
        raise RuntimeError(
            f"Unable to push metrics for trial {trial}: {METRICS_PATH_ENV} is not set; "
            "run the trial through tunery (tunery run, or the SDK), which sets it"
        )
    return path


def report_metrics(
    metrics: Mapping[str, Any],
    db_manager_address: str = DEFAULT_DB_MANAGER_ADDRESS,
    timeout: int = DEFAULT_TIMEOUT,
) -> None:
    """Record ``metrics`` (e.g. ``{"loss": 0.01, "accuracy": 0.99}``) for the current trial.

    Katib's ``report_metrics`` (see the module docstring for where the values go).
    ``db_manager_address`` and ``timeout`` are accepted and unused.

    Raises:
        ValueError: outside a trial (no ``KATIB_TRIAL_NAME``), or a value that cannot be
            converted to float (the message names the metric).
        RuntimeError: the trial's collector reads neither pushed metrics nor standard output.
    """
    del db_manager_address, timeout  # no DB manager locally
    trial = os.environ.get("KATIB_TRIAL_NAME")
    if trial is None:
        raise ValueError(
            "The Trial name is not passed to environment variables: report_metrics() works "
            "inside a trial that tunery runs (it sets KATIB_TRIAL_NAME)"
        )
    _check_mapping(metrics, "report_metrics")
    if not metrics:
        return  # Katib pushes an empty log: nothing to record
    line = _push_line(metrics)
    kind = os.environ.get(COLLECTOR_ENV) or CollectorKind.STDOUT.value
    if kind == CollectorKind.PUSH.value:
        _append(_push_path(trial), line)
    elif kind == CollectorKind.STDOUT.value:
        _print(line)
    else:
        raise RuntimeError(
            f"Unable to push metrics for trial {trial}: its metrics collector is {kind}, "
            "which does not read pushed metrics; set "
            "spec.metricsCollectorSpec.collector.kind: Push (or StdOut, or "
            "metrics_collector_config={'kind': 'push'}), or report the way the collector reads"
        )


def report_json(
    metrics: Mapping[str, Any],
    *,
    step: int | None = None,
    epoch: int | None = None,
    timestamp: datetime | None = None,
    file: TextIO | None = None,
) -> None:
    """Print Kubeflow's JSON metric line (:func:`format_json`) on standard output (or
    ``file``) and flush it; in a Push trial, also append it to the trial's push file.

    ``kubeflow.optimizer.report_metrics`` (same arguments): the StdOut collector reads the
    line.  Unlike Kubeflow's, a value that cannot be read as a number raises ValueError naming
    the metric instead of being printed and lost.
    """
    line = format_json(metrics, step=step, epoch=epoch, timestamp=timestamp)
    _print(line, file)
    if os.environ.get(COLLECTOR_ENV) == CollectorKind.PUSH.value and os.environ.get(
        "KATIB_TRIAL_NAME"
    ):
        _append(_push_path(os.environ["KATIB_TRIAL_NAME"]), line)
