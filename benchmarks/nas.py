"""Neural architecture search: ENAS's architectures against random ones, DARTS's genotype
against random genotypes, each trained by tunery's own trainers on the default data set.

**ENAS.** Per seed, three searches of ``--trials`` trials each over the same space (Katib's
``enas-cpu.yaml`` operations, 106 of them, with ``--layers`` layers on ``--image-size`` x
``--image-size`` grey images of scikit-learn's digits):

* ``random``       - each layer's operation uniform over the space, each skip bit a fair coin;
* ``enas-katib``   - the ``enas`` suggester with Katib's default settings;
* ``enas-tuned``   - the same with ``controller_learning_rate: 0.001`` (docs/nas.md: Katib's
  5e-05 barely moves the controller in a few dozen trials);
* ``enas-untrained`` - the same suggester asked every round with an empty History: never
  trained, it samples from its initial (not uniform) distribution, which tells what the
  controller's prior gives apart from what it learns.

The suggester is the real one (``tunery.suggest.create_suggester``), driven as the controller
drives it with ``parallelTrialCount`` ``--parallel``: each round it gets a ``History`` of the
finished trials (``History.from_spec``) and is asked for ``--parallel`` assignments; no
database or subprocess in between (the loop is the controller's, the controller itself is
tested elsewhere).  Every architecture, whichever method drew it, is trained by the same
trainer, ``tunery.nas.enas.main`` (``python -m tunery.nas.enas``) called in this process with
``--num_epochs --batch-size --limit --seed`` the same for all, and its last
``Validation-Accuracy`` is the trial's objective.  Trial *i* of every method trains with weight
seed *i*, so the methods differ only in the architectures.  Reported per method: the mean and the
best validation accuracy of a search's trials, and the mean of its last half (where a controller
that learns should show it), each as mean +- standard error over the seeds, and the ratio of
each ENAS setting's figures to random's measured in the same run (``--methods`` picks some).

**DARTS.** For each of ``--darts-seeds`` seeds, ``python -m tunery.nas.darts`` (run as a trial
runs it, a subprocess) searches for ``--darts-epochs`` epochs (second order, Katib's default;
timed), on the same data as ENAS (``--image-size``, ``--limit``, ``--batch-size``), over five
operations (``DARTS_SPACE``), ``--darts-layers`` cells of ``--darts-nodes`` nodes; then its
``Best-Genotype`` is trained from scratch for ``--darts-train-epochs`` epochs with weight seeds
``1..--random-genotypes``, and so is ``--train-genotype random --seed k`` (a random genotype of
the same space, weight seed k) for the same k: the searched genotype's mean validation accuracy
against the random genotypes' mean.

Usage::

    nice -n 19 python benchmarks/nas.py                     # 5 seeds, 30 trials, both parts
    python benchmarks/nas.py --only enas --seeds 10 --first-seed 20 --methods random,enas-tuned
    python benchmarks/nas.py --seeds 2 --trials 20 --only enas
    python benchmarks/nas.py --smoke --json out.json        # seconds: shape only, no claim

Needs PyTorch (``pip install 'tunery[nas]'``). One torch thread (``--threads``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCURACY = re.compile(r"^Validation-Accuracy=([0-9.eE+-]+)\s*$", re.M)
GENOTYPE = re.compile(r"^Best-Genotype=(Genotype\(.*\))\s*$", re.M)
METRIC = "Validation-Accuracy"

TUNED = {"controller_learning_rate": "0.001"}
METHODS: dict[str, dict[str, str] | None] = {
    "random": None,
    "enas-katib": {},
    "enas-tuned": TUNED,
    "enas-untrained": {},
}
#: never trained: asked every round with an empty History (the controller's prior sampling)
UNTRAINED = "enas-untrained"
DARTS_SPACE = [
    "separable_convolution_3x3",
    "dilated_convolution_3x3",
    "avg_pooling_3x3",
    "max_pooling_3x3",
    "skip_connection",
]


# --------------------------------------------------------------------------- ENAS


def enas_document(args: argparse.Namespace, settings: dict[str, str]) -> dict[str, Any]:
    """examples/nas/enas.yaml with the benchmark's graph (and the controller's settings)."""
    import yaml

    doc = yaml.safe_load((ROOT / "examples" / "nas" / "enas.yaml").read_text())
    spec = doc["spec"]
    spec["nasConfig"]["graphConfig"].update(
        numLayers=args.layers, inputSizes=[args.image_size, args.image_size, 1]
    )
    spec["algorithm"]["algorithmSettings"] = [{"name": k, "value": v} for k, v in settings.items()]
    spec.update(maxTrialCount=args.trials, parallelTrialCount=args.parallel)
    return doc


def random_assignment(spec: Any, rng: random.Random) -> dict[str, str]:
    """An architecture drawn uniformly from the space, in Katib's format."""
    from tunery.suggest.enas import format_assignment, operations

    nas = spec.nas_config
    space = operations(nas.operations)
    layers = int(nas.graph_config.num_layers)
    rows = [
        [rng.randrange(len(space))] + [rng.randrange(2) for _ in range(i)] for i in range(layers)
    ]
    return format_assignment(rows, nas, space)


def train_child(params: dict[str, Any], args: argparse.Namespace, seed: int) -> float:
    """The ENAS child trainer, in this process; its last validation accuracy."""
    from tunery.nas import enas

    argv = [
        f"--architecture={params['architecture']}",
        f"--nn_config={params['nn_config']}",
        f"--num_epochs={args.epochs}",
        f"--batch-size={args.batch_size}",
        f"--seed={seed}",
        f"--threads={args.threads}",
        "--device=cpu",
    ]
    if args.limit:
        argv.append(f"--limit={args.limit}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = enas.main(argv)
    found = ACCURACY.findall(out.getvalue())
    if code != 0 or not found:
        raise SystemExit(f"the ENAS trainer failed (exit {code}) on {params['architecture']}")
    return float(found[-1])


def enas_search(method: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One search of ``args.trials`` trials; the accuracies in trial order."""
    from tunery.history import History
    from tunery.model import MetricSummary, Trial, TrialCondition
    from tunery.spec import parse_document
    from tunery.suggest import create_suggester

    settings = METHODS[method]
    spec = parse_document(enas_document(args, settings or {}))
    suggester = None if settings is None else create_suggester(spec, seed)
    rng = random.Random(seed)
    trials: list[Trial] = []
    started = time.process_time()
    while len(trials) < args.trials:
        count = min(args.parallel, args.trials - len(trials))
        batch: list[dict[str, Any]]
        if suggester is None:
            batch = [random_assignment(spec, rng) for _ in range(count)]
        else:
            history = History.from_spec(spec, [] if method == UNTRAINED else trials)
            batch = [dict(a.parameters) for a in suggester.suggest(history, count)]
        for params in batch:
            index = len(trials) + 1
            value = train_child(params, args, seed=index)
            trials.append(
                Trial(
                    name=f"{method}-{seed}-{index:03d}",
                    experiment=f"{method}-{seed}",
                    index=index,
                    parameters=params,
                    status=TrialCondition.SUCCEEDED,
                    metrics={METRIC: MetricSummary(value, value, value)},
                    objective=value,
                )
            )
    accuracies = [float(t.objective or 0.0) for t in trials]
    return {
        "accuracies": accuracies,
        "architectures": [str(t.parameters["architecture"]) for t in trials],
        "cpu_s": time.process_time() - started,
    }


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, se


def summarise_enas(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method, per_seed in runs.items():
        half = lambda accs: accs[len(accs) // 2 :]  # noqa: E731
        stats = {
            "mean": [statistics.fmean(r["accuracies"]) for r in per_seed],
            "best": [max(r["accuracies"]) for r in per_seed],
            "last_half_mean": [statistics.fmean(half(r["accuracies"])) for r in per_seed],
        }
        out[method] = {
            key: dict(zip(("mean", "se"), mean_se(values), strict=True))
            for key, values in stats.items()
        }
        out[method]["per_seed"] = stats
        out[method]["distinct_architectures"] = statistics.fmean(
            len(set(r["architectures"])) for r in per_seed
        )
        out[method]["cpu_s"] = sum(r["cpu_s"] for r in per_seed)
    base = out.get("random")
    for method in out:
        if base is None:  # --methods without random: no ratio
            break
        out[method]["ratio_to_random"] = {
            key: out[method][key]["mean"] / base[key]["mean"]
            for key in ("mean", "best", "last_half_mean")
        }
    return out


def run_enas(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in args.methods}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for method in args.methods:  # interleaved: the machine's load falls on every method alike
            run = enas_search(method, seed, args)
            runs[method].append(run)
            print(
                f"  seed {seed} {method:<14} mean {statistics.fmean(run['accuracies']):.4f} "
                f"best {max(run['accuracies']):.4f} ({run['cpu_s']:.0f} s CPU)",
                flush=True,
            )
    summary = summarise_enas(runs)
    print(f"\nENAS: {args.seeds} seeds x {args.trials} trials per method (mean +- se over seeds)")
    print(
        f"{'method':<16}{'mean acc':>18}{'best acc':>18}{'last-half mean':>18}"
        f"{'ratio mean/best/last':>24}{'CPU s':>8}"
    )
    for method, s in summary.items():
        cells = "".join(
            f"{s[k]['mean']:>11.4f} +- {s[k]['se']:.3f}" for k in ("mean", "best", "last_half_mean")
        )
        r = s.get("ratio_to_random")
        ratio = f"{r['mean']:.3f}/{r['best']:.3f}/{r['last_half_mean']:.3f}" if r else "-"
        print(f"{method:<16}{cells}{ratio:>24}{s['cpu_s']:>8.0f}")
    return {"runs": runs, "summary": summary}


# --------------------------------------------------------------------------- DARTS


def darts(args: argparse.Namespace, extra: Sequence[str]) -> tuple[str, float]:
    """Run the DARTS trainer as a trial runs it; its output and the children's CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [
        sys.executable,
        "-m",
        "tunery.nas.darts",
        f"--search-space={DARTS_SPACE!r}",
        f"--num-layers={args.darts_layers}",
        f"--image-size={args.image_size}",
        f"--threads={args.threads}",
        "--device=cpu",
        *extra,
    ]
    if args.limit:
        command.append(f"--limit={args.limit}")
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"the DARTS trainer failed: {done.stderr.strip()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def darts_settings(args: argparse.Namespace, epochs: int) -> str:
    settings = {
        "num_epochs": str(epochs),
        "num_nodes": str(args.darts_nodes),
        "init_channels": str(args.darts_channels),
        "stem_multiplier": "1",
        "batch_size": str(args.batch_size),
    }
    return "--algorithm-settings=" + json.dumps(settings).replace('"', "'")


def last_accuracy(output: str) -> float:
    found = ACCURACY.findall(output)
    if not found:
        raise SystemExit("the DARTS trainer printed no Validation-Accuracy")
    return float(found[-1])


def run_darts(args: argparse.Namespace) -> dict[str, Any]:
    train = darts_settings(args, args.darts_train_epochs)
    per_seed = []
    for seed in range(args.darts_seeds):
        wall = time.monotonic()
        output, cpu = darts(args, [darts_settings(args, args.darts_epochs), f"--seed={seed}"])
        search_wall = time.monotonic() - wall
        match = GENOTYPE.search(output)
        if match is None:
            raise SystemExit("the DARTS search printed no Best-Genotype")
        genotype = match.group(1)
        searched, drawn = [], []
        train_cpu = 0.0
        for k in range(1, args.random_genotypes + 1):
            out, c1 = darts(args, [train, f"--train-genotype={genotype}", f"--seed={k}"])
            searched.append(last_accuracy(out))
            out, c2 = darts(args, [train, "--train-genotype=random", f"--seed={k}"])
            drawn.append(last_accuracy(out))
            train_cpu += c1 + c2
        row: dict[str, Any] = {
            "seed": seed,
            "genotype": genotype,
            "search_wall_s": search_wall,
            "search_cpu_s": cpu,
            "train_cpu_s": train_cpu,
            "searched": searched,
            "random": drawn,
            "searched_mean": statistics.fmean(searched),
            "random_mean": statistics.fmean(drawn),
        }
        per_seed.append(row)
        print(
            f"  DARTS seed {seed}: search {search_wall:.0f} s wall, {cpu:.0f} s CPU; searched "
            f"genotype {row['searched_mean']:.4f} (weight seeds 1..{args.random_genotypes}) vs "
            f"random genotypes {row['random_mean']:.4f}; {genotype}",
            flush=True,
        )
    searched_all = [float(r["searched_mean"]) for r in per_seed]
    random_all = [float(r["random_mean"]) for r in per_seed]
    summary = {
        "searched_mean": statistics.fmean(searched_all),
        "random_mean": statistics.fmean(random_all),
        "ratio": statistics.fmean(searched_all) / statistics.fmean(random_all),
        "search_wall_s": max(float(r["search_wall_s"]) for r in per_seed),
    }
    print(
        f"\nDARTS: searched genotype {summary['searched_mean']:.4f} vs random genotypes "
        f"{summary['random_mean']:.4f} (ratio {summary['ratio']:.3f}); longest search "
        f"{summary['search_wall_s']:.0f} s wall"
    )
    return {"runs": per_seed, "summary": summary}


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", choices=("enas", "darts"), help="run one part (default both)")
    p.add_argument(
        "--methods",
        type=lambda text: text.split(","),
        default=list(METHODS),
        help=f"ENAS methods, comma-separated (default {','.join(METHODS)})",
    )
    p.add_argument("--seeds", type=int, default=5, help="ENAS seeds (default 5)")
    p.add_argument(
        "--first-seed", type=int, default=0, help="ENAS seeds from this one on (default 0)"
    )
    p.add_argument("--trials", type=int, default=30, help="ENAS trials per search (default 30)")
    p.add_argument("--parallel", type=int, default=1, help="ENAS parallelTrialCount (default 1)")
    p.add_argument("--layers", type=int, default=2, help="ENAS numLayers (default 2)")
    p.add_argument("--image-size", type=int, default=8, help="ENAS image side (default 8)")
    p.add_argument("--epochs", type=int, default=2, help="child training epochs (default 2)")
    p.add_argument("--batch-size", type=int, default=32, help="child batch size (default 32)")
    p.add_argument("--limit", type=int, default=600, help="examples per split (default 600)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--darts-seeds", type=int, default=3, help="DARTS searches (default 3)")
    p.add_argument("--darts-epochs", type=int, default=5, help="DARTS search epochs (default 5)")
    p.add_argument(
        "--darts-train-epochs", type=int, default=5, help="from-scratch epochs (default 5)"
    )
    p.add_argument("--darts-layers", type=int, default=2, help="DARTS numLayers (default 2)")
    p.add_argument("--darts-nodes", type=int, default=3, help="DARTS num_nodes (default 3)")
    p.add_argument("--darts-channels", type=int, default=8, help="init_channels (default 8)")
    p.add_argument("--random-genotypes", type=int, default=5, help="random genotypes (default 5)")
    p.add_argument("--smoke", action="store_true", help="tiny: 1 seed, few trials, 1 epoch")
    p.add_argument("--json", type=Path, help="write the figures there as JSON")
    args = p.parse_args(argv)
    if args.smoke:
        args.seeds, args.trials, args.epochs, args.limit, args.darts_seeds = 1, 3, 1, 100, 1
        args.darts_epochs = args.darts_train_epochs = 1
        args.random_genotypes, args.darts_nodes, args.darts_channels = 1, 1, 2
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        p.error(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    for name in ("seeds", "trials", "parallel", "layers", "epochs", "random_genotypes"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')}: must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("error: benchmarks/nas.py needs PyTorch: pip install 'tunery[nas]'", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
        f"torch {torch.__version__}; args: {vars(args)}",
        flush=True,
    )
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    started = time.process_time()
    if args.only in (None, "enas"):
        result["enas"] = run_enas(args)
    if args.only in (None, "darts"):
        result["darts"] = run_darts(args)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_s"] = time.process_time() - started + children.ru_utime + children.ru_stime
    print(f"\nCPU time, this process and its children: {result['cpu_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
