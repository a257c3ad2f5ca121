"""Katib and native documents <-> model: every valid file parses and round-trips."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunery.errors import SpecError
from tunery.model import CollectorKind, ExperimentSpec, FileFormat, ParameterType
from tunery.spec import (
    ParsedExperiment,
    load_file,
    parse_document,
    parse_text,
    to_document,
)
from tunery.spec.katib import format_duration, parse_duration

DATA = Path(__file__).parent / "data" / "spec"
VALID = sorted((DATA / "valid").iterdir())
INVALID = sorted((DATA / "invalid").iterdir())

#: Algorithms that this version of tunery runs (the others are validated without the registry).
RUNNABLE = {"random", "grid", "sobol"}


def _suggesters_available() -> bool:
    return all(importlib.util.find_spec(f"tunery.suggest.{name}") is not None for name in RUNNABLE)


def _load(path: Path) -> list[ParsedExperiment]:
    return load_file(path, check_algorithm=False)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_file_parses_and_round_trips(path: Path) -> None:
    parsed = _load(path)
    assert parsed
    for item in parsed:
        assert isinstance(item.spec, ExperimentSpec)
        # The document is the defaulted document, and it reads back to the same spec.
        assert to_document(item.spec) == item.document
        again = parse_document(item.document, check_algorithm=False)
        assert again == item.spec
        assert to_document(again) == item.document
        # ... also after a trip through YAML and JSON text.
        assert (
            parse_document(yaml.safe_load(yaml.safe_dump(item.document)), check_algorithm=False)
            == item.spec
        )
        assert (
            parse_document(json.loads(json.dumps(item.document)), check_algorithm=False)
            == item.spec
        )


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_file_passes_algorithm_registry_when_runnable(path: Path) -> None:
    if not _suggesters_available():
        pytest.skip("tunery.suggest.random/grid/sobol are not there yet")
    specs = [p.spec for p in _load(path)]
    runnable = [s for s in specs if s.algorithm.algorithm_name in RUNNABLE]
    others = [s for s in specs if s.algorithm.algorithm_name not in RUNNABLE]
    for spec in others:
        # Not run yet (refused at the algorithm) or registered later by its own module.
        try:
            assert parse_document(to_document(spec)) == spec
        except SpecError as exc:
            assert exc.path.startswith("spec.algorithm"), exc.one_line()
    for spec in runnable:
        assert parse_document(to_document(spec)) == spec


def _expectation(path: Path) -> tuple[str, str]:
    lines = path.read_text().splitlines()
    expected_path = lines[0].removeprefix("# path:").strip()
    match = lines[1].removeprefix("# match:").strip()
    return expected_path, match


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_file_is_refused_with_path_and_hint(path: Path) -> None:
    expected_path, match = _expectation(path)
    check_algorithm = path.name == "unknown-algorithm.yaml"
    if check_algorithm and not _suggesters_available():
        pytest.skip("tunery.suggest.random/grid/sobol are not there yet")
    with pytest.raises(SpecError) as info:
        load_file(path, check_algorithm=check_algorithm)
    error = info.value
    assert error.path == expected_path, error.one_line()
    assert match in error.message, error.one_line()
    assert error.hint, error.one_line()


@pytest.mark.parametrize(
    "name",
    [
        "random-job.yaml",
        "sobol-native.yaml",
        "tfevent-tfjob.yaml",
        "file-collector-json.yaml",
        "metadata-substitution.yaml",
    ],
)
def test_corruptions_raise_spec_error_only(name: str) -> None:
    """Any value anywhere replaced by junk: SpecError or a spec that renders; never a crash."""
    from tunery.spec import render_trial

    base = yaml.safe_load((DATA / "valid" / name).read_text())
    junk: list[Any] = [None, -1, 1.5, True, "x", [1], {"a": 1}, [{"b": None}]]

    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [prefix]
        if isinstance(node, dict):
            for k, v in node.items():
                out += paths(v, (*prefix, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out += paths(v, (*prefix, i))
        return out

    refused = 0
    for where in paths(base):
        if not where:
            continue
        for value in junk:
            doc = json.loads(json.dumps(base))
            node = doc
            for key in where[:-1]:
                node = node[key]
            node[where[-1]] = value
            try:
                spec = parse_document(doc, check_algorithm=False)
            except SpecError as exc:
                assert isinstance(exc.path, str)
                refused += 1
                continue
            values: dict[str, Any] = {
                p.name: p.feasible_space.list[0] if p.feasible_space.list else 1
                for p in spec.parameters
            }
            with contextlib.suppress(SpecError):
                render_trial(spec, "t-1", values)
    assert refused > 50


def test_multi_document_file_skips_other_kinds() -> None:
    parsed = _load(DATA / "valid" / "multi-experiments.yaml")
    assert [p.spec.name for p in parsed] == ["first", "second"]
    assert all(p.spec.source_format == "native" for p in parsed)


def test_json_file() -> None:
    (parsed,) = _load(DATA / "valid" / "experiment.json")
    assert parsed.spec.name == "json-experiment"
    assert parsed.spec.parameters[0].feasible_space.max == "10"


def test_katib_fields_are_read() -> None:
    (parsed,) = _load(DATA / "valid" / "random-job.yaml")
    spec = parsed.spec
    assert spec.namespace == "tuning"
    assert spec.labels == {"team": "vision"}
    assert spec.annotations == {"owner": "someone@example.com"}
    assert spec.objective.goal == 0.05
    assert spec.algorithm.settings_dict() == {"random_state": "42"}
    assert (spec.parallel_trial_count, spec.max_trial_count, spec.max_failed_trial_count) == (
        2,
        10,
        2,
    )
    assert [p.parameter_type for p in spec.parameters] == [
        ParameterType.DOUBLE,
        ParameterType.DOUBLE,
        ParameterType.DISCRETE,
    ]
    assert spec.parameters[2].feasible_space.list == ("16", "32", "64")
    tt = spec.trial_template
    assert tt.primary_container_name == "trainer"
    assert tt.trial_parameters[0].description == "step size"
    assert tt.trial_spec is not None and tt.trial_spec["kind"] == "Job"
    assert not tt.is_native


def test_metrics_collector_sections_are_kept() -> None:
    from tunery.spec.katib import read_document

    # Read (not validated: tunery refuses the Custom kind, it needs Katib's DB manager).
    doc = yaml.safe_load(
        "\n".join((DATA / "invalid" / "custom-collector.yaml").read_text().splitlines()[2:])
    )
    mc = read_document(doc).metrics_collector
    assert mc.kind is CollectorKind.CUSTOM
    assert mc.path == "/katib/out.log"
    assert mc.extra["collector"]["customCollector"]["name"] == "my-collector"
    (flt,) = _load(DATA / "valid" / "file-collector-filter.yaml")
    assert len(flt.spec.metrics_collector.metrics_format) == 1
    (js,) = _load(DATA / "valid" / "file-collector-json.yaml")
    assert js.spec.metrics_collector.file_format is FileFormat.JSON


def test_native_form() -> None:
    (parsed,) = _load(DATA / "valid" / "sobol-native.yaml")
    spec = parsed.spec
    tt = spec.trial_template
    assert spec.source_format == "native"
    assert tt.is_native
    assert tt.command[0] == "python"
    assert tt.env == {"OMP_NUM_THREADS": "1", "TRIAL": "${trialSpec.Name}"}
    assert tt.timeout == 90.0
    assert tt.resources == {"cpu": "2", "nvidia.com/gpu": "1"}
    assert parsed.document["spec"]["trialTemplate"]["timeout"] == "90s"
    # Numbers given for min/max are kept as Katib's numeric strings.
    assert spec.parameters[0].feasible_space.min == "-5"
    assert parsed.document["apiVersion"] == "tunery/v1"


def test_kubeflow_api_version_with_command_stays_katib() -> None:
    (parsed,) = _load(DATA / "valid" / "katib-apiversion-command.yaml")
    assert parsed.spec.source_format == "katib"
    assert parsed.spec.trial_template.is_native
    assert parsed.document["apiVersion"] == "kubeflow.org/v1beta1"
    assert parsed.document["spec"]["trialTemplate"]["timeout"] == "10m"


def test_configmap_in_same_file_is_inlined() -> None:
    (parsed,) = _load(DATA / "valid" / "configmap-same-file.yaml")
    tt = parsed.spec.trial_template
    assert tt.config_map is None
    assert tt.trial_spec is not None and tt.trial_spec["kind"] == "Job"
    assert tt.primary_container_name == "training-container"


_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: trial-templates, namespace: kubeflow}
data:
  defaultTrialTemplate.yaml: |-
    apiVersion: batch/v1
    kind: Job
    spec:
      template:
        spec:
          containers:
            - name: training-container
              image: example.org/mnist:1
              command: [python3, mnist.py, "--lr=${trialParameters.learningRate}",
                        "--opt=${trialParameters.optimizer}"]
          restartPolicy: Never
"""


def _inlined(parsed: ParsedExperiment) -> None:
    tt = parsed.spec.trial_template
    assert tt.config_map is None
    assert tt.trial_spec is not None and tt.trial_spec["kind"] == "Job"
    # The stored document keeps the inlined template: resume needs no ConfigMap.
    assert "configMap" not in parsed.document["spec"]["trialTemplate"]
    assert parsed.document["spec"]["trialTemplate"]["trialSpec"]["kind"] == "Job"


def test_configmap_from_option_env_and_conventional_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = tmp_path / "exp.yaml"
    experiment.write_text((DATA / "invalid" / "configmap-not-found.yaml").read_text())
    monkeypatch.delenv("TUNERY_CONFIGMAPS", raising=False)
    with pytest.raises(SpecError) as info:
        load_file(experiment, check_algorithm=False)
    assert info.value.path == "spec.trialTemplate.configMap.configMapName"
    assert "kubeflow/trial-templates" in info.value.message
    for way in ("---", "--configmap", "TUNERY_CONFIGMAPS", "configmaps/"):
        assert way in (info.value.hint or "")

    maps = tmp_path / "elsewhere" / "cm.yaml"
    maps.parent.mkdir()
    maps.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n" + _CONFIGMAP)
    _inlined(load_file(experiment, check_algorithm=False, configmaps=[maps])[0])
    # A directory of ConfigMap files works the same.
    _inlined(load_file(experiment, check_algorithm=False, configmaps=[maps.parent])[0])

    monkeypatch.setenv("TUNERY_CONFIGMAPS", os.pathsep.join(["", str(maps)]))
    _inlined(load_file(experiment, check_algorithm=False)[0])
    monkeypatch.delenv("TUNERY_CONFIGMAPS")

    (tmp_path / "configmaps").mkdir()
    (tmp_path / "configmaps" / "templates.yml").write_text(_CONFIGMAP)
    _inlined(load_file(experiment, check_algorithm=False)[0])


def test_configmap_namespace_and_template_path(tmp_path: Path) -> None:
    experiment = tmp_path / "exp.yaml"
    experiment.write_text((DATA / "invalid" / "configmap-not-found.yaml").read_text())
    other_ns = tmp_path / "other.yaml"
    other_ns.write_text(_CONFIGMAP.replace("namespace: kubeflow", "namespace: team-a"))
    with pytest.raises(SpecError) as info:
        load_file(experiment, check_algorithm=False, configmaps=[other_ns])
    assert info.value.path == "spec.trialTemplate.configMap.configMapName"
    # Without a namespace the ConfigMap is in the experiment's namespace (default here).
    no_ns = tmp_path / "nons.yaml"
    no_ns.write_text(_CONFIGMAP.replace(", namespace: kubeflow", ""))
    with pytest.raises(SpecError):
        load_file(experiment, check_algorithm=False, configmaps=[no_ns])
    in_default = experiment.read_text().replace(
        "configMapNamespace: kubeflow", "configMapNamespace: default"
    )
    experiment.write_text(in_default)
    _inlined(load_file(experiment, check_algorithm=False, configmaps=[no_ns])[0])
    wrong_key = tmp_path / "key.yaml"
    wrong_key.write_text(
        _CONFIGMAP.replace(", namespace: kubeflow", "").replace("defaultTrialTemplate", "other")
    )
    with pytest.raises(SpecError) as info:
        load_file(experiment, check_algorithm=False, configmaps=[wrong_key])
    assert info.value.path == "spec.trialTemplate.configMap.templatePath"
    assert "other.yaml" in (info.value.hint or "")
    with pytest.raises(SpecError, match="no such file"):
        load_file(experiment, check_algorithm=False, configmaps=[tmp_path / "nope.yaml"])


def test_parse_text_and_source_in_yaml_error() -> None:
    with pytest.raises(SpecError) as info:
        parse_text("a: [1, 2\nb: 3\n", source="exp.yaml")
    assert "exp.yaml:" in info.value.message
    assert "line" in info.value.message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_file(tmp_path / "missing.yaml")
    assert info.value.path == ""
    assert info.value.hint
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(SpecError):
        load_file(binary)


def test_non_mapping_documents() -> None:
    with pytest.raises(SpecError) as info:
        parse_text("- just\n- a list\n")
    assert "no Experiment" in info.value.message
    with pytest.raises(SpecError):
        parse_document([1, 2])  # type: ignore[arg-type]


def test_model_edits_round_trip() -> None:
    """What the CLI does for --parallel/--max-trials: replace, to_document, parse again."""
    from dataclasses import replace

    (parsed,) = _load(DATA / "valid" / "random-job.yaml")
    spec = replace(parsed.spec, parallel_trial_count=5, max_trial_count=20, name="renamed")
    again = parse_document(to_document(spec), check_algorithm=False)
    assert again == spec
    with pytest.raises(SpecError) as info:
        parse_document(to_document(replace(spec, parallel_trial_count=50)), check_algorithm=False)
    assert info.value.path == "spec.parallelTrialCount"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("45", 45.0),
        ("500ms", 0.5),
        (120, 120.0),
        (2.5, 2.5),
        ("1d", 86400.0),
    ],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text, "t") == seconds
    assert parse_duration(format_duration(seconds), "t") == seconds


@pytest.mark.parametrize("text", ["", "abc", "10 minutes", "-5", 0, True, "1h-5m", [1]])
def test_bad_durations(text: Any) -> None:
    with pytest.raises(SpecError):
        parse_duration(text, "t")


def test_spec_built_in_python_round_trips_after_defaulting() -> None:
    from tunery.model import (
        AlgorithmSpec,
        FeasibleSpace,
        Objective,
        ObjectiveType,
        ParameterSpec,
        TrialTemplate,
    )

    built = ExperimentSpec(
        name="sdk-built",
        objective=Objective(ObjectiveType.MINIMIZE, "loss"),
        algorithm=AlgorithmSpec("random"),
        parameters=(ParameterSpec("x", ParameterType.DOUBLE, FeasibleSpace(min="0", max="1")),),
        trial_template=TrialTemplate(command=("python", "f.py", "${trialParameters.x}")),
        source_format="native",
    )
    spec = parse_document(to_document(built), check_algorithm=False)
    assert spec.trial_template.command == built.trial_template.command
    assert parse_document(to_document(spec), check_algorithm=False) == spec
    assert yaml.safe_load(yaml.safe_dump(to_document(spec))) == to_document(spec)
