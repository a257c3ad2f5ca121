"""String objectives and NAS architectures on the command line (tunery/cli/_nas.py):
``tunery run``, ``trials``, ``best``, ``get``, ``list`` and ``export``.

The integration test runs Katib's darts-cpu.yaml way of collecting a genotype (objective
``Best-Genotype``, metricsFormat ``([\\w-]+)=(Genotype.*)``) with real trial subprocesses: a
native experiment over a plain parameter whose trial prints what Katib's DARTS trial prints.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.helpers import create, native_doc
from tests.test_nas_render import KATIB_ARCHITECTURE, KATIB_EMBEDDING, katib_nn_config
from tunery.model import MetricSummary, Trial, TrialCondition
from tunery.nas.render import elide, parse_enas
from tunery.storage import Store

#: The trial: Katib's run_trial.py lines (its per-epoch genotype, then the best one with the
#: blanks removed); trial x uses operation x of three, so each trial's genotype differs.
TRIAL = """
import sys
x = int(sys.argv[1].split("=", 1)[1])
op = ["max_pooling_3x3", "separable_convolution_3x3", "dilated_convolution_5x5"][x]
g = (f"Genotype(normal=[[('{op}', 0), ('{op}', 1)], [('skip_connect', 0), ('{op}', 2)]], "
     f"normal_concat=range(2, 4), reduce=[[('{op}', 1), ('max_pooling_3x3', 0)], "
     f"[('{op}', 2), ('{op}', 1)]], reduce_concat=range(2, 4))")
print(">>> All Primitives", flush=True)
print(f"Epoch 0: accuracy=0.{x + 3}", flush=True)
print(f"Model genotype = {g}", flush=True)
print("Best-Genotype=" + g.replace(" ", ""), flush=True)
"""


def genotype_of(x: int) -> str:
    op = ["max_pooling_3x3", "separable_convolution_3x3", "dilated_convolution_5x5"][x]
    return (
        f"Genotype(normal=[[('{op}',0),('{op}',1)],[('skip_connect',0),('{op}',2)]],"
        f"normal_concat=range(2,4),reduce=[[('{op}',1),('max_pooling_3x3',0)],"
        f"[('{op}',2),('{op}',1)]],reduce_concat=range(2,4))"
    )


def tunery(*args: str, cwd: Path, check: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"},
    )
    assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.mark.integration
def test_a_genotype_objective_is_collected_stored_and_its_latest_trial_shown_best(
    tmp_path: Path,
) -> None:
    (tmp_path / "trial.py").write_text(textwrap.dedent(TRIAL))
    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "genotypes"},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "Best-Genotype"},
            "metricsCollectorSpec": {
                "collector": {"kind": "StdOut"},
                "source": {"filter": {"metricsFormat": [r"([\w-]+)=(Genotype.*)"]}},
            },
            "algorithm": {"algorithmName": "grid"},
            "parallelTrialCount": 1,
            "maxTrialCount": 3,
            "parameters": [
                {"name": "x", "parameterType": "int", "feasibleSpace": {"min": "0", "max": "2"}}
            ],
            "trialTemplate": {
                "command": [sys.executable, "trial.py", "--x=${trialParameters.x}"],
            },
        },
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(doc))
    run = tunery("run", "exp.yaml", "-q", cwd=tmp_path)
    # Every trial Succeeded (a string objective is a result, not MetricsUnavailable).
    assert "Succeeded (ExperimentMaxTrialsReached" in run.stdout
    latest = genotype_of(2)
    assert f"best trial: genotypes-0003  Best-Genotype={latest}" in run.stdout
    assert (
        "    node 2 ← dilated_convolution_5x5 from c[k-2], dilated_convolution_5x5 from c[k-1]"
        in (run.stdout)
    )  # no markup eaten: c[k-2] stays
    listed = json.loads(tunery("trials", "genotypes", "--json", cwd=tmp_path).stdout)
    assert [t["status"] for t in listed] == ["Succeeded"] * 3
    for t in listed:
        x = int(t["parameters"]["x"])
        assert t["objective"] is None and t["objectiveText"] == genotype_of(x)
        assert t["metrics"]["Best-Genotype"] == {
            "min": None, "max": None, "latest": None, "text": genotype_of(x),
        }  # fmt: skip
    best = json.loads(tunery("best", "genotypes", "--json", cwd=tmp_path).stdout)
    assert (best["name"], best["objectiveText"]) == ("genotypes-0003", latest)
    shown = tunery("best", "genotypes", cwd=tmp_path).stdout.splitlines()
    assert shown[0] == f"best trial: genotypes-0003  Best-Genotype={latest}"
    assert shown[shown.index("cells:") + 1 :] == [
        "  normal cell (output: concat of nodes 2, 3)",
        "    node 2 ← dilated_convolution_5x5 from c[k-2], dilated_convolution_5x5 from c[k-1]",
        "    node 3 ← skip_connect from c[k-2], dilated_convolution_5x5 from node 2",
        "  reduce cell (output: concat of nodes 2, 3)",
        "    node 2 ← dilated_convolution_5x5 from c[k-1], max_pooling_3x3 from c[k-2]",
        "    node 3 ← dilated_convolution_5x5 from node 2, dilated_convolution_5x5 from c[k-1]",
    ]
    table = tunery("trials", "genotypes", cwd=tmp_path).stdout
    row = next(line for line in table.splitlines() if line.startswith("genotypes-0002"))
    assert row.endswith("normal: 2←separable_convolution_3x3(0),…")  # elided: 40 characters
    assert latest not in table
    assert "genotypes-0003" in tunery("get", "genotypes", cwd=tmp_path).stdout
    status = yaml.safe_load(tunery("get", "genotypes", "-o", "yaml", cwd=tmp_path).stdout)
    optimal = status["status"]["currentOptimalTrial"]
    assert optimal["bestTrialName"] == "genotypes-0003"
    assert optimal["observation"]["metrics"] == [
        {"name": "Best-Genotype", "min": "unavailable", "max": "unavailable", "latest": latest}
    ]
    assert "normal: 2←dilated_convolution_5x5(0)" in tunery("list", cwd=tmp_path).stdout
    rows = list(
        csv.DictReader(io.StringIO(tunery("export", "genotypes", "-o", "csv", cwd=tmp_path).stdout))
    )
    assert [r["objective"] for r in rows] == [genotype_of(x) for x in range(3)]
    assert rows[2]["metric:Best-Genotype:latest"] == latest
    assert rows[2]["metric:Best-Genotype:max"] == ""


def test_enas_architectures_are_a_column_and_best_prints_the_layers(tmp_path: Path) -> None:
    """Trials whose parameters are Katib's ENAS assignments (architecture, nn_config)."""
    store = Store(str(tmp_path / "tunery.db"))
    config = katib_nn_config(KATIB_EMBEDDING)
    small = katib_nn_config({27: KATIB_EMBEDDING[27], 29: KATIB_EMBEDDING[29]}, num_layers=2)
    doc = native_doc(
        "enas",
        "print('accuracy=0.5')",
        parameters=[
            {
                "name": "architecture",
                "parameterType": "categorical",
                "feasibleSpace": {"list": [KATIB_ARCHITECTURE, "[[27], [29, 1]]"]},
            },
            {
                "name": "nn_config",
                "parameterType": "categorical",
                "feasibleSpace": {"list": [config]},
            },
        ],
        objective={"type": "maximize", "objectiveMetricName": "accuracy"},
    )
    create(store, doc, tmp_path)
    plan = [(KATIB_ARCHITECTURE, config, 0.8), ("[[27], [29, 1]]", small, 0.6)]
    for index, (arc, nn_config, accuracy) in enumerate(plan):
        store.create_trial(
            Trial(
                name=f"enas-{index:04d}",
                experiment="enas",
                index=index,
                parameters={"architecture": arc, "nn_config": nn_config},
                status=TrialCondition.SUCCEEDED,
                metrics={"accuracy": MetricSummary(accuracy, accuracy, accuracy)},
                objective=accuracy,
            )
        )
    store.close()
    table = tunery("trials", "enas", cwd=tmp_path).stdout
    header = next(line for line in table.splitlines() if line.startswith("trial "))
    assert header.rstrip().endswith("layers")
    rows = [line.rstrip() for line in table.splitlines() if line.startswith("enas-")]
    assert rows[0].endswith("1: convolution 7x7, 96 filters, stride 2; 2: convolution 7x…")
    whole = parse_enas("[[27], [29, 1]]", small).summary()
    assert whole.endswith("2: convolution 7x7, 128 filters, stride 2 ← skip from input")
    assert rows[1].endswith(elide(whole, 60)) and "  [[27], [29, 1]]  " in rows[1]
    assert "  {'num_layers': 8, 'input_sizes': [32, 3…  " in rows[0]  # elided to 40
    assert KATIB_ARCHITECTURE not in table
    best = tunery("best", "enas", cwd=tmp_path).stdout.splitlines()
    assert best[0] == "best trial: enas-0000  accuracy=0.8"
    layers = best[best.index("layers:") + 1 :]
    assert layers[0] == "  input 32x32x3"
    assert layers[7] == "  7: convolution 5x5, 32 filters, stride 2 ← skip from 1, 2, 4, 5"
    assert layers[-1] == "  output 10"
    # --json keeps the strings whole.
    whole = json.loads(tunery("best", "enas", "--json", cwd=tmp_path).stdout)
    assert whole["parameters"]["architecture"] == KATIB_ARCHITECTURE
