"""An ``OptimizerClient.optimize`` call as an ``OptimizationJob`` document and a trial runner.

The trainer's function runs once per trial in its own process through the runner script of
:func:`tunery.tuner.runner_code`, called as ``func(**func_args)`` (Kubeflow's call) with the
trial's values merged into ``func_args``: floats for ``Search.uniform``/``loguniform``, the
original values for a ``Search.choice`` of numbers or booleans, strings otherwise.  The job
is written as the OptimizationJob document it stands for and read by
:mod:`tunery.spec.optimizationjob`, so it is stored and shown like one (parameters also in
``KUBEFLOW_TRAINER_OPT_<NAME>``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from tunery.errors import UserInputError
from tunery.kubeflow.types import (
    BaseAlgorithm,
    ChoiceParameter,
    CustomTrainer,
    Direction,
    Objective,
    TrialConfig,
)

__all__ = ["job_document"]


def _algorithm(algorithm: BaseAlgorithm) -> dict[str, Any]:
    settings = {k: v for k, v in algorithm.settings().items() if v is not None}
    return {algorithm.algorithm_name: settings}


def job_document(
    name: str,
    namespace: str,
    trainer: CustomTrainer,
    search_space: Mapping[str, Any],
    trial_config: TrialConfig,
    objectives: list[Objective],
    algorithm: BaseAlgorithm,
    *,
    script: str,
    resources: Mapping[str, str],
) -> tuple[dict[str, Any], str]:
    """The OptimizationJob document of a job, and its runner script's code."""
    from tunery.search import split_parameters
    from tunery.spec.optimizationjob import _write_space
    from tunery.tuner import runner_code

    try:
        searched, constants = split_parameters(dict(search_space))
    except UserInputError as exc:
        raise ValueError(exc.one_line()) from None
    names = {p.name for p in searched}
    # func_args, then the search space's plain values (not searched: passed as they are).
    fixed = {k: v for k, v in (trainer.func_args or {}).items() if k not in names}
    fixed.update(constants)
    try:
        fixed_json = json.dumps(fixed, sort_keys=True)
    except TypeError as exc:
        raise ValueError(
            f"func_args must be JSON values (numbers, strings, lists...): {exc}"
        ) from None
    types: dict[str, str] = {}
    for p in searched:
        given = search_space.get(p.name)
        literal = isinstance(given, ChoiceParameter) and given.literal_values
        types[p.name] = "literal" if literal else p.parameter_type.value
    code, _ = runner_code(
        trainer.func,
        name=name,
        types=types,
        fixed_json=fixed_json,
        metric=objectives[0].metric,
        call="kwargs",
    )
    trainer_doc: dict[str, Any] = {
        "command": [
            sys.executable,
            script,
            *[f"{p.name}=${{trialParameters.{p.name}}}" for p in searched],
        ],
    }
    if trainer.env:
        trainer_doc["env"] = [{"name": k, "value": str(v)} for k, v in trainer.env.items()]
    if trainer.num_nodes is not None:
        trainer_doc["numNodes"] = trainer.num_nodes
    if resources:
        trainer_doc["resourcesPerNode"] = {"limits": dict(resources)}
    num = trial_config.num_trials
    spec: dict[str, Any] = {
        "objectives": [
            {"metric": o.metric, "direction": Direction(o.direction).value} for o in objectives
        ],
        "searchAlgorithm": _algorithm(algorithm),
        "parameters": [{"name": p.name, "searchSpace": _write_space(p)} for p in searched],
        "numTrials": num,
        # Kubeflow's SDK lets parallel exceed the total (Katib allows it); the CRD does not.
        "parallelTrials": min(trial_config.parallel_trials, num)
        if isinstance(num, int) and num > 0
        else trial_config.parallel_trials,
        "trainJobTemplate": {"spec": {"trainer": trainer_doc}},
    }
    if trial_config.max_failed_trials is not None:
        spec["maxFailedTrials"] = trial_config.max_failed_trials
    doc = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "OptimizationJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    return doc, code
