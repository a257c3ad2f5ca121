"""The public package surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tunery


def test_all_is_the_public_api() -> None:
    assert sorted(tunery.__all__) == [
        "Client",
        "ExperimentHandle",
        "ExtensionRefusedWarning",
        "Optimizer",
        "SpecError",
        "TrialsFailedWarning",
        "TuneryError",
        "UserInputError",
        "WarmStartWarning",
        "__version__",
        "report",
        "search",
        "should_stop",
        "tune",
    ]
    for name in tunery.__all__:
        assert hasattr(tunery, name)


def test_import_tunery_imports_no_extra() -> None:
    extras = [
        "fastapi",
        "pydantic",
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
        "xgboost",
        "lightgbm",
        "pytorch_lightning",
        "keras",
        "transformers",
        "mlflow",
    ]
    code = (
        "import sys, tunery, tunery.cli, tunery.controller, tunery.integration\n"
        f"bad = [m for m in {extras!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_command_line_starts_without_the_sdk() -> None:
    """`tunery --help` (and every command's start) imports neither numpy nor the database
    layer nor the client: they load when a command needs them (start-up is part of what
    every `tunery run` costs, benchmarks/dispatch.py --end-to-end)."""
    code = (
        "import sys, tunery, tunery.cli\n"
        "heavy = ['numpy', 'sqlalchemy', 'alembic', 'tunery.client', 'importlib.metadata']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
        "print(tunery.__version__, tunery.Client.__name__, tunery.search.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, names = out.stdout.splitlines()
    assert loaded == ""
    assert names.split()[1:] == ["Client", "tunery.search"]
    assert "__version__" in dir(tunery) and "Client" in dir(tunery)


#: Run in a fresh interpreter: pydantic (the ``ui`` extra) cannot be imported there.
_WITHOUT_PYDANTIC = """
import sys
sys.modules["pydantic"] = None  # import pydantic raises ImportError
import tunery
from tunery import search
from tunery.cli import main

opt = tunery.Optimizer({"x": search.double(0.0, 1.0)}, algorithm="random")
s = opt.ask()
opt.tell(s, (s.params["x"] - 0.5) ** 2)
for args in (sys.argv[1:], ["list", "--json", "--db", sys.argv[-1]], ["ui", "--db", sys.argv[-1]]):
    try:
        main(args)
    except SystemExit as exc:
        print("exit", exc.code, flush=True)
"""


def test_sdk_and_cli_work_without_pydantic(tmp_path: Path) -> None:
    from tests.helpers import SCORE_IS_X, native_doc, write_yaml

    path = write_yaml(tmp_path / "e.yaml", native_doc("np", SCORE_IS_X, parallel=1, max_trials=1))
    db = f"sqlite:///{tmp_path / 't.db'}"
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYDANTIC, "run", str(path), "-q", "--db", db],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    exits = [line for line in out.stdout.splitlines() if line.startswith("exit ")]
    assert exits == ["exit 0", "exit 0", "exit 2"], out.stdout + out.stderr
    assert '"name": "np"' in out.stdout
    # `tunery ui`: one line naming the fix.
    assert out.stderr.strip().splitlines() == [
        "error: this feature needs the Python package 'pydantic', which is not installed; "
        "install it with: pip install 'tunery[ui]'"
    ], out.stderr
