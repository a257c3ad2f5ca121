"""Local stand-in for Katib's pytorch-mnist trial image (``/opt/pytorch-mnist/mnist.py``).

It accepts every flag of that script and reports in its formats, but trains a tiny network on
scikit-learn's bundled 8x8 digits (a few hundred samples, one torch thread) instead of
downloading FashionMNIST:

* every ``--log-interval`` batches: ``<timestamp> INFO     Train Epoch: E [N/M (P%)]\tloss=L``
  (what Katib's default StdOut collector reads);
* after every epoch: ``{metricName: accuracy, metricValue: A};{metricName: loss, metricValue: L}``
  (what the File collector's ``metricsFormat`` filter reads), through ``logging``: to stderr, or
  to the file ``--log-path`` when it is set;
* with ``--logger=hypertune``: cloudml-hypertune's JSON lines (``{"global_step": "1", "loss":
  "0.52", "timestamp": 1.7e9, "trial": "0"}``) appended to ``--log-path``.

Like the original, nothing creates the directory of ``--log-path`` (on Katib the metrics
collector's volume provides it).  With ``WORLD_SIZE`` > 1 (a PyTorchJob's replicas) it joins
``torch.distributed`` (gloo, ``env://``: ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``), each rank
trains on its own shard and gradients are averaged with ``all_reduce``; only rank 0 reports.

When ``TUNERY_E2E_RECORD_DIR`` is set (by tests), each process also writes what it reported to
``<dir>/<KATIB_TRIAL_NAME>.rank<R>.json``, before printing it, so that a test can check that the
metrics stored for a trial are the ones this trial produced (and the ``TRIAL_*`` env values it
was given).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

TRAIN_SIZE = 1200
TEST_SIZE = 400
WORLD_SIZE = int(os.environ.get("WORLD_SIZE", 1))
RANK = int(os.environ.get("RANK", 0))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.fc1 = nn.Linear(16 * 3 * 3, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return F.log_softmax(self.fc2(x), dim=1)


class Recorder:
    """What this process reported, rewritten atomically before each report is printed."""

    def __init__(self, args: argparse.Namespace) -> None:
        directory = os.environ.get("TUNERY_E2E_RECORD_DIR")
        trial = os.environ.get("KATIB_TRIAL_NAME")
        self.path = (
            os.path.join(directory, f"{trial}.rank{RANK}.json") if directory and trial else None
        )
        self.data: dict[str, object] = {
            "script": "mnist.py",
            "argv": sys.argv[1:],
            "rank": RANK,
            "world_size": WORLD_SIZE,
            "distributed": False,
            "train": [],  # loss values of the "Train Epoch" lines, as printed
            "test": [],  # per epoch {"accuracy", "loss"}, as printed (4 decimals)
            "hypertune": [],  # per epoch {"accuracy", "loss"}, as written to the JSON file
            # the TRIAL_* env values the trial was given (trial-metadata-substitution)
            "env": {k: v for k, v in os.environ.items() if k.startswith("TRIAL_")},
        }
        self.save()

    def add(self, key: str, value: object) -> None:
        entries = self.data[key]
        assert isinstance(entries, list)
        entries.append(value)
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        with open(self.path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(self.data, fh)
        os.replace(self.path + ".tmp", self.path)


def hypertune_report(path: str, tag: str, value: float, step: int) -> str:
    """cloudml-hypertune's line for one metric; returns the value as written."""
    text = str(float(value))
    body = {"global_step": str(step), tag: text, "timestamp": time.time(), "trial": "0"}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(body, sort_keys=True) + "\n")
    return text


def load_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first rows of scikit-learn's bundled digits (what ``load_digits()`` returns), read
    from the package's own data file: importing sklearn would double the start-up time."""
    found = importlib.util.find_spec("sklearn")
    assert found is not None and found.submodule_search_locations, "scikit-learn is not installed"
    path = os.path.join(found.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    data = np.loadtxt(path, delimiter=",", max_rows=TRAIN_SIZE + TEST_SIZE)
    x = torch.tensor(data[:, :-1], dtype=torch.float32)
    x = (x - x.mean()) / x.std()  # standardised pixels: SGD learns in one short epoch
    y = torch.tensor(data[:, -1], dtype=torch.long)
    x = x.reshape(-1, 1, 8, 8)
    return x[:TRAIN_SIZE], y[:TRAIN_SIZE], x[TRAIN_SIZE:], y[TRAIN_SIZE:]


def train(args, model, optimizer, x, y, epoch, recorder):  # type: ignore[no-untyped-def]
    model.train()
    # Each rank trains on its own shard, in an order that depends on the seed and the epoch.
    shard = len(x) // WORLD_SIZE
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed + epoch))
    order = order[RANK * shard : (RANK + 1) * shard]
    batches = range(0, shard, args.batch_size)
    for batch_idx, start in enumerate(batches):
        index = order[start : start + args.batch_size]
        optimizer.zero_grad()
        loss = F.nll_loss(model(x[index]), y[index])
        loss.backward()
        if WORLD_SIZE > 1:
            for p in model.parameters():
                assert p.grad is not None
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= WORLD_SIZE
        optimizer.step()
        if batch_idx % args.log_interval == 0 and RANK == 0:
            text = f"{loss.item():.4f}"
            recorder.add("train", text)
            logging.info(
                "Train Epoch: %d [%d/%d (%.0f%%)]\tloss=%s",
                epoch,
                start,
                shard,
                100.0 * batch_idx / len(batches),
                text,
            )


def test(args, model, x, y, epoch, recorder):  # type: ignore[no-untyped-def]
    model.eval()
    with torch.no_grad():
        output = model(x)
        test_loss = F.nll_loss(output, y, reduction="sum").item() / len(x)
        accuracy = float((output.argmax(1) == y).sum().item()) / len(x)
    if RANK != 0:
        return
    recorder.add("test", {"accuracy": f"{accuracy:.4f}", "loss": f"{test_loss:.4f}"})
    logging.info(
        "{metricName: accuracy, metricValue: %.4f};{metricName: loss, metricValue: %.4f}\n",
        accuracy,
        test_loss,
    )
    if args.logger == "hypertune":
        entry = {
            "loss": hypertune_report(args.log_path, "loss", test_loss, epoch),
            "accuracy": hypertune_report(args.log_path, "accuracy", accuracy, epoch),
        }
        recorder.add("hypertune", entry)


def main() -> None:
    parser = argparse.ArgumentParser(description="PyTorch MNIST Example (local stand-in)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--test-batch-size", type=int, default=1000, metavar="N")
    parser.add_argument("--epochs", type=int, default=10, metavar="N")
    parser.add_argument("--lr", type=float, default=0.01, metavar="LR")
    parser.add_argument("--momentum", type=float, default=0.5, metavar="M")
    parser.add_argument("--no-cuda", action="store_true", default=False)
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument("--log-interval", type=int, default=10, metavar="N")
    parser.add_argument("--log-path", type=str, default="")
    parser.add_argument("--save-model", action="store_true", default=False)
    parser.add_argument("--logger", type=str, choices=["standard", "hypertune"], default="standard")
    parser.add_argument("--backend", type=str, choices=["gloo", "nccl", "mpi"], default="gloo")
    args = parser.parse_args()

    # Timestamps in the format Katib's collectors read (%Y-%m-%dT%H:%M:%SZ).
    fmt, datefmt = "%(asctime)s %(levelname)-8s %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    if args.log_path == "" or args.logger == "hypertune":
        logging.basicConfig(format=fmt, datefmt=datefmt, level=logging.DEBUG)
    else:
        logging.basicConfig(
            format=fmt, datefmt=datefmt, level=logging.DEBUG, filename=args.log_path
        )

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    recorder = Recorder(args)
    if WORLD_SIZE > 1:
        print(f"Using distributed PyTorch with {args.backend} backend", flush=True)
        dist.init_process_group(backend=args.backend)
        recorder.data["distributed"] = dist.get_world_size() == WORLD_SIZE
        recorder.save()

    x_train, y_train, x_test, y_test = load_data()
    model = Net()
    if WORLD_SIZE > 1:
        for p in model.parameters():  # every rank starts from rank 0's weights
            dist.broadcast(p.data, src=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    for epoch in range(1, args.epochs + 1):
        train(args, model, optimizer, x_train, y_train, epoch, recorder)
        test(args, model, x_test, y_test, epoch, recorder)
    if args.save_model and RANK == 0:
        torch.save(model.state_dict(), "mnist_cnn.pt")
    if WORLD_SIZE > 1:
        # every rank leaves together: a rank that tears its group down while another still
        # talks to it can make gloo abort at exit
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
