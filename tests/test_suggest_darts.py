"""darts: Katib's pass-through suggestion, its strings pinned as Katib's service writes them."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import AlgorithmSetting, MetricRecord
from tunery.space import SearchSpace
from tunery.spec import parse_document, spec_warnings
from tunery.suggest import create_suggester
from tunery.suggest.base import validate_algorithm
from tunery.suggest.darts import DartsSuggester, algorithm_settings, katib_text
from tunery.testing.suggest import default_parameters, make_spec

#: darts reads no history (every trial gets the same assignments).
EMPTY = History(space=SearchSpace(default_parameters()), entries=())
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nas" / "darts.yaml"

#: What Katib's DARTS service assigns for its darts-cpu.yaml (printed by running Katib's own
#: get_algorithm_settings/get_search_space and json.dumps with the quote swap).
CPU_SETTINGS = (
    "{'num_epochs': '1', 'w_lr': 0.025, 'w_lr_min': 0.001, 'w_momentum': 0.9, "
    "'w_weight_decay': 0.0003, 'w_grad_clip': 5.0, 'alpha_lr': 0.0003, "
    "'alpha_weight_decay': 0.001, 'batch_size': 128, 'num_workers': 4, 'init_channels': '1', "
    "'print_step': 50, 'num_nodes': '1', 'stem_multiplier': '1'}"
)
CPU_SPACE = "['max_pooling_3x3']"
#: ... and for darts-gpu.yaml.
GPU_SETTINGS = (
    "{'num_epochs': '3', 'w_lr': 0.025, 'w_lr_min': 0.001, 'w_momentum': 0.9, "
    "'w_weight_decay': 0.0003, 'w_grad_clip': 5.0, 'alpha_lr': 0.0003, "
    "'alpha_weight_decay': 0.001, 'batch_size': 128, 'num_workers': 4, 'init_channels': 16, "
    "'print_step': 50, 'num_nodes': 4, 'stem_multiplier': 3}"
)
GPU_SPACE = (
    "['separable_convolution_3x3', 'dilated_convolution_3x3', 'dilated_convolution_5x5', "
    "'avg_pooling_3x3', 'max_pooling_3x3', 'skip_connection']"
)


def cpu_doc() -> dict[str, Any]:
    """Katib's darts-cpu.yaml (examples/nas/darts.yaml: only the trial command differs)."""
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return doc


def _filter(*sizes: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "filter_size",
            "parameterType": "categorical",
            "feasibleSpace": {"list": list(sizes)},
        }
    ]


def gpu_doc() -> dict[str, Any]:
    """Katib's darts-gpu.yaml: three layers, five operations, one setting."""
    doc = cpu_doc()
    spec = doc["spec"]
    doc["metadata"]["name"] = "darts-gpu"
    spec["algorithm"]["algorithmSettings"] = [{"name": "num_epochs", "value": "3"}]
    spec["nasConfig"] = {
        "graphConfig": {"numLayers": 3},
        "operations": [
            {"operationType": "separable_convolution", "parameters": _filter("3")},
            {"operationType": "dilated_convolution", "parameters": _filter("3", "5")},
            {"operationType": "avg_pooling", "parameters": _filter("3")},
            {"operationType": "max_pooling", "parameters": _filter("3")},
            {"operationType": "skip_connection"},
        ],
    }
    return doc


@pytest.mark.parametrize(
    ("make", "settings", "space", "layers"),
    [(cpu_doc, CPU_SETTINGS, CPU_SPACE, "1"), (gpu_doc, GPU_SETTINGS, GPU_SPACE, "3")],
    ids=["darts-cpu", "darts-gpu"],
)
def test_every_trial_gets_katibs_exact_strings(
    make: Any, settings: str, space: str, layers: str
) -> None:
    spec = parse_document(make())
    suggester = create_suggester(spec, seed=0)
    batch = suggester.suggest(EMPTY, 3)
    assert len(batch) == 3
    for assignment in batch:
        assert dict(assignment.parameters) == {
            "algorithm-settings": settings,
            "search-space": space,
            "num-layers": layers,
        }
        assert not assignment.labels and assignment.parent is None
    assert suggester.suggest(EMPTY, 0) == []
    assert suggester.dump_state() is None


def test_none_and_unknown_settings_pass_through_in_katibs_order() -> None:
    settings = [
        AlgorithmSetting("batch_size", "None"),
        AlgorithmSetting("my_flag", 'x"y'),
        AlgorithmSetting("w_lr", "0.1"),
    ]
    got = algorithm_settings(settings)
    assert list(got)[-1] == "my_flag" and list(got)[:14] == list(algorithm_settings([]))
    assert got["batch_size"] is None and got["w_lr"] == "0.1" and got["num_epochs"] == 50
    text = katib_text(got)
    assert "'batch_size': null" in text and "'w_lr': '0.1'" in text
    assert text.endswith("'my_flag': 'x\\'y'}")  # json's \" swapped too, as Katib does
    # the trainer reads it back the way Katib's run_trial.py does
    assert json.loads(katib_text(algorithm_settings([])).replace("'", '"'))["w_lr"] == 0.025


def test_a_darts_experiment_is_no_longer_refused_and_warns_about_unknown_settings() -> None:
    doc = cpu_doc()
    doc["spec"]["algorithm"]["algorithmSettings"].append({"name": "my_flag", "value": "1"})
    spec = parse_document(doc)  # the algorithm is checked too
    validate_algorithm(spec)
    warnings = spec_warnings(spec)
    assert len(warnings) == 1 and "darts setting 'my_flag'" in warnings[0]


def test_without_nas_config_darts_is_refused_in_one_line() -> None:
    spec = make_spec(default_parameters(), "darts")
    with pytest.raises(SpecError) as info:
        validate_algorithm(spec)
    assert info.value.path == "spec.nasConfig"
    assert "is required by algorithm darts" in info.value.message


def test_bad_known_setting_is_refused_naming_it() -> None:
    doc = copy.deepcopy(cpu_doc())
    doc["spec"]["algorithm"]["algorithmSettings"][0]["value"] = "0"
    with pytest.raises(SpecError) as info:
        parse_document(doc)
    assert info.value.path == "spec.algorithm.algorithmSettings[0].value"
    assert "num_epochs must be at least 1" in info.value.message


def test_suggester_is_deterministic_and_stateless() -> None:
    spec = parse_document(gpu_doc())
    a, b = DartsSuggester(spec, 1), DartsSuggester(spec, 2)
    b.load_state({})
    assert a.suggest(EMPTY, 2) == b.suggest(EMPTY, 2)


# --------------------------------------------------------------------------- end to end

#: Whether this build keeps a string value of a custom metricsFormat (Katib's Best-Genotype) as
#: the trial's objective; without it a trial that prints only a genotype is MetricsUnavailable.
STRING_METRICS = "text" in {f.name for f in dataclasses.fields(MetricRecord)}


def _tunery(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"},
    )


@pytest.mark.integration
def test_katibs_darts_cpu_example_runs_with_tunerys_trainer(tmp_path: Path) -> None:
    """examples/nas/darts.yaml (Katib's darts-cpu.yaml, the trial command pointing at
    ``python -m tunery.nas.darts``) through ``tunery validate`` and ``tunery run``; the data set
    cut small so that the one trial takes seconds."""
    pytest.importorskip("torch")
    doc = cpu_doc()
    container = doc["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    command = container["containers"][0]["command"]
    assert command[:3] == ["python", "-m", "tunery.nas.darts"]
    command[0] = sys.executable
    command += ["--limit=40", "--image-size=8"]
    path = tmp_path / "darts.yaml"
    path.write_text(yaml.safe_dump(doc))
    checked = _tunery("validate", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    run = _tunery("run", str(path), cwd=tmp_path)
    assert "Traceback" not in run.stderr
    log = _tunery("logs", "darts-cpu", "darts-cpu-0001", cwd=tmp_path).stdout
    assert f"--search-space={CPU_SPACE}" not in log  # (the shell took the template's quotes)
    lines = log.strip().splitlines()
    found = re.fullmatch(r"([\w-]+)=(Genotype.*)", lines[-1])
    assert found and found.group(1) == "Best-Genotype", lines[-3:]
    assert found.group(2).startswith("Genotype(normal=[[('max_pooling_3x3',")
    trials = json.loads(_tunery("trials", "darts-cpu", "--json", cwd=tmp_path).stdout)
    assert len(trials) == 1
    trial = trials[0]
    assert trial["parameters"] == {
        "algorithm-settings": CPU_SETTINGS,
        "search-space": CPU_SPACE,
        "num-layers": "1",
    }
    if STRING_METRICS:  # the genotype is the trial's objective, as on Katib
        assert trial["status"] == "Succeeded", trial
        assert run.returncode == 0, run.stderr
    else:
        assert trial["status"] == "MetricsUnavailable", trial
        assert "succeeded but never reported 'Best-Genotype'" in trial["message"], trial


def test_validate_warns_about_passed_through_settings_naming_tunerys_own(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tunery.cli import main

    doc = cpu_doc()
    doc["spec"]["algorithm"]["algorithmSettings"] += [
        {"name": "unrolled", "value": "false"},
        {"name": "num_epoch", "value": "3"},
    ]
    path = tmp_path / "darts.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(main, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "experiment darts-cpu is valid (darts" in result.output
    assert "algorithmSettings[4].name: darts setting 'unrolled'" in result.output
    assert 'tunery\'s trainer reads it: "false" takes the first-order' in result.output
    assert "algorithmSettings[5].name: darts setting 'num_epoch'" in result.output
    assert "(known: num_epochs, w_lr" in result.output


@pytest.mark.integration
def test_katibs_nas_with_darts_notebook_through_katib_client(tmp_path: Path) -> None:
    """The experiment of Katib's nas-with-darts.ipynb built with the SDK's models and run by
    ``KatibClient`` (the trial command pointing at tunery's trainer, the data cut small)."""
    pytest.importorskip("torch")
    from tunery.katib import (
        KatibClient,
        V1beta1AlgorithmSetting,
        V1beta1AlgorithmSpec,
        V1beta1CollectorSpec,
        V1beta1Experiment,
        V1beta1ExperimentSpec,
        V1beta1FeasibleSpace,
        V1beta1FilterSpec,
        V1beta1GraphConfig,
        V1beta1MetricsCollectorSpec,
        V1beta1NasConfig,
        V1beta1ObjectiveSpec,
        V1beta1Operation,
        V1beta1ParameterSpec,
        V1beta1SourceSpec,
        V1beta1TrialParameterSpec,
        V1beta1TrialTemplate,
        V1ObjectMeta,
    )

    def operation(kind: str, *sizes: str) -> V1beta1Operation:
        if not sizes:
            return V1beta1Operation(operation_type=kind)
        space = V1beta1FeasibleSpace(list=list(sizes))
        parameter = V1beta1ParameterSpec(
            name="filter_size", parameter_type="categorical", feasible_space=space
        )
        return V1beta1Operation(operation_type=kind, parameters=[parameter])

    flags = [
        f'--{flag}="${{trialParameters.{name}}}"'
        for flag, name in (
            ("algorithm-settings", "algorithmSettings"),
            ("search-space", "searchSpace"),
            ("num-layers", "numberLayers"),
        )
    ]
    container = {
        "name": "training-container",
        "image": "docker.io/kubeflowkatib/darts-cnn-cifar10:latest",
        "command": [sys.executable, "-m", "tunery.nas.darts", *flags],
        "args": ["--limit=40", "--image-size=8"],
    }
    settings = {"num_epochs": "1", "stem_multiplier": "1", "init_channels": "2", "num_nodes": "2"}
    namespace = "kubeflow-user-example-com"
    experiment = V1beta1Experiment(
        api_version="kubeflow.org/v1beta1",
        kind="Experiment",
        metadata=V1ObjectMeta(name="darts-example", namespace=namespace),
        spec=V1beta1ExperimentSpec(
            max_trial_count=1,
            parallel_trial_count=1,
            max_failed_trial_count=1,
            algorithm=V1beta1AlgorithmSpec(
                algorithm_name="darts",
                algorithm_settings=[
                    V1beta1AlgorithmSetting(name=k, value=v) for k, v in settings.items()
                ],
            ),
            objective=V1beta1ObjectiveSpec(type="maximize", objective_metric_name="Best-Genotype"),
            metrics_collector_spec=V1beta1MetricsCollectorSpec(
                collector=V1beta1CollectorSpec(kind="StdOut"),
                source=V1beta1SourceSpec(
                    filter=V1beta1FilterSpec(metrics_format=["([\\w-]+)=(Genotype.*)"])
                ),
            ),
            nas_config=V1beta1NasConfig(
                graph_config=V1beta1GraphConfig(num_layers=2),
                operations=[
                    operation("separable_convolution", "3"),
                    operation("dilated_convolution", "3", "5"),
                    operation("avg_pooling", "3"),
                    operation("max_pooling", "3"),
                    operation("skip_connection"),
                ],
            ),
            trial_template=V1beta1TrialTemplate(
                primary_container_name="training-container",
                trial_parameters=[
                    V1beta1TrialParameterSpec(name=n, reference=r)
                    for n, r in (
                        ("algorithmSettings", "algorithm-settings"),
                        ("searchSpace", "search-space"),
                        ("numberLayers", "num-layers"),
                    )
                ],
                trial_spec={
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {
                        "template": {"spec": {"containers": [container], "restartPolicy": "Never"}}
                    },
                },
            ),
        ),
    )
    client = KatibClient(db=str(tmp_path / "tunery.db"), runs_dir=str(tmp_path / "runs"))
    client.create_experiment(experiment, namespace=namespace)
    client.wait_for_experiment_condition(
        name="darts-example",
        namespace=namespace,
        expected_condition="Succeeded" if STRING_METRICS else "Failed",
        timeout=600,
        polling_interval=1,
    )
    trials = client.list_trials("darts-example", namespace=namespace)
    assert len(trials) == 1
    spec, meta = trials[0].spec, trials[0].metadata
    assert spec is not None and spec.parameter_assignments and meta is not None and meta.name
    assignments = {a.name: a.value for a in spec.parameter_assignments}
    assert assignments["search-space"] == GPU_SPACE  # the notebook's operations are those
    assert assignments["algorithm-settings"] == katib_text(
        algorithm_settings([AlgorithmSetting(k, v) for k, v in settings.items()])
    )
    assert assignments["num-layers"] == "2"
    lines = list(client.get_job_logs("darts-example", meta.name, namespace=namespace))
    assert lines[-1].startswith("Best-Genotype=Genotype(normal=[[('"), lines[-3:]
