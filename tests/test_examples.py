"""The shipped examples run and speak Katib's metric format."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tunery.spec import load_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_example_experiments_are_valid(path: Path) -> None:
    for parsed in load_file(path, check_algorithm=False):
        assert parsed.spec.max_trial_count is not None


@pytest.mark.slow
def test_quickstart_trial_prints_katib_metrics() -> None:
    out = subprocess.run(
        [sys.executable, "train.py", "--epochs", "2"],
        cwd=EXAMPLES / "quickstart",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert re.search(r"^epoch=2 loss=[\d.]+ accuracy=0\.\d+$", out.stdout, re.M), out.stdout


@pytest.mark.slow
def test_espcn_trial_trains_reports_and_renders(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the examples extra (torch) is not installed")
    model = tmp_path / "m.pt"
    out = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--epochs",
            "2",
            "--patches",
            "512",
            "--val-size",
            "96",
            "--out",
            str(model),
        ],
        cwd=EXAMPLES / "espcn",
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert re.search(r"^PSNR-bicubic=\d+\.\d+$", out.stdout, re.M), out.stdout
    assert re.search(r"^epoch=2 loss=[\d.]+ PSNR-validation=\d+\.\d+$", out.stdout, re.M)
    assert model.exists()
    png = tmp_path / "x.png"
    render = subprocess.run(
        [sys.executable, "render.py", str(model), "--out", str(png)],
        cwd=EXAMPLES / "espcn",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "ESPCN" in render.stdout and png.stat().st_size > 1000
    bad = subprocess.run(
        [sys.executable, "train.py", "--learning_rate", "-1"],
        cwd=EXAMPLES / "espcn",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "must be positive" in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "flags",
    [
        ["--model=svm", "--C=2.5", "--kernel=poly", "--degree=3"],
        ["--model=forest", "--depth", "4"],
        ["--model=knn", "--neighbors=5", "--weights=distance"],
    ],
    ids=["svm", "forest", "knn"],
)
def test_conditional_trial_runs_each_model_with_only_its_flags(flags: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "train.py", *flags],
        cwd=EXAMPLES / "conditional",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert re.fullmatch(r"accuracy=0\.\d+\n", out.stdout), out.stdout
