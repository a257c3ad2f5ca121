"""``tunery run --warm-start-from / --warm-start-csv``: real processes, real SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import SCORE_IS_X, native_doc, write_yaml


def tunery(*args: str, cwd: Path, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"},
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def trials_json(name: str, cwd: Path, *extra: str) -> list[dict]:
    return json.loads(tunery("trials", name, "--json", *extra, cwd=cwd).stdout)


def test_csv_of_tunery_export_seeds_a_new_run(tmp_path: Path) -> None:
    first = write_yaml(tmp_path / "a.yaml", native_doc("a", SCORE_IS_X, max_trials=3))
    tunery("run", str(first), "-q", cwd=tmp_path)
    exported = tunery("export", "a", "-o", "csv", cwd=tmp_path).stdout
    (tmp_path / "a.csv").write_text(exported)

    second = write_yaml(tmp_path / "b.yaml", native_doc("b", SCORE_IS_X, max_trials=2))
    out = tunery("run", str(second), "--warm-start-csv", "a.csv", cwd=tmp_path)
    assert "warm start from csv:a.csv: 3 seeded" in out.stderr
    old = trials_json("a", tmp_path)
    new = trials_json("b", tmp_path)
    seeds = [t for t in new if t["reason"] == "WarmStarted"]
    ran = [t for t in new if t["reason"] != "WarmStarted"]
    # Every result of a, exactly, and the budget of b (2) on top.
    assert [(t["parameters"], t["objective"], t["metrics"]) for t in seeds] == [
        (t["parameters"], t["objective"], t["metrics"]) for t in old
    ]
    assert all(t["labels"] == {"tunery.dev/warm-start": "csv:a.csv"} for t in seeds)
    assert len(ran) == 2 and all(t["startTime"] is not None for t in ran)
    table = tunery("trials", "b", cwd=tmp_path).stdout
    assert table.count("seeded from csv:a.csv (not run)") == 3
    got = tunery("get", "b", cwd=tmp_path).stdout
    assert "succeeded 5," in got and "(3 of the succeeded are warm-start seeds, not run)" in got

    # Running the file again with the same source seeds nothing twice.
    again = tunery("run", str(second), "--warm-start-csv", "a.csv", cwd=tmp_path)
    assert "warm start from csv:a.csv: 0 seeded, 3 seeded before" in again.stderr
    assert len(trials_json("b", tmp_path)) == 5


def test_warm_start_from_an_experiment_across_namespaces(tmp_path: Path) -> None:
    first = write_yaml(tmp_path / "a.yaml", native_doc("a", SCORE_IS_X, max_trials=2))
    tunery("run", str(first), "-q", cwd=tmp_path)
    narrow = native_doc("c", SCORE_IS_X, max_trials=1, parallel=1)
    narrow["spec"]["parameters"][0]["feasibleSpace"] = {"min": "0", "max": "0.5"}
    path = write_yaml(tmp_path / "c.yaml", narrow)

    missing = tunery(
        "run", str(path), "-n", "team", "--warm-start-from", "a", cwd=tmp_path, check=2
    )
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    assert "--warm-start-from: no experiment named 'a' in namespace 'team'" in missing.stderr
    assert "NAMESPACE/NAME" in missing.stderr

    out = tunery("run", str(path), "-n", "team", "--warm-start-from", "default/a", cwd=tmp_path)
    old = trials_json("a", tmp_path)
    inside = [t for t in old if t["parameters"]["x"] <= 0.5]
    line = next(x for x in out.stderr.splitlines() if x.startswith("warm start from"))
    assert line.startswith(f"warm start from experiment:a: {len(inside)} seeded")
    if len(inside) < len(old):
        assert f"{len(old) - len(inside)} skipped (trial a-000" in line
        assert "is outside [0.0, 0.5]" in line
    new = trials_json("c", tmp_path, "-n", "team")
    assert sum(t["reason"] == "WarmStarted" for t in new) == len(inside)
    assert sum(t["reason"] != "WarmStarted" for t in new) == 1


def test_bad_csv_stops_the_run_before_anything_is_stored(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "d.yaml", native_doc("d", SCORE_IS_X, max_trials=1, parallel=1))
    (tmp_path / "bad.csv").write_text("x,score\n0.5,high\n")
    out = tunery("run", str(path), "--warm-start-csv", "bad.csv", cwd=tmp_path, check=2)
    assert out.stderr.count("\n") == 1
    assert "bad.csv line 2, column score: 'high' is not a number" in out.stderr
    assert json.loads(tunery("list", "--json", cwd=tmp_path).stdout) == []
    nothing = tunery("run", str(path), "--warm-start-csv", "nope.csv", cwd=tmp_path, check=2)
    assert "--warm-start-csv: no file 'nope.csv'" in nothing.stderr


def test_dry_run_shows_initial_trials_first_and_reads_seeds_without_storing(
    tmp_path: Path,
) -> None:
    doc = native_doc("e", SCORE_IS_X, max_trials=4, parallel=3)
    doc["spec"]["initialTrials"] = [{"x": 0.25}, {"x": 0.75}]
    path = write_yaml(tmp_path / "e.yaml", doc)
    (tmp_path / "seeds.csv").write_text("x,score\n0.5,0.5\n0.9,0.9\n7,1\n")
    out = tunery("run", str(path), "--dry-run", "--warm-start-csv", "seeds.csv", cwd=tmp_path)
    assert out.stderr.startswith("warm start from csv:seeds.csv: 2 seeded, 1 skipped (line 4: ")
    lines = [line for line in out.stdout.splitlines() if line.startswith("e-")]
    # Two seeds take indexes 1-2; the initial trials come first, then one suggestion.
    assert [line.split(":")[0] for line in lines] == ["e-0003", "e-0004", "e-0005"]
    values = [line.split("--x=")[1] for line in out.stdout.splitlines() if "--x=" in line]
    assert values[:2] == ["0.25", "0.75"] and len(values) == 3
    assert not (tmp_path / "tunery.db").exists()


def test_seeds_do_not_make_a_run_of_failures_a_success(tmp_path: Path) -> None:
    crash = "import sys\nprint('CUDA out of memory', flush=True)\nsys.exit(1)\n"
    path = write_yaml(tmp_path / "f.yaml", native_doc("f", crash, max_trials=2, parallel=1))
    (tmp_path / "seeds.csv").write_text("x,score\n0.5,0.5\n0.9,0.9\n")
    ran = tunery("run", str(path), "-q", "--warm-start-csv", "seeds.csv", cwd=tmp_path, check=1)
    last = ran.stdout.strip().splitlines()[-1]
    assert last.startswith(
        "no trial succeeded: 2 Failed (and 2 warm-start seeds, not run) (last: f-0004: "
    ), ran.stdout
    assert last.endswith("CUDA out of memory)"), last
    # The best is a seed, and says so.
    assert "best trial: f-0002  score=0.9  (seeded from csv:seeds.csv (not run))" in ran.stdout
    got = json.loads(tunery("get", "f", "--json", cwd=tmp_path).stdout)
    assert (got["status"], got["reason"]) == ("Succeeded", "ExperimentMaxTrialsReached")
    assert got["message"].endswith(
        "; no trial that ran succeeded (2 Failed; the 2 warm-start seeds were not run)"
    )
    assert got["seededTrials"] == 2 and got["trials"]["succeeded"] == 2
    listed = tunery("list", cwd=tmp_path).stdout
    assert "0/2 ok, 2 failed, 2 seeded" in listed, listed
    assert json.loads(tunery("list", "--json", cwd=tmp_path).stdout)[0]["seededTrials"] == 2
    # Without seeds, no such key (the shape of an experiment without them is unchanged).
    plain = write_yaml(tmp_path / "g.yaml", native_doc("g", SCORE_IS_X, max_trials=1, parallel=1))
    tunery("run", str(plain), "-q", cwd=tmp_path)
    assert "seededTrials" not in json.loads(tunery("get", "g", "--json", cwd=tmp_path).stdout)
