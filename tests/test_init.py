"""The public package surface."""

from __future__ import annotations

import subprocess
import sys

import tunery


def test_all_is_the_public_api() -> None:
    assert sorted(tunery.__all__) == [
        "Client",
        "ExperimentHandle",
        "Optimizer",
        "SpecError",
        "TrialsFailedWarning",
        "TuneryError",
        "UserInputError",
        "__version__",
        "report",
        "search",
        "tune",
    ]
    for name in tunery.__all__:
        assert hasattr(tunery, name)


def test_import_tunery_imports_no_extra() -> None:
    extras = [
        "fastapi",
        "uvicorn",
        "plotly",
        "dask",
        "distributed",
        "psycopg",
        "tensorboard",
        "torch",
        "sklearn",
        "optuna",
        "pandas",
    ]
    code = (
        "import sys, tunery, tunery.cli, tunery.controller\n"
        f"bad = [m for m in {extras!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
