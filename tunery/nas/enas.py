"""The ENAS child trainer: ``python -m tunery.nas.enas``, Katib's ``RunTrial.py`` in PyTorch.

It takes Katib's flags (``--architecture``, ``--nn_config``, ``--num_epochs``, ``--num_gpus``)
plus tunery's (``--data``, ``--device``, ``--batch-size``, ``--seed``, ``--threads``,
``--learning-rate``, ``--limit``, ``--augment``), builds the child network
(:mod:`tunery.nas.enas_model`), trains it with Adam and prints, after every epoch, the lines
Katib's image prints and Katib's StdOut collector reads::

    Training-Accuracy=0.61
    Training-Loss=1.12
    Validation-Accuracy=0.74
    Validation-Loss=0.83

Bad flags, architecture or data: one line on stderr, exit code 2 (docs/nas.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from tunery.errors import UserInputError
from tunery.nas import MissingDependencyError, import_torch, seed_argument

#: Katib's RunTrial.py trains with batches of 128 and Adam at 1e-3.
DEFAULT_BATCH_SIZE = 128
DEFAULT_LEARNING_RATE = 1e-3
#: Katib's augmentation: translations of up to a tenth of the image.
TRANSLATION = 0.1


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}; see python -m tunery.nas.enas --help\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line: Katib's RunTrial.py flags, then tunery's."""
    p = _Parser(
        prog="python -m tunery.nas.enas",
        description="Train the ENAS child network Katib's enas algorithm proposes and print "
        "Katib's metric lines (Validation-Accuracy=...).",
    )
    katib = p.add_argument_group("Katib's RunTrial.py flags")
    katib.add_argument("--architecture", default="", help="the trial's architecture assignment")
    katib.add_argument("--nn_config", default="", help="the trial's nn_config assignment")
    katib.add_argument(
        "--num_epochs", type=_positive_int, default=10, help="epochs to train (default 10)"
    )
    katib.add_argument(
        "--num_gpus",
        type=int,
        default=1,
        help="accepted for Katib's commands; 0 keeps --device auto on the CPU (default 1)",
    )
    own = p.add_argument_group("tunery's flags")
    own.add_argument(
        "--data",
        default="digits",
        help="digits (default), photos or cifar10:PATH (a folder in torchvision's layout)",
    )
    own.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto (default): cuda when a GPU is there",
    )
    own.add_argument(
        "--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, help="default 128"
    )
    own.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=DEFAULT_LEARNING_RATE,
        help="Adam's (default 0.001)",
    )
    own.add_argument(
        "--seed", type=seed_argument, default=0, help="weights and batch order (default 0)"
    )
    own.add_argument(
        "--threads", type=_positive_int, default=1, help="CPU threads of torch (default 1)"
    )
    own.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="at most this many training and validation examples (quick runs)",
    )
    own.add_argument(
        "--augment",
        action="store_true",
        help="Katib's augmentation: random horizontal flips and translations of up to 10%%",
    )
    return p


def _device(torch: Any, choice: str, num_gpus: int) -> Any:
    if choice == "cuda" and not torch.cuda.is_available():
        raise UserInputError(
            "--device cuda: no CUDA device is available to torch",
            "use --device auto or cpu, or install a CUDA build of torch",
        )
    if choice == "cuda" or (choice == "auto" and num_gpus >= 1 and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def _augment(torch: Any, images: Any, generator: Any, flip: bool) -> Any:
    """Katib's RandomFlip("horizontal") and RandomTranslation(0.1, 0.1), reflecting edges."""
    batch, _, height, width = images.shape
    device = images.device

    def shifted(size: int) -> Any:
        most = int(size * TRANSLATION)
        shift = torch.randint(-most, most + 1, (batch, 1), generator=generator)
        index = torch.arange(size).unsqueeze(0) + shift
        index = torch.where(index < 0, -index, index)
        index = torch.where(index > size - 1, 2 * (size - 1) - index, index)
        return index.clamp(0, size - 1).to(device)

    rows, columns = shifted(height), shifted(width)
    if flip:
        mirrored = torch.rand(batch, 1, generator=generator).to(device) < 0.5
        columns = torch.where(mirrored, columns.flip(1), columns)
    picks = torch.arange(batch, device=device)[:, None, None]
    return images[picks, :, rows[:, :, None], columns[:, None, :]].permute(0, 3, 1, 2)


def _evaluate(
    torch: Any, model: Any, images: Any, labels: Any, batch_size: int
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on a whole set (eval mode)."""
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            x, y = images[start : start + batch_size], labels[start : start + batch_size]
            logits = model(x)
            total_loss += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(dim=1) == y).sum())
    return total_loss / len(labels), correct / len(labels)


def train(args: argparse.Namespace) -> int:
    """Build, train and report; the metric lines go to stdout as each epoch ends."""
    from tunery.nas.data import load, num_classes
    from tunery.nas.enas_model import build, plan

    arch = args.architecture.replace("'", '"')
    nn_config = args.nn_config.replace("'", '"')
    say(">>> arch received by trial")
    say(arch)
    say(">>> nn_config received by trial")
    say(nn_config)
    say(">>> num_epochs received by trial")
    say(args.num_epochs)
    say(">>> num_gpus received by trial:")
    say(args.num_gpus)
    child = plan(args.architecture, args.nn_config)
    for warning in child.warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    channels, height, width = child.input_shape
    if height != width:
        raise UserInputError(
            f"--nn_config: input_sizes {height}x{width} is not square; the data sets are",
            "give nasConfig.graphConfig.inputSizes the same height and width",
        )
    classes = num_classes(args.data)  # the name checked before torch is imported
    if classes > child.num_classes:
        raise UserInputError(
            f"--nn_config: output_sizes ends in {child.num_classes}, but the {args.data} data "
            f"set has {classes} classes",
            f"set nasConfig.graphConfig.outputSizes to [{classes}]",
        )
    torch = import_torch()
    torch.set_num_threads(args.threads)
    device = _device(torch, args.device, args.num_gpus)
    data = load(args.data, image_size=height, channels=channels, seed=0, limit=args.limit)
    say("\n>>> Constructing Model...")
    torch.manual_seed(args.seed)
    model = build(child).to(device)
    for line in child.describe():
        say(line)
    parameters = sum(p.numel() for p in model.parameters())
    say(f"Total params: {parameters:,}")
    say(f">>> Using devices: ['{device}']")
    say(">>> Model Constructed Successfully\n")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    train_x, train_y = (t.to(device) for t in data.train.tensors)
    valid_x, valid_y = (t.to(device) for t in data.valid.tensors)
    generator = torch.Generator().manual_seed(args.seed)
    flip = args.augment and not data.name.startswith("digits")
    say(
        f">>> Data Loaded ({data.name}: {len(train_y)} training and {len(valid_y)} validation "
        f"images of {channels}x{height}x{width}). Training starts."
    )
    for epoch in range(args.num_epochs):
        say(f"\nTotal Epoch {epoch + 1}/{args.num_epochs}")
        started = time.monotonic()
        model.train()
        order = torch.randperm(len(train_y), generator=generator).to(device)
        seen, loss_sum, correct = 0, 0.0, 0
        for start in range(0, len(order), args.batch_size):
            pick = order[start : start + args.batch_size]
            x, y = train_x[pick], train_y[pick]
            if args.augment:
                x = _augment(torch, x, generator, flip)
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(y)
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.detach().argmax(dim=1) == y).sum())
        valid_loss, valid_accuracy = _evaluate(torch, model, valid_x, valid_y, args.batch_size)
        say(f"epoch time: {time.monotonic() - started:.1f} s")
        say(f"Training-Accuracy={correct / seen}")
        say(f"Training-Loss={loss_sum / seen}")
        say(f"Validation-Accuracy={valid_accuracy}")
        say(f"Validation-Loss={valid_loss}")
    return 0


def say(text: object) -> None:
    """A line of the trial's log, flushed at once (the collector reads it live)."""
    print(text, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return train(args)
    except UserInputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr, flush=True)
        return exc.exit_code
    except MissingDependencyError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
