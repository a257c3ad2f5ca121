"""spec.nasConfig: Katib's NAS experiments read, validated, defaulted and round-tripped."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunery.errors import SpecError
from tunery.model import AlgorithmSetting, Experiment, GraphConfig, ParameterType
from tunery.spec import parse_document, to_document
from tunery.spec.nas import (
    DARTS_DEFAULTS,
    ENAS_SETTINGS,
    darts_settings,
    enas_settings,
)
from tunery.storage import Store
from tunery.storage.codec import spec_from_json, spec_to_json


def _categorical(name: str, *values: str) -> dict[str, Any]:
    return {"name": name, "parameterType": "categorical", "feasibleSpace": {"list": list(values)}}


def enas_doc(name: str = "enas-small") -> dict[str, Any]:
    """An ENAS experiment covering the fields of Katib's enas-cpu/gpu examples."""
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "parallelTrialCount": 2,
            "maxTrialCount": 4,
            "maxFailedTrialCount": 1,
            "objective": {
                "type": "maximize",
                "goal": 0.9,
                "objectiveMetricName": "Validation-Accuracy",
            },
            "algorithm": {"algorithmName": "enas"},
            "nasConfig": {
                "graphConfig": {"numLayers": 2, "inputSizes": [28, 28, 1], "outputSizes": [10]},
                "operations": [
                    {
                        "operationType": "convolution",
                        "parameters": [
                            _categorical("filter_size", "3", "5"),
                            _categorical("num_filter", "16", "32"),
                            _categorical("stride", "1"),
                        ],
                    },
                    {
                        "operationType": "separable_convolution",
                        "parameters": [
                            _categorical("filter_size", "3"),
                            _categorical("depth_multiplier", "1", "2"),
                        ],
                    },
                    {
                        "operationType": "reduction",
                        "parameters": [
                            _categorical("reduction_type", "max_pooling", "avg_pooling"),
                            {
                                "name": "pool_size",
                                "parameterType": "int",
                                "feasibleSpace": {"min": "2", "max": "3", "step": "1"},
                            },
                        ],
                    },
                ],
            },
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "trialParameters": [
                    {"name": "arch", "reference": "architecture"},
                    {"name": "config", "reference": "nn_config"},
                ],
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "training-container",
                                        "image": "example.org/enas:1",
                                        "command": [
                                            "python3",
                                            "RunTrial.py",
                                            '--architecture="${trialParameters.arch}"',
                                            '--nn_config="${trialParameters.config}"',
                                        ],
                                    }
                                ],
                                "restartPolicy": "Never",
                            }
                        }
                    },
                },
            },
        },
    }


def darts_doc(name: str = "darts-small") -> dict[str, Any]:
    """A DARTS experiment covering the fields of Katib's darts-cpu/gpu examples."""
    doc = enas_doc(name)
    spec = doc["spec"]
    spec["objective"] = {"type": "maximize", "objectiveMetricName": "Best-Genotype"}
    spec["metricsCollectorSpec"] = {
        "collector": {"kind": "StdOut"},
        "source": {"filter": {"metricsFormat": ["([\\w-]+)=(Genotype.*)"]}},
    }
    spec["algorithm"] = {
        "algorithmName": "darts",
        "algorithmSettings": [
            {"name": "num_epochs", "value": "1"},
            {"name": "num_nodes", "value": "1"},
            {"name": "batch_size", "value": "None"},
        ],
    }
    spec["nasConfig"] = {
        "graphConfig": {"numLayers": 3},
        "operations": [
            {
                "operationType": "separable_convolution",
                "parameters": [_categorical("filter_size", "3")],
            },
            {"operationType": "max_pooling", "parameters": [_categorical("filter_size", "3", "5")]},
            {"operationType": "skip_connection"},
        ],
    }
    tt = spec["trialTemplate"]
    tt["trialParameters"] = [
        {"name": "algorithmSettings", "reference": "algorithm-settings"},
        {"name": "searchSpace", "reference": "search-space"},
        {"name": "numberLayers", "reference": "num-layers"},
    ]
    container = tt["trialSpec"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] = [
        "python3",
        "run_trial.py",
        '--algorithm-settings="${trialParameters.algorithmSettings}"',
        '--search-space="${trialParameters.searchSpace}"',
        '--num-layers="${trialParameters.numberLayers}"',
    ]
    return doc


def parse(doc: dict[str, Any]) -> Any:
    return parse_document(doc, check_algorithm=False)


def refused(doc: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse(doc)
    error = info.value
    assert error.hint, error.one_line()
    assert "\n" not in error.one_line()
    return error


# --------------------------------------------------------------------------- reading


def test_enas_experiment_is_read_into_the_model() -> None:
    spec = parse(enas_doc())
    nas = spec.nas_config
    assert nas is not None and spec.parameters == ()
    assert nas.graph_config == GraphConfig(
        num_layers=2, input_sizes=(28, 28, 1), output_sizes=(10,)
    )
    assert [op.operation_type for op in nas.operations] == [
        "convolution",
        "separable_convolution",
        "reduction",
    ]
    pool = nas.operations[2].parameters[1]
    assert pool.name == "pool_size" and pool.parameter_type is ParameterType.INT
    assert (pool.feasible_space.min, pool.feasible_space.max) == ("2", "3")
    assert nas.operations[0].parameters[1].feasible_space.list == ("16", "32")


def test_darts_experiment_is_read_skip_connection_without_parameters() -> None:
    spec = parse(darts_doc())
    nas = spec.nas_config
    assert nas is not None
    assert nas.graph_config == GraphConfig(num_layers=3)
    assert nas.operations[2].operation_type == "skip_connection"
    assert nas.operations[2].parameters == ()


@pytest.mark.parametrize("make", [enas_doc, darts_doc])
def test_round_trip_document_and_storage_codec(make: Any) -> None:
    spec = parse(make())
    document = to_document(spec)
    assert "parameters" not in document["spec"]
    again = parse(yaml.safe_load(yaml.safe_dump(document)))
    assert again == spec
    assert to_document(again) == document
    assert spec_from_json(spec_to_json(spec)) == spec


def test_numbers_written_as_numbers_read_back_as_katib_strings() -> None:
    doc = enas_doc()
    pool = doc["spec"]["nasConfig"]["operations"][2]["parameters"][1]
    pool["feasibleSpace"] = {"min": 2, "max": 3, "step": 1}
    written = to_document(parse(doc))["spec"]["nasConfig"]["operations"][2]["parameters"][1]
    assert written["feasibleSpace"] == {"min": "2", "max": "3", "step": "1"}


# --------------------------------------------------------------------------- refusals


def _op(doc: dict[str, Any], i: int) -> dict[str, Any]:
    op: dict[str, Any] = doc["spec"]["nasConfig"]["operations"][i]
    return op


def _edit(make: Any, change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(make())
    change(doc)
    return doc


P = "spec.nasConfig"
OPS = f"{P}.operations"
GRAPH = f"{P}.graphConfig"

CASES: list[tuple[str, Any, Any, str, str]] = [
    # (id, make, change, path, message fragment)
    (
        "unknown-field",
        enas_doc,
        lambda d: d["spec"]["nasConfig"].update(graph={}),
        f"{P}.graph",
        "unknown field",
    ),
    (
        "unknown-graph-field",
        enas_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].update(numLayer=3),
        f"{GRAPH}.numLayer",
        "unknown field",
    ),
    (
        "size-not-int",
        enas_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].update(inputSizes=["32"]),
        f"{GRAPH}.inputSizes[0]",
        "must be an integer",
    ),
    (
        "input-sizes-missing",
        enas_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].pop("inputSizes"),
        f"{GRAPH}.inputSizes",
        "is required by enas",
    ),
    (
        "output-sizes-missing",
        enas_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].update(outputSizes=[]),
        f"{GRAPH}.outputSizes",
        "is required by enas",
    ),
    (
        "size-zero",
        enas_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].update(outputSizes=[0]),
        f"{GRAPH}.outputSizes[0]",
        "must be positive",
    ),
    (
        "num-layers-missing",
        enas_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].pop("numLayers"),
        f"{GRAPH}.numLayers",
        "is required",
    ),
    (
        "num-layers-zero",
        enas_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].update(numLayers=0),
        f"{GRAPH}.numLayers",
        "must not be 0",
    ),
    (
        "num-layers-negative",
        darts_doc,
        lambda d: d["spec"]["nasConfig"]["graphConfig"].update(numLayers=-2),
        f"{GRAPH}.numLayers",
        "must be positive",
    ),
    (
        "darts-num-layers-missing",
        darts_doc,
        lambda d: d["spec"]["nasConfig"].update(graphConfig={}),
        f"{GRAPH}.numLayers",
        "is required by darts",
    ),
    (
        "no-operations",
        enas_doc,
        lambda d: d["spec"]["nasConfig"].update(operations=[]),
        OPS,
        "at least one operation",
    ),
    (
        "operation-type-missing",
        enas_doc,
        lambda d: _op(d, 1).pop("operationType"),
        f"{OPS}[1].operationType",
        "is required",
    ),
    (
        "operation-without-parameters",
        enas_doc,
        lambda d: _op(d, 0).pop("parameters"),
        f"{OPS}[0].parameters",
        "has no parameters",
    ),
    (
        "parameter-name-missing",
        enas_doc,
        lambda d: _op(d, 0)["parameters"][0].pop("name"),
        f"{OPS}[0].parameters[0].name",
        "is required",
    ),
    (
        "parameter-type-missing",
        enas_doc,
        lambda d: _op(d, 0)["parameters"][1].pop("parameterType"),
        f"{OPS}[0].parameters[1].parameterType",
        "is required",
    ),
    (
        "parameter-type-unknown",
        enas_doc,
        lambda d: _op(d, 0)["parameters"][1].update(parameterType="string"),
        f"{OPS}[0].parameters[1].parameterType",
        "invalid parameterType",
    ),
    (
        "categorical-without-list",
        enas_doc,
        lambda d: _op(d, 0)["parameters"][2].update(feasibleSpace={"list": []}),
        f"{OPS}[0].parameters[2].feasibleSpace.list",
        "needs a list",
    ),
    (
        "discrete-not-numbers",
        enas_doc,
        lambda d: _op(d, 0)["parameters"][2].update(
            parameterType="discrete", feasibleSpace={"list": ["1", "two"]}
        ),
        f"{OPS}[0].parameters[2].feasibleSpace.list[1]",
        "must be a number",
    ),
    (
        "int-without-min-and-max",
        enas_doc,
        lambda d: _op(d, 2)["parameters"][1].update(feasibleSpace={"step": "1"}),
        f"{OPS}[2].parameters[1].feasibleSpace",
        "needs min and max",
    ),
    (
        "int-without-max",
        enas_doc,
        lambda d: _op(d, 2)["parameters"][1]["feasibleSpace"].pop("max"),
        f"{OPS}[2].parameters[1].feasibleSpace.max",
        "is required",
    ),
    (
        "int-not-integer",
        enas_doc,
        lambda d: _op(d, 2)["parameters"][1]["feasibleSpace"].update(min="1.5"),
        f"{OPS}[2].parameters[1].feasibleSpace.min",
        "must be an integer",
    ),
    (
        "min-above-max",
        enas_doc,
        lambda d: _op(d, 2)["parameters"][1]["feasibleSpace"].update(min="4"),
        f"{OPS}[2].parameters[1].feasibleSpace",
        "is above max",
    ),
    (
        "double-without-step",
        enas_doc,
        lambda d: _op(d, 2)["parameters"][1].update(
            parameterType="double", feasibleSpace={"min": "0.1", "max": "0.5"}
        ),
        f"{OPS}[2].parameters[1].feasibleSpace.step",
        "needs a step above 0",
    ),
    (
        "double-step-zero",
        enas_doc,
        lambda d: _op(d, 2)["parameters"][1].update(
            parameterType="double", feasibleSpace={"min": "0.1", "max": "0.5", "step": "0"}
        ),
        f"{OPS}[2].parameters[1].feasibleSpace.step",
        "must be above 0",
    ),
    (
        "duplicate-parameter",
        enas_doc,
        lambda d: _op(d, 1)["parameters"].append(_categorical("filter_size", "5")),
        f"{OPS}[1].parameters[2].name",
        "appears twice",
    ),
    (
        "darts-first-parameter-not-a-list",
        darts_doc,
        lambda d: _op(d, 1).update(
            parameters=[
                {
                    "name": "filter_size",
                    "parameterType": "int",
                    "feasibleSpace": {"min": "3", "max": "5"},
                }
            ]
        ),
        f"{OPS}[1].parameters[0]",
        "darts reads operation max_pooling's filter sizes",
    ),
    (
        "parameters-and-nas-config",
        enas_doc,
        lambda d: d["spec"].update(
            parameters=[
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0.1", "max": "1"},
                }
            ]
        ),
        "spec",
        "only one of spec.parameters and spec.nasConfig",
    ),
    (
        "nas-config-with-another-algorithm",
        enas_doc,
        lambda d: d["spec"]["algorithm"].update(algorithmName="random"),
        "spec.algorithm.algorithmName",
        "algorithm random cannot search spec.nasConfig",
    ),
    (
        "initial-trials",
        enas_doc,
        lambda d: d["metadata"].update(
            annotations={"tunery.dev/initial-trials": '[{"architecture": "[[0]]"}]'}
        ),
        "spec.initialTrials",
        "enas plans every architecture itself",
    ),
    (
        "reference-not-an-assignment",
        enas_doc,
        lambda d: d["spec"]["trialTemplate"]["trialParameters"][1].update(reference="config"),
        "spec.trialTemplate.trialParameters[1].reference",
        "does not exist in enas's assignments",
    ),
    (
        "darts-reference-of-enas",
        darts_doc,
        lambda d: d["spec"]["trialTemplate"]["trialParameters"][2].update(reference="nn_config"),
        "spec.trialTemplate.trialParameters[2].reference",
        "does not exist in darts's assignments",
    ),
]


@pytest.mark.parametrize(
    ("make", "change", "path", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_invalid_nas_config_is_refused_naming_the_field(
    make: Any, change: Any, path: str, fragment: str
) -> None:
    parse(make())  # the unchanged document is valid
    error = refused(_edit(make, change))
    assert error.path == path, error.one_line()
    assert fragment in error.message, error.one_line()


@pytest.mark.parametrize("algorithm", ["enas", "darts"])
def test_nas_algorithm_needs_nas_config(algorithm: str) -> None:
    doc = enas_doc()
    spec = doc["spec"]
    del spec["nasConfig"]
    spec["algorithm"]["algorithmName"] = algorithm
    spec["parameters"] = [
        {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.1", "max": "1"}}
    ]
    spec["trialTemplate"]["trialParameters"] = [{"name": "arch", "reference": "lr"}]
    spec["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]["command"] = [
        "python3",
        "t.py",
        "${trialParameters.arch}",
    ]
    error = refused(doc)
    assert error.path == "spec.nasConfig"
    assert f"is required by algorithm {algorithm}" in error.message


# --------------------------------------------------------------------------- settings


def _with_settings(make: Any, *settings: tuple[str, str]) -> dict[str, Any]:
    doc = make()
    doc["spec"]["algorithm"]["algorithmSettings"] = [{"name": n, "value": v} for n, v in settings]
    return doc


def test_enas_defaults_are_katibs() -> None:
    assert enas_settings(()) == {
        "controller_hidden_size": 64,
        "controller_temperature": 5.0,
        "controller_tanh_const": 2.25,
        "controller_entropy_weight": 1e-5,
        "controller_baseline_decay": 0.999,
        "controller_learning_rate": 5e-5,
        "controller_skip_target": 0.4,
        "controller_skip_weight": 0.8,
        "controller_train_steps": 50,
        "controller_log_every_steps": 10,
    }


def test_enas_settings_override_defaults_and_accept_none_where_katib_does() -> None:
    got = enas_settings(
        (
            AlgorithmSetting("controller_hidden_size", "32"),
            AlgorithmSetting("controller_temperature", "None"),
            AlgorithmSetting("controller_baseline_decay", "1"),
            AlgorithmSetting("controller_skip_weight", "0.5"),
        )
    )
    assert got["controller_hidden_size"] == 32 and isinstance(got["controller_hidden_size"], int)
    assert got["controller_temperature"] is None
    assert got["controller_baseline_decay"] == 1.0  # (0, 1]: the upper bound is allowed
    assert got["controller_skip_weight"] == 0.5
    assert got["controller_train_steps"] == 50
    # the document keeps what the user wrote: defaults are not written into it
    doc = _with_settings(enas_doc, ("controller_hidden_size", "32"))
    written = to_document(parse(doc))["spec"]["algorithm"]["algorithmSettings"]
    assert written == [{"name": "controller_hidden_size", "value": "32"}]


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("controller_lr", "0.1", "unknown enas setting 'controller_lr'"),
        ("controller_hidden_size", "0", "must be at least 1"),
        ("controller_hidden_size", "6.5", "must be an integer"),
        ("controller_hidden_size", "None", "must be an integer, not 'None'"),
        ("controller_train_steps", "0", "must be at least 1"),
        ("controller_log_every_steps", "-1", "must be at least 1"),
        ("controller_temperature", "0", "must be in (0, inf)"),
        ("controller_tanh_const", "-1", "must be in (0, inf)"),
        ("controller_entropy_weight", "0", "must be in (0, inf)"),
        ("controller_baseline_decay", "1.5", "must be in (0, 1]"),
        ("controller_baseline_decay", "None", "must be a number, not 'None'"),
        ("controller_learning_rate", "0", "must be in (0, 1]"),
        ("controller_skip_target", "2", "must be in (0, 1]"),
        ("controller_skip_weight", "fast", 'must be a number or "None"'),
        ("controller_skip_weight", "nan", "must be a finite number"),
    ],
)
def test_enas_setting_refused(name: str, value: str, fragment: str) -> None:
    first = (
        "controller_train_steps" if name != "controller_train_steps" else "controller_hidden_size"
    )
    doc = _with_settings(enas_doc, (first, "5"), (name, value))
    error = refused(doc)
    assert error.path.startswith("spec.algorithm.algorithmSettings[1]"), error.one_line()
    assert fragment in error.message, error.one_line()


def test_every_enas_setting_has_a_default_and_a_check() -> None:
    for name, (kind, default, low, high) in ENAS_SETTINGS.items():
        assert isinstance(default, kind)
        assert default >= low and (high is None or default <= high)
        assert enas_settings((AlgorithmSetting(name, str(default)),))[name] == default


def test_darts_defaults_and_pass_through() -> None:
    got = darts_settings(
        (
            AlgorithmSetting("num_epochs", "3"),
            AlgorithmSetting("batch_size", "None"),
            AlgorithmSetting("my_flag", "anything"),
        )
    )
    assert got["num_epochs"] == "3"
    assert got["batch_size"] is None
    assert got["my_flag"] == "anything"
    assert {k: got[k] for k in DARTS_DEFAULTS if k not in ("num_epochs", "batch_size")} == {
        k: v for k, v in DARTS_DEFAULTS.items() if k not in ("num_epochs", "batch_size")
    }
    assert DARTS_DEFAULTS["w_lr"] == "0.025" and DARTS_DEFAULTS["init_channels"] == "16"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("num_epochs", "0", "must be at least 1"),
        ("w_lr", "-0.1", "must be at least 0"),
        ("w_lr_min", "x", "must be a number"),
        ("alpha_lr", "-1", "must be at least 0"),
        ("w_weight_decay", "-1", "must be at least 0"),
        ("alpha_weight_decay", "-1", "must be at least 0"),
        ("w_momentum", "-0.5", "must be at least 0"),
        ("w_grad_clip", "-5", "must be at least 0"),
        ("batch_size", "0", "must be at least 1"),
        ("num_workers", "-1", "must be at least 0"),
        ("init_channels", "0", "must be at least 1"),
        ("print_step", "0", "must be at least 1"),
        ("num_nodes", "0", "must be at least 1"),
        ("stem_multiplier", "1.5", "must be an integer"),
        ("num_epochs", "None", "must be an integer"),
    ],
)
def test_darts_setting_refused(name: str, value: str, fragment: str) -> None:
    first = "print_step" if name != "print_step" else "num_nodes"
    error = refused(_with_settings(darts_doc, (first, "2"), (name, value)))
    assert error.path == "spec.algorithm.algorithmSettings[1].value", error.one_line()
    assert fragment in error.message, error.one_line()


# --------------------------------------------------------------------------- faces


def _tunery(*args: str, cwd: Path, check: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"},
    )
    assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_cli_validate_reads_nas_config_and_says_what_it_searches(tmp_path: Path) -> None:
    (tmp_path / "enas.yaml").write_text(yaml.safe_dump(enas_doc()))
    out = _tunery("validate", str(tmp_path / "enas.yaml"), cwd=tmp_path)
    assert "experiment enas-small is valid (enas, 2 layers of 3 operation types" in out.stdout
    (tmp_path / "darts.yaml").write_text(yaml.safe_dump(darts_doc()))
    out = _tunery("validate", str(tmp_path / "darts.yaml"), cwd=tmp_path)
    assert "is valid (darts" in out.stdout, out.stdout
    bad = enas_doc()
    bad["spec"]["nasConfig"]["graphConfig"]["numLayers"] = 0
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    out = _tunery("validate", str(tmp_path / "bad.yaml"), cwd=tmp_path, check=2)
    assert out.stderr.startswith("error: spec.nasConfig.graphConfig.numLayers: ")
    assert "Traceback" not in out.stderr


def test_validate_warns_about_darts_settings_it_passes_through(tmp_path: Path) -> None:
    from tunery.spec import spec_warnings

    spec = parse(_with_settings(darts_doc, ("num_epochs", "2"), ("my_flag", "1")))
    warnings = spec_warnings(spec)
    assert len(warnings) == 1
    assert warnings[0].startswith("spec.algorithm.algorithmSettings[1].name: darts setting")
    assert "passed to the trial as is" in warnings[0]


def test_stored_nas_experiment_round_trips_through_get_and_export(tmp_path: Path) -> None:
    doc = enas_doc("stored-enas")
    spec = parse(doc)
    store = Store(str(tmp_path / "tunery.db"))
    store.create_experiment(
        Experiment(
            name=spec.name,
            spec=spec,
            document=to_document(spec),
            created_time=0.0,
            base_dir=str(tmp_path),
            runs_dir=str(tmp_path / "runs"),
        )
    )
    assert store.get_experiment("stored-enas").spec == spec
    store.close()
    exported = yaml.safe_load(_tunery("export", "stored-enas", cwd=tmp_path).stdout)
    got = yaml.safe_load(_tunery("get", "stored-enas", "-o", "yaml", cwd=tmp_path).stdout)
    for document in (exported, got):
        assert document["spec"]["nasConfig"] == doc["spec"]["nasConfig"]
        assert "parameters" not in document["spec"]
        assert parse(document) == spec


def test_a_missing_katib_trial_script_points_at_tunerys_trainer(tmp_path: Path) -> None:
    from tunery.spec.commands import command_warnings

    darts = [w for w in command_warnings(parse(darts_doc()), str(tmp_path)) if "run_trial.py" in w]
    assert len(darts) == 1 and darts[0].endswith("same flags: python -m tunery.nas.darts"), darts
    enas = command_warnings(parse(enas_doc()), str(tmp_path))
    assert all("tunery.nas.darts" not in w for w in enas)
