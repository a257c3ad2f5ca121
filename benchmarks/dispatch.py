"""Dispatch overhead: what the controller costs per trial beyond the trial's own run time.

Runs the same N trivial trials (a Python process that prints one Katib metric line) three
ways, in one run, on this machine, timing the loop only (creating the database and the
study/experiment happens once per experiment and is left out for every loop alike):

* ``floor``  - a plain subprocess loop: start the trial, wait, read its output (no tuning);
* ``optuna`` - Optuna's ask/tell with its SQLite (RDB) storage around the same subprocess;
* ``tunery`` - tunery's controller with the local executor and SQLite storage.

and prints the wall time, the time per trial, the overhead per trial over the floor and the
ratios.  Usage::

    python benchmarks/dispatch.py [--trials 200] [--parallel 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRIAL = [sys.executable, "-S", "-c", "import sys; print('loss=' + sys.argv[1])"]
METRIC = re.compile(r"loss=([0-9.eE+-]+)")


Loop = Callable[[], None]


def floor_loop(n: int, parallel: int, workdir: Path) -> Loop:
    """Keep ``parallel`` trials running; each writes its output to a file we then parse."""
    return lambda: _floor(n, parallel, workdir)


def _floor(n: int, parallel: int, workdir: Path) -> None:
    running: list[tuple[subprocess.Popen[bytes], Path]] = []
    started = 0
    values = []
    while started < n or running:
        while started < n and len(running) < parallel:
            out = workdir / f"floor-{started}.log"
            with open(out, "wb") as fh:
                proc = subprocess.Popen(
                    [*TRIAL, str(0.5 + started / n)],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            running.append((proc, out))
            started += 1
        proc, out = running.pop(0)
        proc.wait()
        match = METRIC.search(out.read_text())
        values.append(float(match.group(1)) if match else None)
    assert len(values) == n


def optuna_loop(n: int, parallel: int, workdir: Path) -> Loop:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    study = optuna.create_study(storage=storage, study_name="dispatch", direction="minimize")
    return lambda: _optuna(n, parallel, workdir, study)


def _optuna(n: int, parallel: int, workdir: Path, study: Any) -> None:
    import optuna

    running: list[tuple[subprocess.Popen[bytes], Path, optuna.trial.Trial]] = []
    started = 0
    while started < n or running:
        while started < n and len(running) < parallel:
            trial = study.ask()
            x = trial.suggest_float("x", 0.0, 1.0)
            out = workdir / f"optuna-{started}.log"
            with open(out, "wb") as fh:
                proc = subprocess.Popen(
                    [*TRIAL, repr(x)], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
                )
            running.append((proc, out, trial))
            started += 1
        proc, out, trial = running.pop(0)
        proc.wait()
        match = METRIC.search(out.read_text())
        study.tell(trial, float(match.group(1)) if match else None)
    assert len(study.trials) == n


def tunery_loop(n: int, parallel: int, workdir: Path) -> Loop:
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor
    from tunery.model import Experiment
    from tunery.spec import parse_document, to_document
    from tunery.storage import Store

    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "dispatch"},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": parallel,
            "maxTrialCount": n,
            "parameters": [
                {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
            ],
            "trialTemplate": {"command": [*TRIAL, "${trialParameters.x}"]},
        },
    }
    store = Store(f"sqlite:///{workdir / 'tunery.db'}")
    spec = parse_document(doc)
    store.create_experiment(
        Experiment(
            name=spec.name,
            spec=spec,
            document=to_document(spec),
            created_time=time.time(),
            base_dir=str(workdir),
            runs_dir=str(workdir / "runs"),
        )
    )
    controller = Controller(store, "dispatch", LocalExecutor(), poll_interval=0.5)

    def run() -> None:
        controller.run()
        trials = store.list_trials("dispatch")
        assert len(trials) == n and all(t.objective is not None for t in trials), trials[:3]
        store.close()

    return run


LOOPS: dict[str, Callable[[int, int, Path], Loop]] = {
    "floor": floor_loop,
    "optuna": optuna_loop,
    "tunery": tunery_loop,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="take the median of this many runs")
    args = parser.parse_args()

    timings: dict[str, list[float]] = {name: [] for name in LOOPS}
    for _ in range(args.repeat):
        for name, loop in LOOPS.items():  # interleaved, so drifts hit every loop alike
            with tempfile.TemporaryDirectory() as tmp:
                run = loop(args.trials, args.parallel, Path(tmp))
                start = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - start)

    n = args.trials
    floor = statistics.median(timings["floor"])
    print(
        f"dispatch benchmark: {n} trivial trials, parallel {args.parallel}, "
        f"median of {args.repeat} runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print(f"{'loop':<8} {'wall s':>8} {'ms/trial':>9} {'overhead ms/trial':>18} {'x floor':>8}")
    for name in LOOPS:
        wall = statistics.median(timings[name])
        print(
            f"{name:<8} {wall:8.2f} {1000 * wall / n:9.2f} "
            f"{1000 * (wall - floor) / n:18.2f} {wall / floor:8.2f}"
        )
    ours = statistics.median(timings["tunery"])
    optuna = statistics.median(timings["optuna"])
    print(f"tunery / floor = {ours / floor:.2f}   tunery / optuna = {ours / optuna:.2f}")


if __name__ == "__main__":
    main()
