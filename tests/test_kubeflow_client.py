"""Kubeflow's OptimizerClient, locally (tunery/kubeflow/client.py), with real trial processes.

The flow is the one of Kubeflow's docs and examples (optimize -> wait_for_job_status ->
get_best_results -> get_job_logs -> delete_job); the signature test is written against the
Kubeflow SDK (kubeflow/sdk ``kubeflow/optimizer/api/optimizer_client.py`` at commit 0097ef68,
``kubeflow/optimizer/types/*`` at 2bd15408/192299c2, ``kubeflow/optimizer/metrics.py`` at
b1f57a1c, ``kubeflow/trainer/types/types.py`` at 02adc8ed).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tunery.kubeflow import optimizer
from tunery.kubeflow.optimizer import (
    CustomTrainer,
    GridSearch,
    Objective,
    OptimizerClient,
    RandomSearch,
    Search,
    TrainJobTemplate,
    TrialConfig,
)
from tunery.outcome import TrialsFailedWarning
from tunery.storage import Store


def train(lr: float, batch_size: int, epochs: int = 1, use_bn: bool = False) -> None:
    """A training function as Kubeflow's examples write it: keyword arguments, push metrics."""
    import os

    from tunery.kubeflow import report_metrics

    assert isinstance(lr, float) and isinstance(batch_size, int) and isinstance(use_bn, bool)
    assert os.environ["KUBEFLOW_TRAINER_OPT_BATCH_SIZE"] == str(batch_size)
    for epoch in range(epochs):
        loss = (lr - 0.01) ** 2 + batch_size / 1000 + (0.5 if use_bn else 0.0) + 1 / (epoch + 1)
        report_metrics({"loss": loss, "accuracy": 1 - loss}, epoch=epoch)
    print(f"trained lr={lr} batch_size={batch_size}", flush=True)


def trade_off(width: float, depth: int) -> dict[str, float]:
    """Two objectives that conflict: accuracy grows with the model, latency too."""
    return {
        "accuracy": 1.0 - 1.0 / (1.0 + width * depth),
        "latency_ms": width * depth + 0.1 * depth,
        "memory_mb": 100.0 * width,
    }


def fails(lr: float) -> None:
    raise RuntimeError(f"diverged at {lr}")


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


@pytest.mark.integration
def test_the_documented_flow_runs_locally(in_tmp: Path) -> None:
    client = OptimizerClient()
    name = client.optimize(
        TrainJobTemplate(trainer=CustomTrainer(func=train, func_args={"epochs": 2})),
        search_space={
            "lr": Search.loguniform(0.001, 0.1),
            "batch_size": Search.choice([16, 32]),
            "use_bn": Search.choice([True, False]),
        },
        trial_config=TrialConfig(num_trials=4, parallel_trials=2),
        objectives=[Objective(metric="loss", direction="minimize")],
        algorithm=RandomSearch(random_state=3),
    )
    assert len(name) == 12 and name[0].isalpha()
    job = client.wait_for_job_status(name, timeout=120, polling_interval=1)
    assert job.status == optimizer.OPTIMIZATION_JOB_COMPLETE
    assert job.name == name
    assert len(job.trials) == 4
    assert all(t.trainjob is not None and t.trainjob.status == "Complete" for t in job.trials)
    assert job.algorithm == RandomSearch(random_state=3)
    assert job.trial_config == TrialConfig(num_trials=4, parallel_trials=2)
    assert job.objectives == [Objective("loss", optimizer.Direction.MINIMIZE)]
    assert set(job.search_space) == {"lr", "batch_size", "use_bn"}

    best = client.get_best_results(name)
    assert best is not None
    losses = {
        t.name: float(next(m.latest for m in t.metrics if m.name == "loss")) for t in job.trials
    }
    best_trial = min(losses, key=losses.__getitem__)
    assert best.parameters == next(t.parameters for t in job.trials if t.name == best_trial)
    metric = next(m for m in best.metrics if m.name == "loss")
    assert float(metric.latest) == pytest.approx(losses[best_trial])
    assert float(metric.min) <= float(metric.max)  # two epochs: the curve went down

    logs = list(client.get_job_logs(name))
    assert json.loads(logs[0])["epoch"] == 0
    assert logs[-1].startswith("trained lr=")
    other = next(t.name for t in job.trials if t.name != best_trial)
    assert list(client.get_job_logs(name, trial_name=other, follow=True))[-1].startswith("trained")

    assert [j.name for j in client.list_jobs()] == [name]
    stored = Store(None).get_experiment(name)  # a tunery experiment like any other
    assert stored.spec.source_format == "optimizationjob"
    client.delete_job(name)
    assert client.list_jobs() == []
    with pytest.raises(RuntimeError):
        client.get_job(name)


@pytest.mark.integration
def test_grid_and_other_algorithms_by_name(in_tmp: Path) -> None:
    client = OptimizerClient()
    name = client.optimize(
        TrainJobTemplate(trainer=CustomTrainer(func=train)),
        search_space={"lr": Search.choice([0.01, 0.02]), "batch_size": Search.choice([8, 16])},
        trial_config=TrialConfig(num_trials=4, parallel_trials=4),
        algorithm=GridSearch(),
    )
    job = client.wait_for_job_status(name, timeout=120, polling_interval=1)
    assert sorted((t.parameters["lr"], t.parameters["batch_size"]) for t in job.trials) == [
        ("0.01", "16"),
        ("0.01", "8"),
        ("0.02", "16"),
        ("0.02", "8"),
    ]
    assert isinstance(job.algorithm, GridSearch)
    tpe = client.optimize(
        TrainJobTemplate(trainer=CustomTrainer(func=train)),
        search_space={"lr": Search.uniform(0.0, 0.1), "batch_size": Search.choice([8])},
        trial_config=TrialConfig(num_trials=2),
        algorithm=optimizer.Algorithm("tpe", {"n_startup_trials": 1}),
    )
    done = client.wait_for_job_status(tpe, timeout=120, polling_interval=1)
    assert done.algorithm == optimizer.Algorithm("tpe", {"n_startup_trials": "1"})


@pytest.mark.integration
def test_a_failed_job_raises_while_waiting_for_complete(in_tmp: Path) -> None:
    client = OptimizerClient()
    name = client.optimize(
        TrainJobTemplate(trainer=CustomTrainer(func=fails)),
        search_space={"lr": Search.uniform(0.1, 0.2)},
        trial_config=TrialConfig(num_trials=3, max_failed_trials=0),
    )
    with pytest.raises(RuntimeError, match="is Failed"), pytest.warns(TrialsFailedWarning):
        client.wait_for_job_status(name, timeout=120, polling_interval=1)
    job = client.wait_for_job_status(name, status={"Failed"}, timeout=5, polling_interval=1)
    assert job.trials[0].trainjob is not None and job.trials[0].trainjob.status == "Failed"
    assert any("diverged" in line for line in client.get_job_logs(name))
    assert client.get_best_results(name) is None


@pytest.mark.integration
def test_several_objectives_make_a_multi_objective_job_whose_best_results_are_the_front(
    in_tmp: Path,
) -> None:
    from tunery.objectives import pareto_front

    client = OptimizerClient()
    name = client.optimize(
        TrainJobTemplate(trainer=CustomTrainer(func=trade_off)),
        search_space={"width": Search.uniform(0.1, 4.0), "depth": Search.choice([1, 2, 3])},
        trial_config=TrialConfig(num_trials=8, parallel_trials=4),
        objectives=[
            Objective("accuracy", optimizer.Direction.MAXIMIZE),
            Objective("latency_ms", "minimize"),
        ],
        algorithm=optimizer.Algorithm("nsga2", {"population_size": "4"}),
    )
    job = client.wait_for_job_status(name, timeout=120, polling_interval=1)
    assert job.objectives == [
        Objective("accuracy", optimizer.Direction.MAXIMIZE),
        Objective("latency_ms", optimizer.Direction.MINIMIZE),
    ]
    stored = Store(None)
    experiment = stored.get_experiment(name)
    assert experiment.spec.objective.is_multi
    assert [t.type.value for t in experiment.spec.objective.terms] == ["maximize", "minimize"]

    results = client.get_best_results(name)
    assert isinstance(results, list) and results
    # Exactly the stored trials' Pareto front, best accuracy first.
    front = pareto_front(experiment.spec.objective, stored.list_trials(experiment.key))
    by_name = {t.name: t.parameters for t in job.trials}
    assert sorted(sorted(r.parameters.items()) for r in results) == sorted(
        sorted(by_name[t.name].items()) for t in front
    )
    accuracy = [float(next(m.latest for m in r.metrics if m.name == "accuracy")) for r in results]
    assert accuracy == sorted(accuracy, reverse=True)
    latency = [float(next(m.latest for m in r.metrics if m.name == "latency_ms")) for r in results]
    assert latency == sorted(latency, reverse=True)  # a trade-off: faster is less accurate


def test_bad_arguments_raise_as_kubeflow(in_tmp: Path) -> None:
    client = OptimizerClient()
    template = TrainJobTemplate(trainer=CustomTrainer(func=train))
    with pytest.raises(ValueError, match="Search space must be set"):
        client.optimize(template, search_space={})
    with pytest.raises(ValueError, match="must be a subset"):
        client.wait_for_job_status("x", status={"Done"})
    with pytest.raises(ValueError, match="Polling interval"):
        client.wait_for_job_status("x", timeout=1, polling_interval=2)
    with pytest.raises(RuntimeError, match="Failed to get OptimizationJob"):
        client.get_job("missing")
    with pytest.raises(ValueError, match="numTrials"):
        client.optimize(
            template,
            search_space={"lr": Search.uniform(0, 1)},
            trial_config=TrialConfig(num_trials=0),
        )
    with pytest.raises(ValueError, match="cmaes"):  # refused for several objectives
        client.optimize(
            template,
            search_space={"lr": Search.uniform(0, 1)},
            objectives=[Objective("loss"), Objective("accuracy", "maximize")],
            algorithm=optimizer.Algorithm("cmaes"),
        )
    with pytest.raises(ValueError, match="Invalid backend config"):
        OptimizerClient(backend_config="cluster")  # type: ignore[arg-type]


def square(x: float) -> float:
    return (x - 0.25) ** 2


def test_a_time_budget_and_a_warm_start_are_tunery_extensions(in_tmp: Path) -> None:
    from tunery.model import TrialReason
    from tunery.spec.optimizationjob import to_optimization_job

    client = OptimizerClient()
    template = TrainJobTemplate(trainer=CustomTrainer(func=square))
    space = {"x": Search.uniform(0.0, 1.0)}
    name = client.optimize(
        template,
        search_space=space,
        trial_config=TrialConfig(num_trials=1),
        objectives=[Objective(metric="loss")],
        max_duration="10m",
        duration_policy="LetFinish",
        warm_start=[({"x": 0.25}, 0.0), ({"x": 0.75}, 0.25)],
    )
    client.wait_for_job_status(name, timeout=60, polling_interval=1)
    stored = Store(None).get_experiment(name)
    assert (stored.spec.max_experiment_duration, stored.spec.experiment_duration_policy) == (
        600.0,
        "LetFinish",
    )
    body = to_optimization_job(stored.spec)["spec"]  # tunery export writes it back
    assert (body["maxExperimentDuration"], body["experimentDurationPolicy"]) == ("10m", "LetFinish")
    trials = Store(None).list_trials(stored.key)
    assert [t.reason == TrialReason.WARM_STARTED for t in trials] == [True, True, False]
    best = client.get_best_results(name)
    assert best is not None and best.parameters == {"x": "0.25"}  # a seed: never run
    for kw, said in [
        ({"max_duration": "soon"}, "max_duration"),
        ({"duration_policy": "Never"}, "duration_policy"),
        ({"warm_start": "nope"}, "no experiment named 'nope'"),
        ({"warm_start": [({"x": 0.5}, "low")]}, "warm"),
    ]:
        with pytest.raises(ValueError, match=said) as exc:
            client.optimize(template, search_space=space, **kw)  # type: ignore[arg-type]
        assert "\n" not in str(exc.value)
    assert [j.name for j in client.list_jobs()] == [name]  # nothing half made


@pytest.mark.integration
def test_kubernetes_only_arguments_warn_once(in_tmp: Path) -> None:
    from tunery.kubeflow import client as module

    module._warned.clear()
    with pytest.warns(UserWarning, match="Kubernetes-only"):
        client = OptimizerClient(optimizer.KubernetesBackendConfig(namespace="team", context="c"))
    assert client.namespace == "team"
    template = TrainJobTemplate(
        trainer=CustomTrainer(func=train, num_nodes=2), runtime="torch-distributed"
    )
    with pytest.warns(UserWarning) as record:
        name = client.optimize(
            template,
            search_space={"lr": Search.uniform(0.0, 0.1), "batch_size": Search.choice([8])},
            trial_config=TrialConfig(num_trials=1),
        )
    texts = [str(w.message) for w in record]
    assert any("runtime" in t for t in texts) and any("one local process" in t for t in texts)
    client.wait_for_job_status(name, timeout=120, polling_interval=1)
    assert [j.name for j in client.list_jobs()] == [name]
    assert OptimizerClient().list_jobs() == []  # another namespace
    assert Store(None).get_experiment(name).spec.namespace == "team"


# --------------------------------------------------------------------------- signatures

P = inspect.Parameter
EMPTY = inspect.Parameter.empty

#: Kubeflow's OptimizerClient (commit 0097ef68): method -> [(argument, kind, default)].
KUBEFLOW_METHODS: dict[str, list[tuple[str, Any, Any]]] = {
    "__init__": [("backend_config", P.POSITIONAL_OR_KEYWORD, None)],
    "optimize": [
        ("trial_template", P.POSITIONAL_OR_KEYWORD, EMPTY),
        ("trial_config", P.KEYWORD_ONLY, None),
        ("search_space", P.KEYWORD_ONLY, EMPTY),
        ("objectives", P.KEYWORD_ONLY, None),
        ("algorithm", P.KEYWORD_ONLY, None),
    ],
    "list_jobs": [],
    "get_job": [("name", P.POSITIONAL_OR_KEYWORD, EMPTY)],
    "get_job_logs": [
        ("name", P.POSITIONAL_OR_KEYWORD, EMPTY),
        ("trial_name", P.POSITIONAL_OR_KEYWORD, None),
        ("follow", P.POSITIONAL_OR_KEYWORD, False),
    ],
    "get_best_results": [("name", P.POSITIONAL_OR_KEYWORD, EMPTY)],
    "wait_for_job_status": [
        ("name", P.POSITIONAL_OR_KEYWORD, EMPTY),
        ("status", P.POSITIONAL_OR_KEYWORD, {"Complete"}),
        ("timeout", P.POSITIONAL_OR_KEYWORD, 3600),
        ("polling_interval", P.POSITIONAL_OR_KEYWORD, 2),
    ],
    "delete_job": [("name", P.POSITIONAL_OR_KEYWORD, EMPTY)],
}


@pytest.mark.parametrize("method", sorted(KUBEFLOW_METHODS))
def test_every_kubeflow_method_and_argument_exists(method: str) -> None:
    signature = inspect.signature(getattr(OptimizerClient, method))
    params = [p for p in signature.parameters.values() if p.name != "self"]
    for i, (name, kind, default) in enumerate(KUBEFLOW_METHODS[method]):
        assert params[i].name == name, (method, i)
        assert params[i].kind == kind, (method, name)
        assert params[i].default == default, (method, name)
    # tunery's extras are keyword-only with defaults: Kubeflow's calls still bind.
    for extra in params[len(KUBEFLOW_METHODS[method]) :]:
        assert extra.kind == P.KEYWORD_ONLY and extra.default is not EMPTY, (method, extra.name)


#: Kubeflow's dataclasses: class -> fields with their defaults (EMPTY: required).
KUBEFLOW_TYPES: dict[str, dict[str, Any]] = {
    "Objective": {"metric": "loss", "direction": optimizer.Direction.MINIMIZE},
    "TrialConfig": {"num_trials": 10, "parallel_trials": 1, "max_failed_trials": None},
    "RandomSearch": {"random_state": None},
    "GridSearch": {},
    "Result": {"parameters": EMPTY, "metrics": EMPTY},
    "Metric": {"name": EMPTY, "latest": EMPTY, "max": EMPTY, "min": EMPTY},
    "Trial": {"name": EMPTY, "parameters": {}, "metrics": [], "trainjob": None},
    "OptimizationJob": {
        "name": EMPTY,
        "search_space": EMPTY,
        "objectives": EMPTY,
        "algorithm": EMPTY,
        "trial_config": EMPTY,
        "trials": EMPTY,
        "creation_timestamp": EMPTY,
        "status": "Unknown",
    },
    "TrainJobTemplate": {"trainer": EMPTY, "runtime": None, "initializer": None},
    "CustomTrainer": {
        "func": EMPTY,
        "func_args": None,
        "packages_to_install": None,
        "pip_index_urls": ["https://pypi.org/simple"],
        "num_nodes": None,
        "resources_per_node": None,
        "env": None,
    },
}


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return EMPTY


@pytest.mark.parametrize("name", sorted(KUBEFLOW_TYPES))
def test_every_kubeflow_type_and_field_exists(name: str) -> None:
    fields = {f.name: _default(f) for f in dataclasses.fields(getattr(optimizer, name))}
    for field, default in KUBEFLOW_TYPES[name].items():
        assert field in fields, (name, field)
        assert fields[field] == default, (name, field)


def test_kubeflow_optimizer_names_exist() -> None:
    # kubeflow/optimizer/__init__.py (commit 2bd15408) exports these.
    for name in (
        "KubernetesBackendConfig",
        "Objective",
        "OptimizationJob",
        "OptimizerClient",
        "RandomSearch",
        "Search",
        "TrainJobTemplate",
        "TrialConfig",
    ):
        assert hasattr(optimizer, name), name
    for helper in ("uniform", "loguniform", "choice"):
        assert callable(getattr(optimizer.Search, helper))
    report = inspect.signature(optimizer.report_metrics).parameters
    assert list(report)[:4] == ["metrics", "step", "epoch", "timestamp"]
    assert all(report[k].kind == P.KEYWORD_ONLY for k in ("step", "epoch", "timestamp"))
    import tunery.kubeflow

    assert tunery.kubeflow.OptimizerClient is OptimizerClient
    assert tunery.kubeflow.optimizer is optimizer
