"""Scale-out: N trials of 1 s on 2 Dask workers, against the local executor with parallel 2.

Both runs drive the same experiment (random search, ``parallelTrialCount: 2``) through
tunery's controller and a SQLite store; each trial is a real process (``/bin/sh``: sleep, then
print one Katib metric line).  The Dask run starts a scheduler and two single-thread workers
(``dask worker --nthreads 1``) on 127.0.0.1 first (not timed).  For each run it prints the
wall time of the experiment, the ideal (total trial time / 2) and their ratio: the acceptance
bar is a ratio within 1.15 for Dask.  Usage::

    python benchmarks/scale_out.py [--trials 200] [--duration 1.0] [--only dask|local]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tunery.controller import Controller
from tunery.model import Experiment
from tunery.spec import parse_document, to_document
from tunery.storage import Store

PARALLEL = 2


def experiment_doc(name: str, trials: int, duration: float) -> dict[str, Any]:
    return {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": PARALLEL,
            "maxTrialCount": trials,
            "parameters": [
                {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
            ],
            "trialTemplate": {
                "command": [
                    "/bin/sh",
                    "-c",
                    f'sleep {duration:g}; echo "loss=$1"',
                    "trial",
                    "${trialParameters.x}",
                ]
            },
        },
    }


def run(executor: Any, workdir: Path, name: str, trials: int, duration: float) -> float:
    """Wall seconds of one whole experiment; checks that every trial succeeded."""
    store = Store(str(workdir / f"{name}.db"))
    spec = parse_document(experiment_doc(name, trials, duration))
    store.create_experiment(
        Experiment(
            name=name,
            spec=spec,
            document=to_document(spec),
            created_time=time.time(),
            base_dir=str(workdir),
            runs_dir=str(workdir / "runs"),
        )
    )
    controller = Controller(store, name, executor, poll_interval=0.5)
    start = time.perf_counter()
    controller.run()
    wall = time.perf_counter() - start
    done = store.list_trials(name)
    ok = sum(1 for t in done if t.status.value == "Succeeded")
    store.close()
    if ok != trials:
        raise SystemExit(f"{name}: only {ok} of {trials} trials succeeded")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per trial")
    parser.add_argument("--only", choices=["dask", "local"], default=None)
    args = parser.parse_args()
    ideal = args.trials * args.duration / PARALLEL
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tunery-scale-out-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "local"):
            from tunery.execute.local import LocalExecutor

            results["local (parallel 2)"] = run(
                LocalExecutor(gpus=[]), workdir, "local", args.trials, args.duration
            )
        if args.only in (None, "dask"):
            from tunery.execute.dask import DaskExecutor
            from tunery.testing.dask import LocalDaskCluster, WorkerSpec

            workers = [WorkerSpec("w1", nthreads=1), WorkerSpec("w2", nthreads=1)]
            with LocalDaskCluster(str(workdir / "cluster"), workers) as cluster:
                executor = DaskExecutor(cluster.address)
                try:
                    results["dask (2 workers x 1 thread)"] = run(
                        executor, workdir, "dask", args.trials, args.duration
                    )
                finally:
                    executor.close()
    print(
        f"{args.trials} trials of {args.duration:g} s, {PARALLEL} at a time; "
        f"ideal wall time {ideal:.1f} s (total trial time / {PARALLEL}); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'executor':<30} {'wall s':>8} {'ideal s':>8} {'ratio':>6} {'per trial':>10}")
    for label, wall in results.items():
        overhead_ms = (wall - ideal) / args.trials * PARALLEL * 1000
        print(f"{label:<30} {wall:8.1f} {ideal:8.1f} {wall / ideal:6.3f} {overhead_ms:+8.0f}ms")


if __name__ == "__main__":
    main()
