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

``--end-to-end`` measures what a user meets instead: ``tunery run`` of a native YAML in a fresh
temporary directory (the interpreter's start, the imports and the database's creation
included) against the same N trial commands run ``--parallel`` at a time by ``xargs -P`` (the
floor), interleaved, median of ``--repeat`` runs, at each ``--trials`` count; wall time and
CPU time (of the process and its children: the CPU ratio moves less with the machine's load)::

    python benchmarks/dispatch.py --end-to-end --trials 100 300 --parallel 2 --repeat 3
    python benchmarks/dispatch.py --end-to-end --source OLD_TREE . # before/after, interleaved
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
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


# End to end: the trial both sides run. Its one argument (the suggested x) is ignored by the
# program, so both sides run exactly the same process; tunery requires the parameter to be used.
# -S: no site-packages, so that a virtual environment's .pth hooks (up to 0.1 s a start on a
# loaded machine) do not hide the cost being measured; --trial changes it.
E2E_TRIAL = ["python3", "-S", "-c", "print('loss=0.5')"]

E2E_YAML = """\
apiVersion: tunery/v1
kind: Experiment
metadata:
  name: dispatch-e2e
spec:
  objective: {{type: minimize, objectiveMetricName: loss}}
  algorithm: {{algorithmName: random}}
  parallelTrialCount: {parallel}
  maxTrialCount: {trials}
  parameters:
    - name: x
      parameterType: double
      feasibleSpace: {{min: "0", max: "1"}}
  trialTemplate:
    command: {command}
"""


Timing = tuple[float, float]  # (wall seconds, CPU seconds of the process and its children)


def _timed(run: Callable[[], subprocess.CompletedProcess[bytes]]) -> tuple[Any, float, float]:
    before = os.times()
    start = time.perf_counter()
    done = run()
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return done, wall, cpu


def e2e_floor(n: int, parallel: int, trial: list[str], workdir: Path) -> Timing:
    """``xargs -P parallel`` runs the n trial commands; their output goes to a file."""
    values = "".join(f"{0.5 + i / n!r}\n" for i in range(n))
    xargs = [shutil.which("xargs") or "xargs", "-P", str(parallel), "-n", "1", *trial]
    # The same PATH a tunery trial gets (its interpreter's directory first), so that both
    # sides run the same `python3` (not a pyenv shim script on one side, the venv's on the other).
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    with open(workdir / "floor.log", "wb") as out:
        _, wall, cpu = _timed(
            lambda: subprocess.run(xargs, input=values.encode(), stdout=out, env=env, check=True)
        )
    assert (workdir / "floor.log").read_text().count("loss=") == n
    return wall, cpu


def e2e_tunery(n: int, parallel: int, trial: list[str], workdir: Path, source: Path) -> Timing:
    """``tunery run`` of the experiment in a fresh directory (new database, new runs dir)."""
    import json

    command = json.dumps([*trial, "${trialParameters.x}"])
    (workdir / "exp.yaml").write_text(E2E_YAML.format(parallel=parallel, trials=n, command=command))
    argv = [sys.executable, "-m", "tunery", "run", "exp.yaml", "-q", "--json"]
    env = {**os.environ, "PYTHONPATH": str(source)}
    env.pop("TUNERY_DB", None)
    # An installed package has its bytecode compiled (pip does it): so must the tree timed here.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done, wall, cpu = _timed(
        lambda: subprocess.run(argv, cwd=workdir, env=env, capture_output=True, check=False)
    )
    if done.returncode != 0:
        raise SystemExit(f"tunery run failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    summary = json.loads(done.stdout)
    assert summary["trials"]["succeeded"] == n, summary["trials"]
    return wall, cpu


def end_to_end(
    counts: list[int], parallel: int, repeat: int, trial: list[str], sources: list[Path]
) -> None:
    print(
        f"dispatch end to end: tunery run vs xargs -P {parallel}, trial {shlex.join(trial)!r}, "
        f"median of {repeat} runs, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"Python {sys.version.split()[0]}"
    )
    names = {
        source: f"tunery{i}" if len(sources) > 1 else "tunery" for i, source in enumerate(sources)
    }
    for source, name in names.items():
        print(f"  {name}: {source}")
    print(
        f"{'trials':>6} {'side':<8} {'wall s':>7} {'CPU s':>6} {'beyond floor ms/trial':>22} "
        f"{'x floor':>8} {'CPU x floor':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:  # warm up: bytecode, file caches
        e2e_floor(parallel, parallel, trial, Path(tmp))
        for source in sources:
            e2e_tunery(parallel, parallel, trial, Path(tmp), source)
    for n in counts:
        timings: dict[str, list[Timing]] = {"floor": [], **{name: [] for name in names.values()}}
        for _ in range(repeat):  # interleaved, so drifts hit every side alike
            with tempfile.TemporaryDirectory() as tmp:
                timings["floor"].append(e2e_floor(n, parallel, trial, Path(tmp)))
            for source, name in names.items():
                with tempfile.TemporaryDirectory() as tmp:
                    timings[name].append(e2e_tunery(n, parallel, trial, Path(tmp), source))
        floor = statistics.median(t[0] for t in timings["floor"])
        floor_cpu = statistics.median(t[1] for t in timings["floor"])
        for name, runs in timings.items():
            wall = statistics.median(t[0] for t in runs)
            cpu = statistics.median(t[1] for t in runs)
            print(
                f"{n:>6} {name:<8} {wall:7.2f} {cpu:6.2f} {1000 * (wall - floor) / n:22.2f} "
                f"{wall / floor:8.2f} {cpu / floor_cpu:12.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=None)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="take the median of this many runs")
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="time `tunery run` (start-up and database creation included) against xargs -P",
    )
    parser.add_argument(
        "--trial",
        default=shlex.join(E2E_TRIAL),
        help="end to end: the trial command both sides run (default: %(default)s)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        nargs="+",
        default=[Path(__file__).resolve().parents[1]],
        help="end to end: the tunery source trees to time, interleaved (default: this one), "
        "e.g. an older commit checked out elsewhere and this one, for before/after figures",
    )
    args = parser.parse_args()
    if args.end_to_end:
        trial = shlex.split(args.trial)
        counts = args.trials or [100, 300]
        end_to_end(counts, args.parallel, args.repeat, trial, [p.resolve() for p in args.source])
        return
    args.trials = (args.trials or [200])[0]

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
