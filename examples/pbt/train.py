"""A toy PBT trial: a "model" whose best learning rate changes as it learns.

The accuracy grows fastest when ``--lr`` is close to an optimal rate that falls from 0.01 to
0.003 as the accuracy goes from 0 to 1, and the gain falls off fast away from it (a rate three
times too high even loses accuracy).  No fixed rate does well all the way (the best, about
0.006, reaches 0.8 in 24 steps), so a population that hands its checkpoints down and lowers its
rate as it learns (Population Based Training) typically gets further in as many steps
(experiment.yaml reaches 1.0).

Each run trains ``--steps`` steps, continuing from ``<checkpoint>/model.json`` when that file
exists (copied from the parent trial by tunery, or by Katib's suggestion service), and saves
the new state there.  The file also records the lineage: every trial that trained this
checkpoint, its learning rate and the step it started from.  Every step prints a Katib metric
line: ``epoch=7 lr=0.0042 Validation-accuracy=0.3512``.  Pure Python, no dependencies:

    python train.py --lr 0.005 --steps 5 --checkpoint /tmp/ckpt
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random

CHECKPOINT_FILE = "model.json"
#: How fast the gain falls off as the rate leaves the optimal one (in log units).
WIDTH = 0.3


def optimal_lr(accuracy: float) -> float:
    """The decay schedule: 0.01 at accuracy 0, 0.003 at 1."""
    return 0.01 * 0.3**accuracy


def train_step(accuracy: float, lr: float, rng: random.Random) -> float:
    """One step: a gain that falls off fast as ``lr`` leaves the optimal rate."""
    best = optimal_lr(accuracy)
    off = math.log(lr / best)
    accuracy += 0.08 * math.exp(-0.5 * (off / WIDTH) ** 2) * rng.uniform(0.5, 1.0)
    if off > math.log(3.0):  # far too high: training diverges a little
        accuracy -= 0.02 * rng.uniform(0.5, 1.0)
    return min(1.0, max(0.0, accuracy))


def load(checkpoint: str) -> dict[str, object]:
    path = os.path.join(checkpoint, CHECKPOINT_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            state: dict[str, object] = json.load(fh)
            return state
    return {"step": 0, "accuracy": 0.0, "lineage": []}


def save(checkpoint: str, state: dict[str, object]) -> None:
    os.makedirs(checkpoint, exist_ok=True)
    path = os.path.join(checkpoint, CHECKPOINT_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=1)
    os.replace(path + ".tmp", path)  # never a half-written checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.001, help="learning rate")
    parser.add_argument("--steps", type=int, default=5, help="training steps of this run")
    parser.add_argument(
        "--checkpoint",
        default=os.environ.get("TUNERY_CHECKPOINT_DIR", "checkpoint"),
        help="checkpoint directory (read if present, then written)",
    )
    args = parser.parse_args()
    trial = os.environ.get("KATIB_TRIAL_NAME", "manual")

    state = load(args.checkpoint)
    step = int(state["step"])  # type: ignore[call-overload]
    accuracy = float(state["accuracy"])  # type: ignore[arg-type]
    lineage = list(state["lineage"])  # type: ignore[call-overload]
    lineage.append({"trial": trial, "lr": args.lr, "from_step": step})
    rng = random.Random(f"{trial}:{args.lr}:{step}")
    for _ in range(args.steps):
        accuracy = train_step(accuracy, args.lr, rng)
        step += 1
        print(f"epoch={step} lr={args.lr:.4f} Validation-accuracy={accuracy:.4f}", flush=True)
    save(args.checkpoint, {"step": step, "accuracy": accuracy, "lineage": lineage})


if __name__ == "__main__":
    main()
