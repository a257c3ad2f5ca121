"""Local stand-in for the MPIJob example's ``/examples/tensorflow_mnist.py`` (Horovod's
TensorFlow MNIST example in the ``mpi-horovod-mnist`` image).

It takes that script's flags (``--lr``, ``--num-steps``, ``--use-adasum``) and runs the same
way: one process per MPI rank, started by ``mpirun``; each rank trains on its own shuffled
batches of 100, gradients are averaged over the ranks every step (Horovod's
``DistributedOptimizer``), Adam's learning rate is scaled by the number of ranks, each rank
runs ``num_steps // size`` steps, and every 10 steps TensorFlow's ``LoggingTensorHook`` line
``INFO:tensorflow:step = S, loss = L`` goes to stderr (what Katib's default StdOut collector
reads).  Unlike Horovod's example, only rank 0 logs.  Instead of TensorFlow, Horovod and a
MNIST download it uses torch (gloo, joined through a file named after the MPI job, in the
temporary directory) and scikit-learn's bundled 8x8 digits.

Ranks come from Open MPI's ``OMPI_COMM_WORLD_RANK`` and ``OMPI_COMM_WORLD_SIZE``.  When
``TUNERY_E2E_RECORD_DIR`` is set (by tests), each rank writes what it did and reported to
``<dir>/<KATIB_TRIAL_NAME>.rank<R>.json`` before printing it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

RANK = int(os.environ.get("OMPI_COMM_WORLD_RANK", 0))
SIZE = int(os.environ.get("OMPI_COMM_WORLD_SIZE", 1))
BATCH = 100


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits, read from the package's data file (no sklearn import)."""
    found = importlib.util.find_spec("sklearn")
    assert found is not None and found.submodule_search_locations, "scikit-learn is not installed"
    path = os.path.join(found.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1] / 16.0, data[:, -1].astype(np.int64)


def record(data: dict[str, object]) -> None:
    directory, trial = os.environ.get("TUNERY_E2E_RECORD_DIR"), os.environ.get("KATIB_TRIAL_NAME")
    if not directory or not trial:
        return
    path = os.path.join(directory, f"{trial}.rank{RANK}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(path + ".tmp", path)


def main() -> None:
    parser = argparse.ArgumentParser(description="Tensorflow MNIST Example (local stand-in)")
    parser.add_argument("--use-adasum", action="store_true", default=False)
    parser.add_argument("--lr", default=0.001, type=float)
    parser.add_argument("--num-steps", default=20000, type=int)
    args = parser.parse_args()

    torch.set_num_threads(1)
    rec: dict[str, object] = {
        "script": "tensorflow_mnist.py",
        "argv": sys.argv[1:],
        "rank": RANK,
        "world_size": SIZE,
        "distributed": False,
        "steps": 0,
        "train": [],  # the loss values of the logged lines, as printed
    }
    record(rec)
    store_file = ""
    if SIZE > 1:
        job = os.environ["PMIX_NAMESPACE"]  # the MPI job's id, the same on every rank
        store_file = os.path.join(tempfile.gettempdir(), f"tensorflow-mnist-standin-{job}")
        dist.init_process_group(
            "gloo", init_method=f"file://{store_file}", rank=RANK, world_size=SIZE
        )
        rec["distributed"] = dist.get_world_size() == SIZE

    x, y = load_digits()
    x_train, y_train = torch.tensor(x[:1400], dtype=torch.float32), torch.tensor(y[:1400])
    torch.manual_seed(0)  # every rank starts from the same weights (BroadcastGlobalVariables)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    lr_scaler = 1 if args.use_adasum else SIZE
    opt = torch.optim.Adam(model.parameters(), lr=args.lr * lr_scaler)
    order = np.random.default_rng(1000 + RANK)  # each rank shuffles on its own
    perm, index = order.permutation(len(x_train)), 0
    last_step = args.num_steps // SIZE
    losses: list[str] = []
    started = time.monotonic()
    for step in range(last_step):
        if index + BATCH > len(perm):
            perm, index = order.permutation(len(x_train)), 0
        batch = torch.from_numpy(perm[index : index + BATCH])
        index += BATCH
        opt.zero_grad()
        loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
        loss.backward()
        if SIZE > 1:
            for p in model.parameters():
                assert p.grad is not None
                dist.all_reduce(p.grad)
                p.grad /= SIZE
        opt.step()
        rec["steps"] = step + 1
        if step % 10 == 0 and RANK == 0:
            text = f"{loss.item():.7g}"
            losses.append(text)
            rec["train"] = losses
            record(rec)
            took = "" if step == 0 else f" ({time.monotonic() - started:.3f} sec)"
            line = f"INFO:tensorflow:step = {step}, loss = {text}{took}"
            print(line, file=sys.stderr, flush=True)
            started = time.monotonic()
    record(rec)
    if SIZE > 1:
        dist.barrier()
        dist.destroy_process_group()
        if RANK == 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(store_file)


if __name__ == "__main__":
    main()
