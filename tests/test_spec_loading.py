"""Bounded loading: hostile or degenerate YAML/JSON is refused in one line, fast and small."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tunery.errors import SpecError
from tunery.spec import parse_text
from tunery.spec.loading import MAX_DEPTH, MAX_NODES, check_structure, load_documents

#: "Billion laughs": 822 bytes that expand to 10^9 values.
BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)


def test_alias_bomb_is_refused_before_expansion() -> None:
    with pytest.raises(SpecError, match="aliases expanded") as err:
        load_documents(BOMB, "bomb.yaml")
    assert len(err.value.one_line()) < 400


def test_moderate_aliases_still_work() -> None:
    text = "base: &b {x: 1, y: [1, 2]}\nuse: [*b, *b, *b]\n"
    (doc,) = load_documents(text, "ok.yaml")
    assert doc["use"] == [{"x": 1, "y": [1, 2]}] * 3


def test_recursive_documents_are_refused() -> None:
    with pytest.raises(SpecError, match="recursive"):
        load_documents("a: &a [1, *a]\n", "cycle.yaml")
    cycle: list = [1]
    cycle.append(cycle)  # an SDK caller's self-referencing object
    with pytest.raises(SpecError, match="nested more than"):
        check_structure({"spec": cycle}, "the experiment document")


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1_000, 100_000])
def test_deep_yaml_and_json_are_refused(levels: int) -> None:
    flow = "a: " + "[" * levels + "]" * levels
    with pytest.raises(SpecError, match=f"nested more than {MAX_DEPTH} levels"):
        load_documents(flow, "deep.yaml")
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(min(levels, 2_000))) + "  " * 2_000 + "v"
    with pytest.raises(SpecError, match="nested more than"):
        load_documents(block, "deep-block.yaml")
    with pytest.raises(SpecError, match="nested more than"):
        load_documents('{"a": ' + "[" * levels + "]" * levels + "}", "deep.json")


def test_depth_within_the_bound_loads() -> None:
    depth = MAX_DEPTH - 2
    (doc,) = load_documents(json.dumps({"a": json.loads("[" * depth + "]" * depth)}), "ok.json")
    assert isinstance(doc["a"], list)


def test_too_many_values_and_too_large_text() -> None:
    many = "[" + ",".join(["1"] * (MAX_NODES + 10)) + "]"
    with pytest.raises(SpecError, match="values"):
        load_documents("x: " + many, "many.yaml")
    with pytest.raises(SpecError, match="MiB"):
        load_documents("# " + "x" * (5 * 1024 * 1024), "big.yaml")


def test_deep_python_documents_are_refused() -> None:
    doc: dict = {}
    node = doc
    for _ in range(10_000):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(SpecError, match="nested more than"):
        check_structure(doc, "the experiment document")


def test_five_thousand_parameters_give_one_short_line() -> None:
    params = "\n".join(
        f"  - {{name: p{i}, parameterType: double, feasibleSpace: {{min: '0', max: '1'}}}}"
        for i in range(5_000)
    )
    text = (
        "apiVersion: tunery/v1\nkind: Experiment\nmetadata: {name: wide}\nspec:\n"
        "  objective: {type: maximize, objectiveMetricName: a}\n"
        "  algorithm: {algorithmName: random}\n"
        f"  parameters:\n{params}\n"
        "  trialTemplate: {command: [python, t.py]}\n"
    )
    with pytest.raises(SpecError) as err:
        parse_text(text, "wide.yaml")
    line = err.value.one_line()
    assert line.startswith("spec.parameters: 5000 parameters")
    assert len(line) < 400 and "\n" not in line


def test_error_lines_stay_short_whatever_the_input() -> None:
    error = SpecError("spec.x", "bad value " + "v" * 100_000, "use a short one")
    line = error.one_line()
    assert len(line) < 800 and line.endswith("use a short one")
    assert "more characters" in line


def _limited_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (1024 * 1024 * 1024, 1024 * 1024 * 1024))


@pytest.mark.integration
@pytest.mark.parametrize(
    "name, text, match",
    [
        ("bomb.yaml", BOMB, "aliases expanded"),
        ("deep.yaml", "a: " + "[" * 100_000 + "]" * 100_000, "nested more than"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested more than"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli_refuses_hostile_files_in_one_line(
    tmp_path: Path, name: str, text: str, match: str, command: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    db = ["--db", str(tmp_path / "t.db")] if command == "run" else []
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", command, str(path), *db],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        preexec_fn=_limited_memory,  # 1 GiB of address space: an expansion would fail here
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0]
