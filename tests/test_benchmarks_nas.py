"""benchmarks/nas.py: its random architectures are Katib's format over the whole space, its
summary's arithmetic, and the smoke run's output shape (no quality claim: 3 trials)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import nas  # noqa: E402

from tunery.spec import parse_document  # noqa: E402
from tunery.suggest.enas import operations, parse_architecture  # noqa: E402


def test_random_architectures_are_katibs_format_and_cover_the_space() -> None:
    args = nas.parse_args(["--layers", "3", "--image-size", "8"])
    spec = parse_document(nas.enas_document(args, {}))
    assert spec.nas_config is not None
    space = operations(spec.nas_config.operations)
    rng = random.Random(0)
    ops: Counter[int] = Counter()
    skips = []
    for _ in range(2000):
        params = nas.random_assignment(spec, rng)
        flat = parse_architecture(params["architecture"], 3, len(space))
        assert flat is not None, params["architecture"]
        config = json.loads(params["nn_config"].replace("'", '"'))
        assert config["num_layers"] == 3 and config["input_sizes"] == [8, 8, 1]
        ops.update(flat[i] for i in (0, 1, 3))
        skips += [flat[2], flat[4], flat[5]]
    assert len(ops) == len(space) == 106  # every operation is drawn
    assert 0.45 < sum(skips) / len(skips) < 0.55  # fair coins


def test_summary_means_bests_halves_and_ratios() -> None:
    def run(accs: list[float]) -> dict[str, Any]:
        return {"accuracies": accs, "architectures": ["a", "b", "a", "c"], "cpu_s": 1.0}

    runs = {
        "random": [run([0.2, 0.4, 0.4, 0.2]), run([0.4, 0.2, 0.2, 0.4])],
        "enas-katib": [run([0.2, 0.2, 0.6, 0.6]), run([0.2, 0.2, 0.6, 0.6])],
        "enas-tuned": [run([0.1, 0.1, 0.1, 0.9]), run([0.3, 0.3, 0.3, 0.3])],
    }
    s = nas.summarise_enas(runs)
    assert s["random"]["mean"] == {"mean": pytest.approx(0.3), "se": pytest.approx(0.0)}
    assert s["random"]["last_half_mean"]["mean"] == pytest.approx(0.3)
    assert s["enas-katib"]["last_half_mean"]["mean"] == pytest.approx(0.6)
    assert s["enas-katib"]["ratio_to_random"]["last_half_mean"] == pytest.approx(2.0)
    assert s["enas-tuned"]["best"]["mean"] == pytest.approx(0.6)
    assert s["enas-tuned"]["best"]["se"] == pytest.approx(0.3)  # stdev 0.424 / sqrt(2)
    assert s["enas-tuned"]["ratio_to_random"]["best"] == pytest.approx(1.5)
    assert s["random"]["distinct_architectures"] == 3
    assert s["random"]["cpu_s"] == 2.0


@pytest.mark.slow
def test_smoke_run_prints_and_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "nas.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "nas.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for method in nas.METHODS:
        assert f"seed 0 {method}" in done.stdout
    assert "DARTS: searched genotype" in done.stdout
    result = json.loads(out.read_text())
    summary = result["enas"]["summary"]
    assert set(summary) == set(nas.METHODS)
    for method, figures in summary.items():
        runs = result["enas"]["runs"][method]
        assert len(runs) == 1 and len(runs[0]["accuracies"]) == 3
        assert all(0.0 <= a <= 1.0 for a in runs[0]["accuracies"])
        for key in ("mean", "best", "last_half_mean"):
            assert 0.0 <= figures[key]["mean"] <= 1.0
            assert figures["ratio_to_random"][key] > 0.0
    assert summary["random"]["ratio_to_random"]["mean"] == 1.0
    darts = result["darts"]
    assert darts["runs"][0]["genotype"].startswith("Genotype(normal=")
    assert len(darts["runs"][0]["searched"]) == len(darts["runs"][0]["random"]) == 1
    assert darts["summary"]["search_wall_s"] > 0
    assert result["cpu_s"] > 0


def test_bad_flags_are_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "nas.py"), "--trials", "0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--trials: must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr
