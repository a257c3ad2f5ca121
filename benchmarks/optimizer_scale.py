"""Ask/tell scale: does ``tunery.Optimizer`` slow down per trial as a study grows?

Runs N ask/tell trials (default 10,000; random search over two doubles, a cheap objective)
three ways in the same process: ``tunery.Optimizer`` in memory, ``tunery.Optimizer`` with
``storage=`` (a SQLite file), and Optuna's ask/tell with its RDB storage (a SQLite file,
``RandomSampler``) as the peer.  Prints the seconds each spent per 1,000 trials at each
thousand, and the ratio of the last thousand to the first (near 1: flat).  Usage::

    python benchmarks/optimizer_scale.py [--trials 10000] [--every 1000] [--no-optuna]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def objective(x: float, y: float) -> float:
    return (x - 0.3) ** 2 + (y - 0.7) ** 2


def timed(step: Callable[[], None], trials: int, every: int) -> list[float]:
    """Seconds per ``every`` trials, for each block of ``every`` in turn."""
    out = []
    for _ in range(trials // every):
        start = time.perf_counter()
        for _ in range(every):
            step()
        out.append(time.perf_counter() - start)
    return out


def tunery_run(tmp: Path, trials: int, every: int, storage: bool) -> list[float]:
    import tunery

    space = {"x": tunery.search.double(0, 1), "y": tunery.search.double(0, 1)}
    opt = tunery.Optimizer(
        space,
        algorithm="random",
        seed=0,
        storage=tmp / "tunery.db" if storage else None,
        name="scale" if storage else None,
    )

    def step() -> None:
        s = opt.ask()
        opt.tell(s, objective(s.params["x"], s.params["y"]))  # type: ignore[arg-type]

    try:
        return timed(step, trials, every)
    finally:
        opt.finish()


def optuna_run(tmp: Path, trials: int, every: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=f"sqlite:///{tmp / 'optuna.db'}",
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name="scale",
    )
    x = optuna.distributions.FloatDistribution(0, 1)

    def step() -> None:
        trial = study.ask({"x": x, "y": x})
        study.tell(trial, objective(trial.params["x"], trial.params["y"]))

    return timed(step, trials, every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--no-optuna", action="store_true", help="skip the Optuna peer")
    args = parser.parse_args()
    if args.trials < args.every or args.every < 1:
        parser.error("--trials must be at least --every, and --every at least 1")
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        runs["tunery (memory)"] = tunery_run(tmp, args.trials, args.every, storage=False)
        runs["tunery (SQLite)"] = tunery_run(tmp, args.trials, args.every, storage=True)
        if not args.no_optuna:
            try:
                runs["optuna (RDB SQLite)"] = optuna_run(tmp, args.trials, args.every)
            except ImportError:
                print("optuna is not installed: no peer", file=sys.stderr)
    scale = 1000 / args.every
    print(f"seconds per 1,000 trials, each block of {args.every:,} trials")
    print(f"{'trials':>8}" + "".join(f"{label:>22}" for label in runs))
    blocks = args.trials // args.every
    for i in range(blocks):
        row = f"{(i + 1) * args.every:>8,}"
        row += "".join(f"{times[i] * scale:>22.2f}" for times in runs.values())
        print(row)
    print(f"{'total s':>8}" + "".join(f"{sum(t):>22.1f}" for t in runs.values()))
    print(f"{'last/1st':>8}" + "".join(f"{t[-1] / t[0]:>22.2f}" for t in runs.values()))
    peer = runs.get("optuna (RDB SQLite)")
    if peer is not None:
        for label in ("tunery (memory)", "tunery (SQLite)"):
            print(f"{label}: Optuna took {sum(peer) / sum(runs[label]):.0f}x as long in all")


if __name__ == "__main__":
    main()
