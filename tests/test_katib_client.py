"""tunery.katib.KatibClient: Katib's SDK client on a local database, real subprocess trials.

The flows are those of Katib's own e2e script (test/e2e/v1beta1/scripts/gh-actions/
run-e2e-tune-api.py + verify.py) and SDK notebooks (examples/v1beta1/sdk/*.ipynb) at Katib
commit 33c8ff4e5d1814b59abd308e6819e839e9906bc2, with ``kubeflow.katib`` replaced by
``tunery.katib`` in the imports, data-downloading training replaced by small local objectives,
and the Kubernetes-only checks (deployments, services, PVCs) left out.
"""

from __future__ import annotations

import inspect
import os
import textwrap
import warnings
from pathlib import Path

import pytest

from tunery.errors import NotFoundError, UserInputError
from tunery.katib import KatibClient, search
from tunery.katib.constants import constants

# Every public method of Katib's KatibClient and its arguments with their defaults, as read from
# sdk/python/v1beta1/kubeflow/katib/api/katib_client.py at Katib commit
# 33c8ff4e5d1814b59abd308e6819e839e9906bc2 (2026-06-22).  None: no default (required).
_NO = inspect.Parameter.empty
_T = constants.DEFAULT_TIMEOUT
_CONDITION_ARGS = [("name", _NO), ("namespace", None), ("experiment", None), ("timeout", _T)]
KATIB_METHODS: dict[str, list[tuple[str, object]]] = {
    "__init__": [
        ("config_file", None),
        ("context", None),
        ("client_configuration", None),
        ("namespace", "default"),
    ],
    "create_experiment": [("experiment", _NO), ("namespace", None)],
    "tune": [
        ("name", _NO),
        ("model_provider_parameters", None),
        ("dataset_provider_parameters", None),
        ("trainer_parameters", None),
        (
            "storage_config",
            {
                "size": constants.PVC_DEFAULT_SIZE,
                "storage_class": None,
                "access_modes": constants.PVC_DEFAULT_ACCESS_MODES,
            },
        ),
        ("objective", None),
        ("base_image", constants.BASE_IMAGE_PYTORCH),
        ("parameters", None),
        ("namespace", None),
        ("env_per_trial", None),
        ("algorithm_name", "random"),
        ("algorithm_settings", None),
        ("objective_metric_name", None),
        ("additional_metric_names", []),
        ("objective_type", "maximize"),
        ("objective_goal", None),
        ("max_trial_count", None),
        ("parallel_trial_count", None),
        ("max_failed_trial_count", None),
        ("resources_per_trial", None),
        ("retain_trials", False),
        ("packages_to_install", None),
        ("pip_index_urls", ["https://pypi.org/simple"]),
        ("metrics_collector_config", {"kind": "StdOut"}),
        ("trial_active_deadline_seconds", None),
    ],
    "get_experiment": [("name", _NO), ("namespace", None), ("timeout", _T)],
    "list_experiments": [("namespace", None), ("timeout", _T)],
    "get_experiment_conditions": _CONDITION_ARGS,
    "is_experiment_created": _CONDITION_ARGS,
    "is_experiment_running": _CONDITION_ARGS,
    "is_experiment_restarting": _CONDITION_ARGS,
    "is_experiment_succeeded": _CONDITION_ARGS,
    "is_experiment_failed": _CONDITION_ARGS,
    "wait_for_experiment_condition": [
        ("name", _NO),
        ("namespace", None),
        ("expected_condition", "Succeeded"),
        ("timeout", 600),
        ("polling_interval", 15),
        ("apiserver_timeout", _T),
    ],
    "edit_experiment_budget": [
        ("name", _NO),
        ("namespace", None),
        ("max_trial_count", None),
        ("parallel_trial_count", None),
        ("max_failed_trial_count", None),
        ("timeout", _T),
    ],
    "delete_experiment": [("name", _NO), ("namespace", None), ("delete_options", None)],
    "get_suggestion": [("name", _NO), ("namespace", None), ("timeout", _T)],
    "list_suggestions": [("namespace", None), ("timeout", _T)],
    "get_trial": [("name", _NO), ("namespace", None), ("timeout", _T)],
    "list_trials": [("experiment_name", None), ("namespace", None), ("timeout", _T)],
    "get_success_trial_details": [
        ("experiment_name", None),
        ("namespace", None),
        ("timeout", _T),
    ],
    "get_optimal_hyperparameters": [("name", _NO), ("namespace", None), ("timeout", _T)],
    "get_trial_metrics": [
        ("name", _NO),
        ("namespace", None),
        ("db_manager_address", constants.DEFAULT_DB_MANAGER_ADDRESS),
        ("timeout", _T),
    ],
    "get_job_logs": [("name", _NO), ("trial_name", _NO), ("follow", False), ("namespace", None)],
}


@pytest.mark.parametrize("method", sorted(KATIB_METHODS))
def test_every_katib_method_and_argument_exists_with_katibs_default(method: str) -> None:
    ours = inspect.signature(getattr(KatibClient, method)).parameters
    names = [n for n in ours if n != "self"]
    expected = KATIB_METHODS[method]
    # Katib's arguments come first, in Katib's order (callers pass them positionally).
    assert names[: len(expected)] == [n for n, _ in expected]
    for arg, default in expected:
        assert ours[arg].default == default, f"{method}({arg}=...)"
    # Anything of tunery's own comes after them, keyword-only.
    for extra in names[len(expected) :]:
        assert ours[extra].kind is inspect.Parameter.KEYWORD_ONLY


def test_every_public_method_is_one_of_katibs() -> None:
    public = {n for n, v in vars(KatibClient).items() if callable(v) and not n.startswith("_")}
    assert public == set(KATIB_METHODS) - {"__init__"}


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-process Kubernetes-only warnings afresh."""
    from tunery.katib import tuning

    monkeypatch.setattr(tuning, "_warned", set())


@pytest.fixture
def in_tmp(tmp_path: Path):  # type: ignore[no-untyped-def]
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


# --------------------------------------------------------------- Katib's e2e: tune + verify


def verify_experiment_results(katib_client, experiment, exp_name, exp_namespace):  # type: ignore[no-untyped-def]
    """Katib's verify.py, without its Kubernetes calls (deployments, services, PVCs)."""
    best_objective_metric = None
    for metric in experiment.status.current_optimal_trial.observation.metrics:
        if metric.name == experiment.spec.objective.objective_metric_name:
            best_objective_metric = metric
            break
    if best_objective_metric is None:
        raise Exception("Unable to get the best metrics for objective")

    for c in experiment.status.conditions:
        if (
            c.type == constants.EXPERIMENT_CONDITION_SUCCEEDED
            and c.status == constants.CONDITION_STATUS_TRUE
        ):
            succeeded_reason = c.reason
            break

    trials_completed = experiment.status.trials_succeeded or 0
    trials_completed += experiment.status.trials_early_stopped or 0
    max_trial_count = experiment.spec.max_trial_count
    if succeeded_reason == "ExperimentMaxTrialsReached" and trials_completed != max_trial_count:
        raise Exception("All Trials must be Completed.")
    if succeeded_reason == "ExperimentGoalReached" and (
        (
            experiment.spec.objective.type == "minimize"
            and float(best_objective_metric.min) > float(experiment.spec.objective.goal)
        )
        or (
            experiment.spec.objective.type == "maximize"
            and float(best_objective_metric.max) < float(experiment.spec.objective.goal)
        )
    ):
        raise Exception("Experiment goal is reached, but metrics are incorrect.")

    suggestion = katib_client.get_suggestion(exp_name, exp_namespace)
    for c in suggestion.status.conditions:
        if (
            c.type == constants.EXPERIMENT_CONDITION_SUCCEEDED
            and c.status == constants.CONDITION_STATUS_TRUE
            and experiment.spec.resume_policy == "LongRunning"
        ):
            raise Exception("Suggestion is Succeeded while Resume Policy is LongRunning")
        elif (
            c.type == constants.EXPERIMENT_CONDITION_RUNNING
            and c.status == constants.CONDITION_STATUS_TRUE
            and experiment.spec.resume_policy != "LongRunning"
        ):
            raise Exception("Suggestion is Running while Resume Policy is not LongRunning")
    return succeeded_reason


def test_katib_e2e_tune_api_flow(in_tmp: Path) -> None:
    katib_client = KatibClient()
    exp_name, exp_namespace = "tune-example", "kubeflow-e2e"

    def objective(parameters):  # type: ignore[no-untyped-def]
        import time

        time.sleep(0.5)  # Katib's e2e sleeps 5 s; kept short here
        result = 4 * int(parameters["a"]) - float(parameters["b"]) ** 2
        print(f"result={result}")

    parameters = {"a": search.int(min=10, max=20), "b": search.double(min=0.1, max=0.2)}
    katib_client.tune(
        name=exp_name,
        namespace=exp_namespace,
        objective=objective,
        parameters=parameters,
        objective_metric_name="result",
        max_trial_count=4,
        resources_per_trial={"cpu": "100m"},
    )
    experiment = katib_client.wait_for_experiment_condition(exp_name, exp_namespace, timeout=120)
    reason = verify_experiment_results(katib_client, experiment, exp_name, exp_namespace)
    assert reason == "ExperimentMaxTrialsReached"
    assert experiment.status.trials_succeeded == 4
    assert experiment.spec.parallel_trial_count == 3  # Katib's default
    assert experiment.spec.algorithm.algorithm_name == "random"  # tune's default
    # The function got Katib's strings, and the best trial is the best of the four.
    trials = katib_client.list_trials(exp_name, exp_namespace)
    results = {
        t.metadata.name: float(t.status.observation.metrics[0].latest)
        for t in trials
        if t.status.observation.metrics
    }
    best = experiment.status.current_optimal_trial
    assert best.best_trial_name == max(results, key=results.__getitem__)
    a = next(p.value for p in best.parameter_assignments if p.name == "a")
    b = next(p.value for p in best.parameter_assignments if p.name == "b")
    assert isinstance(a, str) and isinstance(b, str)
    assert float(best.observation.metrics[0].max) == pytest.approx(4 * int(a) - float(b) ** 2)
    assert katib_client.get_experiment(exp_name, exp_namespace) is not None
    katib_client.delete_experiment(exp_name, exp_namespace)
    assert katib_client.list_experiments(exp_namespace) == []
    with pytest.raises(RuntimeError, match="Failed to get Katib Experiment: kubeflow-e2e/tune"):
        katib_client.get_experiment(exp_name, exp_namespace)


# --------------------------------------------------------------- notebook: cmaes-and-resume


def test_cmaes_and_resume_policies_notebook_flow(in_tmp: Path) -> None:
    import copy

    from tunery.katib import (
        KatibClient,
        V1beta1AlgorithmSpec,
        V1beta1Experiment,
        V1beta1ExperimentSpec,
        V1beta1FeasibleSpace,
        V1beta1ObjectiveSpec,
        V1beta1ParameterSpec,
        V1beta1TrialParameterSpec,
        V1beta1TrialTemplate,
        V1ObjectMeta,
    )

    namespace = "kubeflow-user-example-com"
    experiment_name = "cmaes-example"
    metadata = V1ObjectMeta(name=experiment_name, namespace=namespace)
    algorithm_spec = V1beta1AlgorithmSpec(algorithm_name="cmaes")
    objective_spec = V1beta1ObjectiveSpec(type="minimize", goal=0.001, objective_metric_name="loss")
    parameters = [
        V1beta1ParameterSpec(
            name="lr",
            parameter_type="double",
            feasible_space=V1beta1FeasibleSpace(min="0.01", max="0.06"),
        ),
        V1beta1ParameterSpec(
            name="momentum",
            parameter_type="double",
            feasible_space=V1beta1FeasibleSpace(min="0.5", max="0.9"),
        ),
    ]
    # The notebook trains /opt/pytorch-mnist/mnist.py in an image; here a local script with the
    # same flags prints a loss.
    mnist = in_tmp / "mnist.py"
    mnist.write_text(
        "import argparse\n"
        "p = argparse.ArgumentParser()\n"
        "for flag in ('--epochs', '--batch-size', '--lr', '--momentum'):\n"
        "    p.add_argument(flag, type=float)\n"
        "a = p.parse_args()\n"
        "print(f'loss={(a.lr - 0.03) ** 2 + (a.momentum - 0.7) ** 2 + 0.01:.6f}')\n"
    )
    trial_spec = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {
            "template": {
                "metadata": {"labels": {"sidecar.istio.io/inject": "false"}},
                "spec": {
                    "containers": [
                        {
                            "name": "training-container",
                            "image": "docker.io/kubeflowkatib/pytorch-mnist-cpu:v0.14.0",
                            "command": [
                                "python3",
                                str(mnist),
                                "--epochs=1",
                                "--batch-size=64",
                                "--lr=${trialParameters.learningRate}",
                                "--momentum=${trialParameters.momentum}",
                            ],
                        }
                    ],
                    "restartPolicy": "Never",
                },
            }
        },
    }
    trial_template = V1beta1TrialTemplate(
        primary_container_name="training-container",
        trial_parameters=[
            V1beta1TrialParameterSpec(
                name="learningRate",
                description="Learning rate for the training model",
                reference="lr",
            ),
            V1beta1TrialParameterSpec(
                name="momentum",
                description="Momentum for the training model",
                reference="momentum",
            ),
        ],
        trial_spec=trial_spec,
    )
    experiment = V1beta1Experiment(
        api_version="kubeflow.org/v1beta1",
        kind="Experiment",
        metadata=metadata,
        spec=V1beta1ExperimentSpec(
            max_trial_count=3,
            parallel_trial_count=2,
            max_failed_trial_count=1,
            algorithm=algorithm_spec,
            objective=objective_spec,
            parameters=parameters,
            trial_template=trial_template,
        ),
    )
    experiment_never_resume_name = "never-resume-cmaes"
    experiment_from_volume_resume_name = "from-volume-resume-cmaes"
    experiment_never_resume = copy.deepcopy(experiment)
    experiment_never_resume.metadata.name = experiment_never_resume_name
    experiment_never_resume.spec.resume_policy = "Never"
    experiment_never_resume.spec.max_trial_count = 4
    experiment_from_volume_resume = copy.deepcopy(experiment)
    experiment_from_volume_resume.metadata.name = experiment_from_volume_resume_name
    experiment_from_volume_resume.spec.resume_policy = "FromVolume"
    experiment_from_volume_resume.spec.max_trial_count = 4
    assert experiment_never_resume.spec.resume_policy == "Never"
    assert experiment.spec.algorithm.algorithm_name == "cmaes"

    kclient = KatibClient()
    kclient.create_experiment(experiment, namespace=namespace)
    kclient.create_experiment(experiment_never_resume, namespace=namespace)
    kclient.create_experiment(experiment_from_volume_resume, namespace=namespace)
    for name in (experiment_name, experiment_never_resume_name, experiment_from_volume_resume_name):
        kclient.wait_for_experiment_condition(name, namespace, timeout=120, polling_interval=1)

    exp = kclient.get_experiment(name=experiment_name, namespace=namespace)
    assert exp.spec.max_trial_count == 3
    assert exp.status.conditions[-1].type == "Succeeded"
    assert exp.status.conditions[-1].reason == "ExperimentMaxTrialsReached"
    exp_list = kclient.list_experiments(namespace=namespace)
    assert sorted(e.metadata.name for e in exp_list) == sorted(
        [experiment_name, experiment_never_resume_name, experiment_from_volume_resume_name]
    )
    conditions = kclient.get_experiment_conditions(name=experiment_name, namespace=namespace)
    assert [(c.type, c.status) for c in conditions] == [
        ("Created", "True"),
        ("Running", "False"),
        ("Succeeded", "True"),
    ]
    assert kclient.is_experiment_succeeded(name=experiment_name, namespace=namespace)
    assert kclient.is_experiment_created(name=experiment_name, namespace=namespace)
    assert not kclient.is_experiment_running(name=experiment_name, namespace=namespace)
    assert not kclient.is_experiment_failed(name=experiment_name, namespace=namespace)
    trial_list = kclient.list_trials(experiment_name=experiment_name, namespace=namespace)
    assert len(trial_list) == 3
    for trial in trial_list:
        assert trial.status.conditions[-1].type == "Succeeded"
        assert trial.metadata.labels[constants.EXPERIMENT_LABEL] == experiment_name
    optimal = kclient.get_optimal_hyperparameters(name=experiment_name, namespace=namespace)
    assert {p.name for p in optimal.parameter_assignments} == {"lr", "momentum"}
    loss = optimal.observation.metrics[0]
    assert loss.name == "loss" and float(loss.min) <= float(loss.max)

    suggestion = kclient.get_suggestion(name=experiment_never_resume_name, namespace=namespace)
    assert suggestion.status.conditions[-1].message == (
        "Suggestion is succeeded, can't be restarted"
    )
    assert suggestion.status.suggestion_count == 4
    suggestion = kclient.get_suggestion(
        name=experiment_from_volume_resume_name, namespace=namespace
    )
    assert suggestion.status.conditions[-1].message == (
        "Suggestion is succeeded, suggestion volume is not deleted, can be restarted"
    )
    assert [s.metadata.name for s in kclient.list_suggestions(namespace)] == [
        e.metadata.name for e in exp_list
    ]

    kclient.delete_experiment(name=experiment_name, namespace=namespace)
    kclient.delete_experiment(name=experiment_never_resume_name, namespace=namespace)
    kclient.delete_experiment(name=experiment_from_volume_resume_name, namespace=namespace)
    assert kclient.list_experiments(namespace=namespace) == []


# --------------------------------------------------------------- notebook: tune-train-from-func


def train_mnist_model(parameters):  # type: ignore[no-untyped-def]
    """The notebook's function, its TensorFlow training replaced by a formula: same inputs
    (strings for searched values), same logging of ``accuracy=`` and ``loss=`` per epoch."""
    import logging

    logging.basicConfig(
        format="%(asctime)s %(levelname)-8s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%SZ",
        level=logging.INFO,
    )
    logging.info(f"Input Parameters: {parameters}")
    lr = float(parameters["lr"])
    num_epoch = int(parameters["num_epoch"])
    is_dist = parameters["is_dist"]
    num_workers = parameters["num_workers"]
    assert is_dist is False and num_workers == 1  # fixed values arrive as given
    for epoch in range(num_epoch):
        accuracy = 1 - 1 / (1 + lr * (epoch + 1))
        loss = 1 - accuracy
        logging.info(f"Epoch {epoch + 1}/{num_epoch}. accuracy={accuracy:.4f} - loss={loss:.4f}")


def test_tune_train_from_func_notebook_flow(in_tmp: Path) -> None:
    # Run locally first, as the notebook does.
    train_mnist_model({"lr": "0.1", "num_epoch": "2", "is_dist": False, "num_workers": 1})

    from tunery import katib

    parameters = {
        "lr": katib.search.double(min=0.1, max=0.2),
        "num_epoch": katib.search.int(min=10, max=15),
        "is_dist": False,
        "num_workers": 1,
    }
    exp_name = "tune-mnist"
    katib_client = katib.KatibClient()
    katib_client.tune(
        name=exp_name,
        objective=train_mnist_model,
        parameters=parameters,
        algorithm_name="cmaes",
        objective_metric_name="accuracy",
        additional_metric_names=["loss"],
        max_trial_count=12,
        parallel_trial_count=2,
    )
    katib_client.wait_for_experiment_condition(exp_name, timeout=120, polling_interval=1)
    status = katib_client.is_experiment_succeeded(exp_name)
    assert status is True
    best_hps = katib_client.get_optimal_hyperparameters(exp_name)
    assert best_hps is not None
    for hp in best_hps.parameter_assignments:
        if hp.name == "lr":
            best_lr = hp.value
        else:
            best_num_epoch = hp.value
    assert 0.1 <= float(best_lr) <= 0.2 and 10 <= int(best_num_epoch) <= 15
    names = [m.name for m in best_hps.observation.metrics]
    assert names == ["accuracy", "loss"]
    accuracy = best_hps.observation.metrics[0]
    # Each trial logged num_epoch lines: latest is the last epoch's, max the best one.
    expected = 1 - 1 / (1 + float(best_lr) * int(best_num_epoch))
    assert float(accuracy.latest) == pytest.approx(expected, abs=1e-4)
    details = katib_client.get_success_trial_details(exp_name)
    assert len(details) == 12
    assert all(float(d["metrics"][0].max) <= float(accuracy.max) for d in details)
    logs = list(katib_client.get_job_logs(exp_name, best_hps.best_trial_name))
    assert any("Input Parameters: {'lr': '" in line for line in logs)
    assert sum("accuracy=" in line for line in logs) == int(best_num_epoch)
    metrics = katib_client.get_trial_metrics(best_hps.best_trial_name)
    assert [x.metric.name for x in metrics].count("accuracy") == int(best_num_epoch)
    assert metrics[-1].time_stamp.endswith("Z")
    katib_client.delete_experiment(exp_name)


# --------------------------------------------------------------- errors, namespaces, waits


def test_errors_are_katibs_and_tunerys(in_tmp: Path) -> None:
    kc = KatibClient(namespace="team-a")
    with pytest.raises(RuntimeError, match="team-a/nope") as info:
        kc.get_experiment("nope")
    assert isinstance(info.value, NotFoundError)
    with pytest.raises(RuntimeError):
        kc.get_suggestion("nope")
    with pytest.raises(RuntimeError):
        kc.get_trial("nope-0001")
    assert kc.list_trials("nope") == []
    assert kc.list_experiments() == []

    def objective(parameters):  # type: ignore[no-untyped-def]
        print("m=1")

    with pytest.raises(ValueError, match="objective") as bad:
        kc.tune(name="x", parameters={"a": search.int(min=1, max=2)})
    assert isinstance(bad.value, UserInputError)
    with pytest.raises(ValueError, match="name"):
        kc.tune(name="", objective=objective, parameters={"a": search.int(min=1, max=2)})
    with pytest.raises(ValueError, match="'parameters' dictionary"):
        kc.tune(name="x", objective=lambda a, b: None, parameters={"a": search.int(min=1, max=2)})
    with pytest.raises(UserInputError, match="objectiveMetricName"):
        kc.tune(name="x", objective=objective, parameters={"a": search.int(min=1, max=2)})
    with pytest.raises(ValueError, match="max_trial_count"):
        kc.edit_experiment_budget("x")
    with pytest.raises(ValueError, match="Experiment must have a name"):
        kc.create_experiment({"metadata": {}, "spec": {}})


def test_namespaces_keep_experiments_apart_and_kubernetes_args_warn(in_tmp: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kc = KatibClient(config_file="~/.kube/config", namespace="team-a")
    assert any("Kubernetes-only" in str(w.message) for w in caught)

    def objective(parameters):  # type: ignore[no-untyped-def]
        print(f"score={float(parameters['x']) * 2}")

    kc.tune(
        name="alpha",
        objective=objective,
        parameters={"x": search.double(min=0, max=1)},
        objective_metric_name="score",
        max_trial_count=2,
        parallel_trial_count=2,  # Katib's 3 would exceed maxTrialCount: refused as in Katib
    )
    kc.tune(
        name="beta",
        namespace="team-b",
        objective=objective,
        parameters={"x": search.categorical(list=["0.25", "0.5"])},
        objective_metric_name="score",
        max_trial_count=2,
        parallel_trial_count=1,
        algorithm_name="grid",
    )
    kc.wait_for_experiment_condition("alpha", timeout=60, polling_interval=1)
    kc.wait_for_experiment_condition("beta", "team-b", timeout=60, polling_interval=1)
    assert [e.metadata.name for e in kc.list_experiments()] == ["alpha"]
    assert [e.metadata.namespace for e in kc.list_experiments("team-b")] == ["team-b"]
    with pytest.raises(RuntimeError, match="team-a/beta"):
        kc.get_experiment("beta")
    beta = kc.get_optimal_hyperparameters("beta", "team-b")
    assert beta.parameter_assignments[0].value == "0.5"
    assert beta.observation.metrics[0].latest == "1.0"
    trial = kc.list_trials("beta", "team-b")[0]
    assert kc.get_trial(trial.metadata.name, "team-b") == trial
    assert len(kc.list_trials(namespace="team-b")) == 2
    # The same name in another namespace is another experiment.
    kc.tune(
        name="alpha",
        namespace="team-b",
        objective=objective,
        parameters={"x": search.categorical(list=["0.125"])},
        objective_metric_name="score",
        max_trial_count=1,
        parallel_trial_count=1,
    )
    other = kc.wait_for_experiment_condition("alpha", "team-b", timeout=60, polling_interval=1)
    assert other.status.current_optimal_trial.observation.metrics[0].latest == "0.25"
    assert kc.get_experiment("alpha").status.trials == 2
    [b_trial] = kc.list_trials("alpha", "team-b")
    assert kc.get_trial(b_trial.metadata.name, "team-b") == b_trial
    assert list(kc.get_job_logs("alpha", b_trial.metadata.name, namespace="team-b")) == [
        "score=0.25"
    ]
    kc.delete_experiment("alpha", "team-b")
    assert kc.get_experiment("alpha").metadata.namespace == "team-a"
    with pytest.raises(RuntimeError, match="already exists"):
        kc.tune(
            name="alpha",
            objective=objective,
            parameters={"x": search.double(min=0, max=1)},
            objective_metric_name="score",
        )


def test_wait_raises_on_failed_and_times_out(in_tmp: Path) -> None:
    kc = KatibClient()

    def broken(parameters):  # type: ignore[no-untyped-def]
        raise SystemExit(3)

    kc.tune(
        name="broken",
        objective=broken,
        parameters={"x": search.double(min=0, max=1)},
        objective_metric_name="score",
        max_trial_count=3,
        max_failed_trial_count=1,
        parallel_trial_count=1,
    )
    with pytest.raises(RuntimeError, match="default/broken is Failed"):
        kc.wait_for_experiment_condition("broken", timeout=60, polling_interval=1)
    failed = kc.wait_for_experiment_condition(
        "broken", expected_condition="Failed", timeout=5, polling_interval=1
    )
    assert failed.status.conditions[-1].reason == "ExperimentMaxFailedTrialsReached"
    assert kc.get_optimal_hyperparameters("broken") is None

    def slow(parameters):  # type: ignore[no-untyped-def]
        import time

        time.sleep(30)

    kc.tune(
        name="slow",
        objective=slow,
        parameters={"x": search.double(min=0, max=1)},
        objective_metric_name="score",
        max_trial_count=1,
        parallel_trial_count=1,
    )
    kc.wait_for_experiment_condition(
        "slow", expected_condition="Running", timeout=30, polling_interval=1
    )
    assert kc.is_experiment_running("slow")
    with pytest.raises(TimeoutError, match="default/slow to reach Succeeded"):
        kc.wait_for_experiment_condition("slow", timeout=1, polling_interval=1)
    kc.delete_experiment("slow")  # stops its running trial first
    assert [e.metadata.name for e in kc.list_experiments()] == ["broken"]


def test_create_experiment_from_a_yaml_file_and_a_dict(in_tmp: Path) -> None:
    doc = textwrap.dedent(
        """\
        apiVersion: kubeflow.org/v1beta1
        kind: Experiment
        metadata:
          name: from-yaml
        spec:
          objective: {type: minimize, objectiveMetricName: loss}
          algorithm: {algorithmName: random}
          maxTrialCount: 2
          parallelTrialCount: 1
          parameters:
            - name: lr
              parameterType: double
              feasibleSpace: {min: "0.1", max: "0.2"}
          trialTemplate:
            primaryContainerName: main
            trialParameters: [{name: lr, reference: lr}]
            trialSpec:
              apiVersion: batch/v1
              kind: Job
              spec:
                template:
                  spec:
                    containers:
                      - name: main
                        image: python
                        command: [sh, -c, "echo loss=${trialParameters.lr}"]
        """
    )
    Path("exp.yaml").write_text(doc)
    kc = KatibClient(namespace="ml")
    with pytest.raises(UserInputError, match=r"metadata\.namespace"):
        kc.create_experiment("exp.yaml", namespace="Not_A_Label")
    kc.create_experiment("exp.yaml")
    kc.wait_for_experiment_condition("from-yaml", timeout=60, polling_interval=1)
    import yaml

    as_dict = yaml.safe_load(doc)
    as_dict["metadata"] = {"generateName": "gen-"}
    kc.create_experiment(as_dict, namespace="other")
    [generated] = kc.list_experiments("other")
    assert generated.metadata.name.startswith("gen-") and len(generated.metadata.name) == 9
    kc.wait_for_experiment_condition(generated.metadata.name, "other", timeout=60)
    best = kc.get_optimal_hyperparameters("from-yaml")
    assert best.observation.metrics[0].latest == best.parameter_assignments[0].value


# --------------------------------------------------------------- notebook: push metrics


def push_train_mnist_model(parameters):  # type: ignore[no-untyped-def]
    """The push notebook's function, its PyTorch training on FashionMNIST replaced by a formula:
    same inputs, metrics reported with katib.report_metrics after each epoch's test."""
    import logging

    from tunery import katib

    logging.basicConfig(
        format="%(asctime)s %(levelname)-8s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%SZ",
        level=logging.INFO,
    )
    logging.info(f"Input Parameters: {parameters}")
    lr = float(parameters["lr"])
    momentum = float(parameters["momentum"])
    batch_size = int(parameters["batch_size"])
    num_epoch = int(parameters["num_epoch"])
    log_interval = int(parameters["log_interval"])

    def test_cnn_model(epoch):  # type: ignore[no-untyped-def]
        test_accuracy = 1 - abs(lr - 0.02) - abs(momentum - 0.5) / 10 + epoch / 1000
        test_loss = 1 - test_accuracy
        # "loss=..." in a log line is not collected: the Push collector reads pushed metrics.
        logging.info(f"Train Epoch: {epoch} [{batch_size * log_interval}]\tloss={test_loss:.4f}")
        katib.report_metrics({"accuracy": test_accuracy, "loss": test_loss})

    for epoch_idx in range(1, num_epoch + 1):
        test_cnn_model(epoch_idx)


def test_mnist_with_push_metrics_collection_notebook_flow(in_tmp: Path) -> None:
    from tunery import katib

    parameters = {
        "lr": katib.search.double(min=0.01, max=0.03),
        "momentum": katib.search.double(min=0.3, max=0.7),
        "num_epoch": 1,
        "batch_size": 64,
        "log_interval": 10,
    }
    exp_name = "tune-mnist"
    katib_client = katib.KatibClient(namespace="kubeflow")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        katib_client.tune(
            name=exp_name,
            objective=push_train_mnist_model,
            base_image="docker.io/electronicwaste/pytorch:gitv1",
            parameters=parameters,
            algorithm_name="random",
            objective_metric_name="accuracy",
            additional_metric_names=["loss"],
            max_trial_count=12,
            parallel_trial_count=2,
            packages_to_install=[
                "git+https://github.com/kubeflow/katib.git@master#subdirectory=sdk/python/v1beta1"
            ],
            metrics_collector_config={"kind": "Push"},
        )
    said = " ".join(str(w.message) for w in caught)
    assert "base_image" in said and "Katib SDK" in said
    katib_client.wait_for_experiment_condition(exp_name, timeout=120, polling_interval=1)
    status = katib_client.is_experiment_succeeded(exp_name)
    assert status is True
    best_hps = katib_client.get_optimal_hyperparameters(exp_name)
    print(f"Current Optimal Trial:\n{best_hps}")
    metrics = {m.name: m for m in best_hps.observation.metrics}
    lr, momentum = (float(p.value) for p in best_hps.parameter_assignments)
    expected = 1 - abs(lr - 0.02) - abs(momentum - 0.5) / 10 + 1 / 1000
    assert float(metrics["accuracy"].latest) == pytest.approx(expected)
    assert float(metrics["loss"].latest) == pytest.approx(1 - expected)
    experiment = katib_client.get_experiment(exp_name)
    assert experiment.spec.metrics_collector_spec.collector.kind == "Push"
    assert experiment.status.trials_succeeded == 12
    katib_client.delete_experiment(exp_name)


def test_edit_experiment_budget_extends_a_finished_experiment(in_tmp: Path) -> None:
    kc = KatibClient()

    def objective(parameters):  # type: ignore[no-untyped-def]
        print(f"score={parameters['x']}")

    kc.tune(
        name="grow",
        objective=objective,
        parameters={"x": search.categorical(list=["1", "2", "3", "4", "5"])},
        algorithm_name="grid",
        objective_metric_name="score",
        max_trial_count=2,
        parallel_trial_count=1,
    )
    kc.wait_for_experiment_condition("grow", timeout=60, polling_interval=1)
    with pytest.raises(UserInputError, match=r"max_trial_count|maxTrialCount"):
        kc.edit_experiment_budget("grow", max_trial_count=1)
    kc.edit_experiment_budget("grow", max_trial_count=4, parallel_trial_count=2)
    experiment = kc.wait_for_experiment_condition("grow", timeout=60, polling_interval=1)
    assert experiment.spec.max_trial_count == 4 and experiment.spec.parallel_trial_count == 2
    assert experiment.status.trials_succeeded == 4
    # The same grid goes on: four different values, the best the largest of them.
    values = [t.spec.parameter_assignments[0].value for t in kc.list_trials("grow")]
    assert sorted(values) == ["1", "2", "3", "4"]
    assert experiment.status.current_optimal_trial.observation.metrics[0].max == "4.0"


def test_get_job_logs_follows_a_running_trial_to_its_end(in_tmp: Path) -> None:
    kc = KatibClient()

    def chatty(parameters):  # type: ignore[no-untyped-def]
        import time

        for i in range(5):
            print(f"line {i}", flush=True)
            time.sleep(0.3)
        print(f"score={parameters['x']}", end="")  # the last line has no newline

    kc.tune(
        name="chatty",
        objective=chatty,
        parameters={"x": search.categorical(list=["7"])},
        objective_metric_name="score",
        max_trial_count=1,
        parallel_trial_count=1,
    )
    kc.wait_for_experiment_condition(
        "chatty", expected_condition="Running", timeout=30, polling_interval=1
    )
    import time

    deadline = time.monotonic() + 30
    while not kc.list_trials("chatty") and time.monotonic() < deadline:
        time.sleep(0.05)  # the experiment runs; its first trial is being created
    trial_name = kc.list_trials("chatty")[0].metadata.name
    assert trial_name == "chatty-0001"
    lines = list(kc.get_job_logs("chatty", trial_name, follow=True))
    assert lines == [f"line {i}" for i in range(5)] + ["score=7"]
    assert kc.get_trial(trial_name).status.conditions[-1].type == "Succeeded"
    with pytest.raises(RuntimeError, match="chatty-0009 or associated job not found"):
        list(kc.get_job_logs("chatty", "chatty-0009"))
    with pytest.raises(ValueError, match="Trial name is required"):
        list(kc.get_job_logs("chatty", ""))


def test_trainer_resources_run_a_pytorchjob_gang_of_local_processes(in_tmp: Path) -> None:
    from tunery.katib.types.types import TrainerResources

    kc = KatibClient()

    def objective(parameters):  # type: ignore[no-untyped-def]
        import os

        # Katib's e2e objective initialises torch.distributed from these (env://).
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        assert os.environ["MASTER_ADDR"] and os.environ["MASTER_PORT"]
        if rank == 0:
            result = 4 * int(parameters["a"]) - float(parameters["b"]) ** 2
            print(f"result={result} world={world}")

    kc.tune(
        name="tune-example-pytorchjob",
        objective=objective,
        parameters={"a": search.int(min=10, max=20), "b": search.double(min=0.1, max=0.2)},
        objective_metric_name="result",
        additional_metric_names=["world"],
        max_trial_count=2,
        parallel_trial_count=2,
        resources_per_trial=TrainerResources(
            num_workers=2, num_procs_per_worker=1, resources_per_worker={"cpu": "100m"}
        ),
    )
    experiment = kc.wait_for_experiment_condition(
        "tune-example-pytorchjob", timeout=120, polling_interval=1
    )
    verify_experiment_results(kc, experiment, "tune-example-pytorchjob", "default")
    assert experiment.spec.trial_template.trial_spec["kind"] == "PyTorchJob"
    world = experiment.status.current_optimal_trial.observation.metrics[1]
    assert (world.name, world.latest) == ("world", "2.0")


def test_the_example_of_docs_sdk_md_runs(in_tmp: Path) -> None:
    import re
    import subprocess
    import sys

    text = (Path(__file__).resolve().parents[1] / "docs" / "sdk.md").read_text()
    section = text.split("## Moving from KatibClient", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    Path("example.py").write_text(code)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "example.py"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    best, assignments = done.stdout.strip().splitlines()[-2:]
    assert best.startswith("tune-example-") and "'name': 'a'" in assignments


def test_packages_to_install_run_in_a_cached_env_or_fail_in_one_line(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNERY_CACHE", str(in_tmp / "cache"))
    kc = KatibClient()

    def objective(parameters):  # type: ignore[no-untyped-def]
        import sys

        import yaml  # installed in the trial's environment (here: inherited, already there)

        print(f"score={len(yaml.safe_dump({'a': parameters['x']}))}")
        print(sys.executable)

    offline = ["file:///nonexistent-index"]  # no network needed: pip resolves or fails at once
    args = {
        "objective": objective,
        "parameters": {"x": search.categorical(list=["1"])},
        "objective_metric_name": "score",
        "max_trial_count": 1,
        "parallel_trial_count": 1,
        "pip_index_urls": offline,
    }
    with pytest.raises(UserInputError, match="tunery-no-such-package-xyz") as info:
        kc.tune(name="nope", packages_to_install=["tunery-no-such-package-xyz"], **args)
    assert "\n" not in str(info.value)
    assert kc.list_experiments() == []  # nothing stored
    kc.tune(name="yes", packages_to_install=["PyYAML"], **args)
    kc.wait_for_experiment_condition("yes", timeout=60, polling_interval=1)
    logs = list(kc.get_job_logs("yes", "yes-0001"))
    assert logs[0] == "score=7" and logs[1].startswith(str(in_tmp / "cache"))


def test_tunery_search_values_are_accepted_by_tune(in_tmp: Path) -> None:
    import tunery

    kc = KatibClient()

    def objective(parameters):  # type: ignore[no-untyped-def]
        print(f"score={-float(parameters['lr'])}")

    kc.tune(
        name="log-lr",
        objective=objective,
        parameters={"lr": tunery.search.double(1e-3, 1e-1, log=True)},
        objective_metric_name="score",
        max_trial_count=1,
        parallel_trial_count=1,
    )
    experiment = kc.wait_for_experiment_condition("log-lr", timeout=60, polling_interval=1)
    [space] = experiment.spec.parameters
    assert (space.name, space.feasible_space.distribution) == ("lr", "logUniform")
    value = float(experiment.status.current_optimal_trial.parameter_assignments[0].value)
    assert 1e-3 <= value <= 1e-1


def test_wait_takes_over_an_experiment_whose_process_died(in_tmp: Path) -> None:
    import subprocess
    import sys

    # A notebook kernel that started an experiment and died (os._exit: no cleanup at all).
    script = textwrap.dedent(
        """
        import os, time
        from tunery import katib

        def objective(parameters):
            import time
            time.sleep(0.5)
            print(f"score={parameters['x']}")

        kc = katib.KatibClient()
        kc.tune(
            name="orphan",
            objective=objective,
            parameters={"x": katib.search.categorical(list=["1", "2", "3", "4"])},
            algorithm_name="grid",
            objective_metric_name="score",
            max_trial_count=4,
            parallel_trial_count=1,
        )
        kc.wait_for_experiment_condition("orphan", expected_condition="Running", polling_interval=1)
        while not kc.list_trials("orphan"):
            time.sleep(0.05)
        os._exit(0)
        """
    )
    Path("kernel.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "kernel.py"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    kc = KatibClient()
    assert not kc.is_experiment_succeeded("orphan")
    experiment = kc.wait_for_experiment_condition("orphan", timeout=60, polling_interval=1)
    assert experiment.status.trials_succeeded == 4
    assert experiment.status.current_optimal_trial.observation.metrics[0].max == "4.0"


def test_delete_stops_an_experiment_another_process_runs(in_tmp: Path) -> None:
    import subprocess
    import sys
    import time

    script = textwrap.dedent(
        """
        from tunery import katib

        def objective(parameters):
            import time
            time.sleep(60)

        kc = katib.KatibClient()
        kc.tune(
            name="elsewhere",
            objective=objective,
            parameters={"x": katib.search.double(min=0, max=1)},
            objective_metric_name="score",
            max_trial_count=1,
            parallel_trial_count=1,
        )
        kc.wait_for_experiment_condition("elsewhere", polling_interval=1)
        """
    )
    Path("other.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    other = subprocess.Popen(
        [sys.executable, "other.py"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        kc = KatibClient()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            trials = kc.list_trials("elsewhere")
            if trials and trials[0].status.conditions[-1].type == "Running":
                break
            time.sleep(0.1)
        started = time.monotonic()
        kc.delete_experiment("elsewhere")
        assert time.monotonic() - started < 30  # stopped, not waited out
        assert kc.list_experiments() == []
        # The other process's controller stopped (its 60 s trial killed) and its wait ended.
        other.communicate(timeout=30)
        assert time.monotonic() - started < 30
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()


# --------------------------------------------------------------- several objectives (tunery's)


def test_tune_with_several_objectives_returns_the_pareto_front(in_tmp: Path) -> None:
    from tunery.objectives import pareto_front
    from tunery.storage import Store

    def objective(parameters):  # type: ignore[no-untyped-def]
        width, depth = float(parameters["width"]), int(parameters["depth"])
        print(f"accuracy={1 - 1 / (1 + width * depth)} latency={width * depth + depth / 10}")

    kc = KatibClient()
    kc.tune(
        name="trade-off",
        objective=objective,
        parameters={"width": search.double(min=0.1, max=4.0), "depth": search.int(min=1, max=3)},
        objective_metric_name=["accuracy", "latency"],
        objective_type=["maximize", "minimize"],
        objective_goal=[0.999, None],
        algorithm_name="nsga2",
        algorithm_settings={"population_size": 4},
        max_trial_count=8,
        parallel_trial_count=4,
    )
    experiment = kc.wait_for_experiment_condition("trade-off", timeout=120, polling_interval=1)
    assert experiment.spec.objectives == [
        {"metric": "accuracy", "direction": "maximize", "goal": 0.999, "strategy": "max"},
        {"metric": "latency", "direction": "minimize", "strategy": "min"},
    ]
    assert experiment.spec.objective.objective_metric_name == "accuracy"
    front = kc.get_optimal_hyperparameters("trade-off")
    assert isinstance(front, list) and front
    store = Store(None)
    stored = store.get_experiment("trade-off")
    expected = pareto_front(stored.spec.objective, store.list_trials(stored.key))
    assert sorted(t.best_trial_name for t in front) == sorted(t.name for t in expected)
    # Best accuracy first; the first is Katib's currentOptimalTrial.
    accuracy = [
        float(next(x.latest for x in t.observation.metrics if x.name == "accuracy")) for t in front
    ]
    assert accuracy == sorted(accuracy, reverse=True)
    assert front[0] == experiment.status.current_optimal_trial
    # Several metrics need one direction each: no silent default.
    with pytest.raises(UserInputError, match="objective_type: give one direction per objective"):
        kc.tune(
            name="bad",
            objective=objective,
            parameters={"width": search.double(min=0.1, max=4.0)},
            objective_metric_name=["accuracy", "latency"],
        )


def test_create_experiment_keeps_a_models_objectives_and_constraints(in_tmp: Path) -> None:
    from tunery.katib import (
        V1beta1AlgorithmSpec,
        V1beta1Experiment,
        V1beta1ExperimentSpec,
        V1beta1FeasibleSpace,
        V1beta1ObjectiveSpec,
        V1beta1ParameterSpec,
        V1beta1TrialParameterSpec,
        V1beta1TrialTemplate,
        V1ObjectMeta,
    )

    command = "echo f1=${trialParameters.x} f2=$(python3 -c 'print(1-${trialParameters.x})') mem=3"
    experiment = V1beta1Experiment(
        api_version="kubeflow.org/v1beta1",
        kind="Experiment",
        metadata=V1ObjectMeta(name="two-objectives"),
        spec=V1beta1ExperimentSpec(
            algorithm=V1beta1AlgorithmSpec(algorithm_name="random"),
            objective=V1beta1ObjectiveSpec(type="minimize", objective_metric_name="f1"),
            objectives=[
                {"metric": "f1", "direction": "minimize"},
                {"metric": "f2", "direction": "minimize"},
            ],
            constraints=[{"metric": "mem", "max": 4}],
            max_trial_count=3,
            parallel_trial_count=3,
            parameters=[
                V1beta1ParameterSpec(
                    name="x",
                    parameter_type="double",
                    feasible_space=V1beta1FeasibleSpace(min="0", max="1"),
                )
            ],
            trial_template=V1beta1TrialTemplate(
                primary_container_name="main",
                trial_parameters=[V1beta1TrialParameterSpec(name="x", reference="x")],
                trial_spec={
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "main",
                                        "image": "python",
                                        "command": ["sh", "-c", command],
                                    }
                                ]
                            }
                        }
                    },
                },
            ),
        ),
    )
    kc = KatibClient()
    kc.create_experiment(experiment)
    done = kc.wait_for_experiment_condition("two-objectives", timeout=60, polling_interval=1)
    assert [o["metric"] for o in done.spec.objectives] == ["f1", "f2"]
    assert done.spec.constraints == [{"metric": "mem", "max": 4.0}]
    front = kc.get_optimal_hyperparameters("two-objectives")
    assert isinstance(front, list) and len(front) == 3  # f2 = 1 - f1: no trial dominates another
    # Katib's own dict of the spec has no tunery fields unless they are set.
    assert "objectives" not in V1beta1ExperimentSpec().to_dict()


def test_tune_takes_a_time_budget_and_a_warm_start(in_tmp: Path) -> None:
    from tunery.katib.tuning import KatibValueError
    from tunery.model import TrialReason

    kc = KatibClient()

    def objective(parameters):  # type: ignore[no-untyped-def]
        print(f"score={parameters['x']}")

    space = {"x": search.categorical(list=["1", "2", "3"])}
    kc.tune(
        name="seeded",
        objective=objective,
        parameters=space,
        algorithm_name="grid",
        objective_metric_name="score",
        max_trial_count=1,
        parallel_trial_count=1,
        max_duration="2h",
        duration_policy="letfinish",
        warm_start=[({"x": "3"}, 3.0)],
    )
    experiment = kc.wait_for_experiment_condition("seeded", timeout=60, polling_interval=1)
    annotations = experiment.metadata.annotations or {}
    assert annotations["tunery.dev/max-experiment-duration"] == "2h"
    assert annotations["tunery.dev/experiment-duration-policy"] == "LetFinish"
    stored = kc.client.get_experiment("seeded", "default")
    assert stored.spec.max_experiment_duration == 7200.0
    trials = kc.client.store.list_trials(stored.key)
    assert [t.reason == TrialReason.WARM_STARTED for t in trials] == [True, False]
    # The seed is the best result, though it never ran (and counts toward no budget).
    assert experiment.status.current_optimal_trial.observation.metrics[0].max == "3.0"
    # From an experiment of the same storage, by name.
    kc.tune(
        name="again",
        objective=objective,
        parameters=space,
        objective_metric_name="score",
        max_trial_count=1,
        parallel_trial_count=1,
        warm_start="seeded",
    )
    kc.wait_for_experiment_condition("again", timeout=60, polling_interval=1)
    again = kc.client.store.list_trials(kc.client.get_experiment("again", "default").key)
    assert sum(t.reason == TrialReason.WARM_STARTED for t in again) == 2
    for kw, said in [
        ({"max_duration": "soon"}, "max_duration"),
        ({"duration_policy": "Never"}, "duration_policy"),
        ({"warm_start": "nope"}, "no experiment named 'nope'"),
        ({"warm_start": 3}, "warm_start must be"),
    ]:
        with pytest.raises(KatibValueError, match=said) as exc:
            kc.tune(
                name="bad",
                objective=objective,
                parameters=space,
                objective_metric_name="score",
                max_trial_count=3,
                **kw,
            )
        assert "\n" not in str(exc.value)
    assert kc.client.find_experiment("bad", "default") is None  # nothing half made
