"""Controller scale: does the reconcile loop slow down per trial as an experiment grows?

Simulates an experiment of N trials (default 10,000) with a fake clock and the fake executor
(no processes, so only the controller, the suggester and SQLite are measured), and prints the
real time spent per trial for each tenth of the run, and the ratio of the last tenth to the
first.  A flat profile (ratio near 1) means a tick costs the same with 10 or 10,000 finished
trials.  Usage::

    python benchmarks/controller_scale.py [--trials 10000] [--parallel 20] [--algorithm random]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from tunery.clock import FakeClock
    from tunery.controller import Controller, TrialEvent
    from tunery.model import Experiment
    from tunery.spec import parse_document, to_document
    from tunery.storage import Store
    from tunery.testing.executor import FakeExecutor, TrialScript

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--algorithm", default="random")
    args = parser.parse_args()

    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "scale"},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": args.algorithm},
            "parallelTrialCount": args.parallel,
            "maxTrialCount": args.trials,
            "parameters": [
                {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
                {"name": "n", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "64"}},
            ],
            "trialTemplate": {
                "command": ["train", "--x=${trialParameters.x}", "--n=${trialParameters.n}"]
            },
        },
    }
    script = TrialScript(
        duration=60.0,
        lines=[(t, f"epoch={i} loss={1.0 / (i + 1)}") for i, t in enumerate((10, 30, 50))],
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'scale.db'}")
        spec = parse_document(doc)
        store.create_experiment(
            Experiment(
                name="scale",
                spec=spec,
                document=to_document(spec),
                created_time=0.0,
                base_dir=tmp,
                runs_dir=str(Path(tmp) / "runs"),
            )
        )
        clock = FakeClock()
        finished: list[float] = []

        def on_event(event: TrialEvent) -> None:
            if event.kind == "finished":
                finished.append(time.perf_counter())

        controller = Controller(
            store,
            "scale",
            FakeExecutor(clock, script),
            clock=clock,
            poll_interval=10.0,
            on_event=on_event,
        )
        start = time.perf_counter()
        controller.run()
        total = time.perf_counter() - start
        n = len(store.list_trials("scale"))
        store.close()

    tenth = max(1, len(finished) // 10)
    print(
        f"controller scale: {n} simulated trials, parallel {args.parallel}, {args.algorithm}, "
        f"3 observations each, SQLite; total {total:.1f} s real, {1000 * total / n:.2f} ms/trial"
    )
    print(f"{'trials':>13} {'ms/trial':>9}")
    edges = [start] + [finished[min(len(finished) - 1, (i + 1) * tenth - 1)] for i in range(10)]
    per_bucket = []
    for i in range(10):
        ms = 1000 * (edges[i + 1] - edges[i]) / tenth
        per_bucket.append(ms)
        print(f"{i * tenth + 1:>6}-{(i + 1) * tenth:<6} {ms:9.2f}")
    print(f"last tenth / first tenth = {per_bucket[-1] / per_bucket[0]:.2f}")


if __name__ == "__main__":
    main()
