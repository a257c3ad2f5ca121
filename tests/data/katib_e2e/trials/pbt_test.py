"""Local stand-in for Katib's simple-pbt trial image (``/opt/pbt/pbt_test.py``).

Same flags (``--lr``, ``--epochs``, ``--checkpoint``), the same toy problem (accuracy grows
fastest when the rate follows a triangle wave of the accuracy, Ray Tune's PBT benchmark), the
same checkpoint (``training.ckpt`` in ``--checkpoint``: step and accuracy, resumed when present)
and the same output at the end::

    epoch 21:
    lr=0.0100
    Validation-accuracy=0.1234

The checkpoint is JSON rather than a pickle, and there is no minimum run time (the original
sleeps up to 7 s for its sidecar collector).  With ``TUNERY_E2E_RECORD_DIR`` set, it writes the
reported value to ``<dir>/<KATIB_TRIAL_NAME>.json`` before printing it.
"""

from __future__ import annotations

import argparse
import json
import os
import random


def step(accuracy: float, lr: float) -> float:
    midpoint, q_tolerance, noise_level = 50, 3, 2
    if accuracy < midpoint:
        optimal_lr = 0.01 * accuracy / midpoint
    else:
        optimal_lr = 0.01 - 0.01 * (accuracy - midpoint) / midpoint
    optimal_lr = min(0.01, max(0.001, optimal_lr))
    q_err = max(lr, optimal_lr) / (min(lr, optimal_lr) + 2.220446049250313e-16)
    if q_err < q_tolerance:
        accuracy += (1.0 / q_err) * random.random()
    elif lr > optimal_lr:
        accuracy -= (q_err - q_tolerance) * random.random()
    accuracy += noise_level * random.gauss(0.0, 1.0)
    return max(0.0, min(100.0, accuracy))


def main() -> None:
    parser = argparse.ArgumentParser(description="PBT Basic Test")
    parser.add_argument("--lr", type=float, default=0.0001)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--checkpoint", type=str, default="/var/log/katib/checkpoints/")
    opt = parser.parse_args()

    path = os.path.join(opt.checkpoint, "training.ckpt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            state = json.load(fh)
    else:
        os.makedirs(opt.checkpoint, exist_ok=True)
        state = {"step": 1, "accuracy": 0.0}
    for _ in range(opt.epochs):
        state["accuracy"] = step(state["accuracy"], opt.lr)
        state["step"] += 1
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(state, fh)

    reported = f"{state['accuracy'] / 100:0.4f}"
    directory = os.environ.get("TUNERY_E2E_RECORD_DIR")
    trial = os.environ.get("KATIB_TRIAL_NAME")
    if directory and trial:
        with open(os.path.join(directory, f"{trial}.json"), "w", encoding="utf-8") as fh:
            json.dump({"script": "pbt_test.py", "Validation-accuracy": [reported]}, fh)
    print(f"epoch {state['step']}:\nlr={opt.lr:0.4f}\nValidation-accuracy={reported}")


if __name__ == "__main__":
    main()
