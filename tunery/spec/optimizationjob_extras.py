"""tunery's spec-level extensions of an OptimizationJob, read and written back by ``export``.

Kubeflow Trainer's OptimizationJob has no field for these; tunery reads them from the job's
``spec`` as it reads them from a native ``tunery/v1`` Experiment, and writes them back when it
exports an experiment as an OptimizationJob (:func:`tunery.spec.optimizationjob.
to_optimization_job`), so that a round trip keeps them::

    spec:
      initialTrials:                      # tunery.spec.initial
        - {learning_rate: "0.01", batch-size: "32"}
      maxExperimentDuration: 2h           # tunery.spec.timebudget
      experimentDurationPolicy: LetFinish
      metricsCollectorSpec: {collector: {kind: StdOut}}

The ``tunery.dev/initial-trials`` and time-budget annotations are read too (the metadata's
annotations reach the native document); an export writes the spec fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunery.model import ExperimentSpec
from tunery.spec.initial import write_initial_trials
from tunery.spec.timebudget import DURATION_FIELD, POLICY_FIELD, write_time_budget

__all__ = ["EXTRA_KEYS", "read_extras", "write_extras"]

#: The OptimizationJob ``spec`` keys of tunery's extensions handled here.
EXTRA_KEYS = ("initialTrials", DURATION_FIELD, POLICY_FIELD, "metricsCollectorSpec")


def read_extras(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The native document's fields of the extensions an OptimizationJob's ``spec`` has (the
    native parser checks them, naming ``spec.<field>``, which is the job's path too)."""
    return {key: spec[key] for key in EXTRA_KEYS if spec.get(key) is not None}


def write_extras(spec: ExperimentSpec, body: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Add the extensions ``spec`` uses to an OptimizationJob's ``body`` being written."""
    from dataclasses import replace

    from tunery.spec.katib import _write_metrics_collector
    from tunery.spec.optimizationjob import FORMAT

    # As spec fields, whatever form the experiment was read from (not Katib's annotations).
    as_fields = replace(spec, source_format=FORMAT)
    write_initial_trials(as_fields, body, metadata)
    write_time_budget(as_fields, body, metadata)
    if spec.source_format != FORMAT:  # a job's collector is its default, StdOut
        body["metricsCollectorSpec"] = _write_metrics_collector(spec.metrics_collector)
