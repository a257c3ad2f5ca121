"""Metrics collectors: read trial output incrementally into metric records.

:func:`make_collector` picks the collector for an experiment's ``metricsCollectorSpec`` and
:func:`collector_source` says which file it reads.  Kinds:

* ``StdOut`` (default): the trial's combined stdout+stderr log, TEXT lines;
* ``File``: a file the trial writes (``source.fileSystemPath``, kind File), TEXT or JSON;
* ``Push``: what the trial reports with :func:`tunery.collect.push.report_metrics` (Katib's
  ``report_metrics``), from a file of the trial's own that the launcher names
  (:class:`~tunery.collect.push.PushCollector`: the StdOut collector's parser);
* ``None``: no collection (the trial reports some other way);
* ``TensorFlowEvent``: scalar summaries of tfevents files under a directory (TF1, TF2 and
  PyTorch ``SummaryWriter`` styles), with the ``tfevents`` extra;
* ``PrometheusMetric`` / ``Custom``: Kubernetes-only; refused by validation
  (:func:`tunery.spec.validate.not_local_collector_error`), before any trial.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunery.collect.base import Collector
from tunery.collect.file import FileCollector
from tunery.collect.push import PushCollector
from tunery.collect.stdout import StdOutCollector
from tunery.errors import SpecError
from tunery.model import CollectorKind, FileFormat, FileSystemKind, MetricsCollectorSpec

__all__ = [
    "Collector",
    "FileCollector",
    "PushCollector",
    "StdOutCollector",
    "make_collector",
]

_KIND_PATH = "spec.metricsCollectorSpec.collector.kind"
_SOURCE_PATH = "spec.metricsCollectorSpec.source.fileSystemPath"


def make_collector(spec: MetricsCollectorSpec, metric_names: Sequence[str]) -> Collector | None:
    """The collector for ``spec``, or None when the kind collects nothing."""
    kind = spec.kind
    if kind is CollectorKind.STDOUT:
        return StdOutCollector(metric_names, spec.metrics_format)
    if kind is CollectorKind.FILE:
        if spec.path_kind is FileSystemKind.DIRECTORY:
            raise SpecError(
                f"{_SOURCE_PATH}.kind",
                "the File collector reads a file, not a directory",
                "set fileSystemPath.kind: File, or use kind TensorFlowEvent for a directory",
            )
        _file_path(spec)
        return FileCollector(metric_names, spec.file_format or FileFormat.TEXT, spec.metrics_format)
    if kind is CollectorKind.PUSH:
        return PushCollector(metric_names)
    if kind is CollectorKind.NONE:
        return None
    if kind is CollectorKind.TENSORFLOW_EVENT:
        _file_path(spec)
        from tunery.collect.tfevents import TFEventsCollector

        return TFEventsCollector(metric_names)
    if kind in (CollectorKind.PROMETHEUS, CollectorKind.CUSTOM):
        # Unreachable for a validated spec: validation refuses these kinds.
        from tunery.spec.validate import not_local_collector_error

        raise not_local_collector_error(kind)
    raise SpecError(_KIND_PATH, f"unknown metrics collector kind {kind!r}")  # pragma: no cover


def _file_path(spec: MetricsCollectorSpec) -> str:
    if not spec.path:
        raise SpecError(
            f"{_SOURCE_PATH}.path",
            f"the {spec.kind.value} metrics collector needs a path",
            "set source.fileSystemPath.path to where the trial writes its metrics",
        )
    return spec.path
