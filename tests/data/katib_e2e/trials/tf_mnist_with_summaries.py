"""Local stand-in for Katib's tf-mnist-with-summaries trial image (no TensorFlow needed).

Same flags as ``/opt/tf-mnist-with-summaries/mnist.py`` (``--batch-size``, ``--learning-rate``,
``--epochs``, ``--log-interval``, ``--log-path``) and the same outputs: a TensorBoard event file
under ``<log-path>/train`` and one under ``<log-path>/test``, each with the scalars ``loss`` and
``accuracy`` (a fraction) at step ``epoch`` (from 0), and the same printed lines.  It trains a
tiny torch network (Adam) on scikit-learn's bundled digits.

Like the original under a TFJob, each worker trains on its own (the script uses no distribution
strategy); ``TF_CONFIG``, when set, is only recorded.  ``--log-path`` itself must exist (on Katib
the TensorFlowEvent collector's volume provides it); its ``train``/``test`` subdirectories are
created.  With ``TUNERY_E2E_RECORD_DIR`` set, each process writes what it reported (as stored in
the event files: float32) to ``<dir>/<KATIB_TRIAL_NAME>.<task>.json`` before writing it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from mnist import load_data  # the same data as the PyTorch stand-in
from torch import nn
from torch.utils.tensorboard import SummaryWriter


def task_of(tf_config: str | None) -> tuple[str, int, int]:
    """(task type, index, number of workers) from ``TF_CONFIG``; a lone worker without it."""
    if not tf_config:
        return "worker", 0, 1
    config = json.loads(tf_config)
    task = config.get("task", {})
    workers = len(config.get("cluster", {}).get("worker", []))
    return str(task.get("type", "worker")), int(task.get("index", 0)), workers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--epochs", type=int, default=10, metavar="N")
    parser.add_argument("--log-interval", type=int, default=100, metavar="N")
    parser.add_argument(
        "--log-path",
        type=str,
        default=os.path.join(
            os.getenv("TEST_TMPDIR", "/tmp"), "tensorflow/mnist/logs/mnist_with_summaries"
        ),
    )
    args = parser.parse_args()
    if not os.path.isdir(args.log_path):
        sys.exit(f"--log-path {args.log_path} does not exist (the collector's volume provides it)")

    torch.set_num_threads(1)
    torch.manual_seed(0)
    task_type, task_index, workers = task_of(os.environ.get("TF_CONFIG"))
    record: dict[str, object] = {
        "script": "tf_mnist_with_summaries.py",
        "argv": sys.argv[1:],
        "tf_config": os.environ.get("TF_CONFIG"),
        "task": [task_type, task_index],
        "workers": workers,
        "test": [],  # per epoch {"accuracy", "loss"} as float32 values
    }
    directory = os.environ.get("TUNERY_E2E_RECORD_DIR")
    trial = os.environ.get("KATIB_TRIAL_NAME")
    record_path = (
        os.path.join(directory, f"{trial}.{task_type}-{task_index}.json")
        if directory and trial
        else None
    )

    def save() -> None:
        if record_path is not None:
            with open(record_path + ".tmp", "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            os.replace(record_path + ".tmp", record_path)

    save()
    x_train, y_train, x_test, y_test = load_data()
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    train_writer = SummaryWriter(os.path.join(args.log_path, "train"))
    test_writer = SummaryWriter(os.path.join(args.log_path, "test"))
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(epoch))
        losses, correct = [], 0
        for step, start in enumerate(range(0, len(x_train), args.batch_size)):
            index = order[start : start + args.batch_size]
            logits = model(x_train[index])
            loss = F.cross_entropy(logits, y_train[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item() * len(index))
            correct += int((logits.argmax(1) == y_train[index]).sum())
            seen = start + len(index)
            if step % args.log_interval == 0:
                print(
                    f"Train Epoch: {epoch + 1} [{step * args.batch_size}/{len(x_train)} "
                    f"({100.0 * step * args.batch_size / len(x_train):.0f}%)]\t"
                    f"loss={sum(losses) / seen:.4f}, accuracy={100.0 * correct / seen:.4f}"
                )
        train_writer.add_scalar("loss", sum(losses) / len(x_train), epoch)
        train_writer.add_scalar("accuracy", correct / len(x_train), epoch)
        model.eval()
        with torch.no_grad():
            logits = model(x_test)
            test_loss = float(np.float32(F.cross_entropy(logits, y_test).item()))
            test_accuracy = float(
                np.float32(float((logits.argmax(1) == y_test).sum()) / len(x_test))
            )
        tests = record["test"]
        assert isinstance(tests, list)
        tests.append({"accuracy": test_accuracy, "loss": test_loss})
        save()
        test_writer.add_scalar("loss", test_loss, epoch)
        test_writer.add_scalar("accuracy", test_accuracy, epoch)
        train_writer.flush()
        test_writer.flush()
        print(f"Test Loss: {test_loss:.4f}, Test Accuracy: {test_accuracy * 100:.4f}\n")
    train_writer.close()
    test_writer.close()


if __name__ == "__main__":
    main()
