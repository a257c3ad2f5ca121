"""``python -m tunery.nas.darts``: the DARTS trial Katib leaves to an image, shipped with tunery.

Search (what a darts experiment's trial runs; the flags of Katib's ``run_trial.py``)::

    python -m tunery.nas.darts --algorithm-settings="{'num_epochs': '1', ...}" \\
        --search-space="['max_pooling_3x3', 'skip_connection']" --num-layers="1"

trains the supernet of mixed operations (:mod:`tunery.nas.darts_model`) with bi-level updates
(:mod:`tunery.nas.darts_train`, :mod:`tunery.nas.darts_architect`), prints progress lines and,
last, ``Best-Genotype=Genotype(...)`` with the spaces removed, as Katib's trial prints it.
Values are read as Katib's service formats them (``'`` for ``"``), and a pair of double quotes
around a value (a template's ``--flag="${...}"`` run without a shell) is dropped.

Evaluation (for benchmarks)::

    python -m tunery.nas.darts --train-genotype "Genotype(...)" --num-layers 3
    python -m tunery.nas.darts --train-genotype random --search-space "[...]" --seed 4
    python -m tunery.nas.darts --random-genotype --search-space "[...]" --num-layers 3

trains the network of a genotype from scratch (``random``: one drawn from the search space
with ``--seed``) and prints ``Validation-Accuracy=<x>`` after each epoch; ``--random-genotype``
only prints ``Random-Genotype=Genotype(...)``.  Settings come from ``--algorithm-settings``
(Katib's defaults otherwise).

Bad input is one line on stderr and exit code 2; a missing torch says what to install.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, NoReturn

from tunery.errors import UserInputError
from tunery.nas import seed_argument

if TYPE_CHECKING:
    from tunery.nas.darts_train import Settings

#: The whole-number settings (the other numbers are >= 0; ``unrolled`` is true or false).  The
#: trainer reads Katib's settings (tunery.nas.darts_train.Settings) and tunery's ``unrolled``;
#: other names are reported and ignored.
_INT = (
    "num_epochs",
    "batch_size",
    "num_workers",
    "init_channels",
    "print_step",
    "num_nodes",
    "stem_multiplier",
)
_MIN = {
    "num_epochs": 1,
    "batch_size": 1,
    "init_channels": 1,
    "print_step": 1,
    "num_nodes": 1,
    "stem_multiplier": 1,
}
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see python -m tunery.nas.darts --help)")


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def unquote(text: str) -> str:
    """A flag's value without the double quotes a template wrote around it, if any."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def katib_json(text: str, flag: str) -> Any:
    """A value Katib's service wrote (JSON with ``'`` for ``"``), read as its trial does."""
    body = unquote(text)
    try:
        return json.loads(body.replace("'", '"'))
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"{flag}: {body[:60]!r} is not Katib's text ({exc.msg} at character {exc.pos})",
            f"pass the value the darts suggestion assigns, e.g. {flag}=\"['max_pooling_3x3']\"",
        ) from None


def read_settings(text: str) -> tuple[Settings, list[str]]:
    """The trainer's settings from ``--algorithm-settings`` (Katib's defaults where absent) and
    the names it ignores."""
    from tunery.nas.darts_train import Settings

    given = katib_json(text, "--algorithm-settings") if text.strip() else {}
    if not isinstance(given, dict):
        raise UserInputError(
            "--algorithm-settings: must be a dictionary of settings",
            "e.g. --algorithm-settings=\"{'num_epochs': '1'}\"",
        )
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    ignored = []
    for name, raw in given.items():
        if name not in known:
            ignored.append(name)
            continue
        values[name] = _setting(name, raw)
    return replace(Settings(), **values), ignored


def _setting(name: str, raw: Any) -> Any:
    where = f"--algorithm-settings: {name}"
    if name == "unrolled":
        text = str(raw).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise UserInputError(f"{where} must be true or false, not {raw!r}", "e.g. 'false'")
    if raw is None:
        if name == "batch_size":
            return None  # Katib's "None": each split is one batch
        raise UserInputError(f"{where} must be a number, not None", "leave it out for the default")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise UserInputError(f"{where} must be a number, not {raw!r}", "e.g. '1'") from None
    if name in _INT:
        if number != int(number):
            raise UserInputError(f"{where} must be a whole number, not {raw!r}", "e.g. '2'")
        low = _MIN.get(name, 0)
        if number < low:
            raise UserInputError(f"{where} must be at least {low}, not {raw!r}", f"e.g. '{low}'")
        return int(number)
    if not number >= 0.0 or number == float("inf"):
        raise UserInputError(f"{where} must be a finite number >= 0, not {raw!r}", "e.g. '0.01'")
    return number


def read_space(text: str) -> list[str]:
    """The primitives of ``--search-space`` (checked: buildable, none twice, no ``none``)."""
    from tunery.nas.darts_ops import NONE, PrimitiveError, check_primitives

    value = katib_json(text, "--search-space")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserInputError(
            "--search-space: must be a list of operation names",
            "e.g. --search-space=\"['max_pooling_3x3', 'skip_connection']\"",
        )
    if NONE in value:
        raise UserInputError(
            "--search-space: 'none' is added by the trainer itself", "remove it from the list"
        )
    try:
        check_primitives(value)
    except PrimitiveError as exc:
        raise UserInputError(f"--search-space: {exc}") from None
    return value


def read_layers(text: str) -> int:
    body = unquote(text)
    try:
        layers = int(body)
    except ValueError:
        raise UserInputError(
            f"--num-layers: must be a whole number, not {body!r}", "e.g. --num-layers=3"
        ) from None
    if layers < 1:
        raise UserInputError(f"--num-layers: must be at least 1, not {layers}", "e.g. 3")
    return layers


def _arguments() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m tunery.nas.darts",
        description="DARTS search (Katib's run_trial.py flags), or a genotype trained from "
        "scratch.",
    )
    p.add_argument("--algorithm-settings", default="", help="Katib's settings text")
    p.add_argument("--search-space", default="", help="Katib's list of operations")
    p.add_argument("--num-layers", default="", help="the number of cells")
    p.add_argument("--data", default="digits", help="digits (default), photos or cifar10:PATH")
    p.add_argument("--limit", type=int, default=None, help="at most N examples per split")
    p.add_argument("--image-size", type=int, default=None, help="image side (default 32)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--seed",
        type=seed_argument,
        default=0,
        help="weights, architecture parameters, batches, the search's halves (default 0)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--train-genotype",
        metavar="GENOTYPE",
        help="train this genotype from scratch ('random': one drawn from --search-space)",
    )
    mode.add_argument(
        "--random-genotype",
        action="store_true",
        help="print a genotype drawn from --search-space with --seed, and exit",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments().parse_args(argv)
    try:
        return _run(args)
    except UserInputError as exc:
        _fail(exc.one_line())
    except ImportError as exc:  # tunery.nas.MissingDependencyError: one line naming the fix
        _fail(" ".join(str(exc).split()))


def _say(line: str) -> None:
    print(line, flush=True)


def _run(args: argparse.Namespace) -> int:
    from tunery.nas import import_torch

    torch = import_torch()  # first: the readers below build on it
    settings, ignored = read_settings(args.algorithm_settings)
    if args.threads < 1:
        raise UserInputError(f"--threads: must be at least 1, not {args.threads}", "e.g. 1")
    searching = args.train_genotype is None and not args.random_genotype
    needs_space = searching or args.random_genotype or args.train_genotype == "random"
    if needs_space and not args.search_space.strip():
        raise UserInputError(
            "--search-space: is required", "e.g. --search-space=\"['max_pooling_3x3']\""
        )
    if not args.num_layers.strip():
        raise UserInputError("--num-layers: is required", "e.g. --num-layers=1")
    primitives = read_space(args.search_space) if needs_space else []
    layers = read_layers(args.num_layers)
    from tunery.nas import darts_model, darts_train

    if args.random_genotype:
        drawn = darts_model.random_genotype(
            primitives, num_nodes=settings.num_nodes, num_layers=layers, seed=args.seed
        )
        _say(f"Random-Genotype={drawn.katib_text()}")
        return 0
    genotype: darts_model.Genotype | None = None
    if args.train_genotype is not None:
        if args.train_genotype == "random":
            genotype = darts_model.random_genotype(
                primitives, num_nodes=settings.num_nodes, num_layers=layers, seed=args.seed
            )
        else:
            try:
                genotype = darts_model.parse_genotype(unquote(args.train_genotype))
                darts_model.check_genotype(genotype, layers)
            except darts_model.GenotypeError as exc:
                raise UserInputError(f"--train-genotype: {exc}") from None
    device = _device(torch, args.device)
    torch.set_num_threads(args.threads)
    from tunery.nas.data import load

    # seed 0 whatever --seed: every trial is scored on the same split (as tunery.nas.enas)
    data = load(args.data, image_size=args.image_size, seed=0, limit=args.limit)
    train = (data.train.tensors[0].to(device), data.train.tensors[1].to(device))
    valid = (data.valid.tensors[0].to(device), data.valid.tensors[1].to(device))
    _say(">>> Algorithm settings")
    for f in fields(settings):
        _say(f"{f.name:<20} {getattr(settings, f.name)}")
    for name in ignored:
        _say(f"setting {name!r} is not one this trainer reads: ignored")
    if settings.num_workers:
        _say("num_workers: the data are tensors in memory; batches are cut in this process")
    _say(
        f"Data: {data.name}, {len(train[1])} training and {len(valid[1])} validation images "
        f"{'x'.join(map(str, data.shape))}, {data.num_classes} classes; device {device}"
    )
    common: dict[str, Any] = {
        "num_layers": layers,
        "settings": settings,
        "train": train,
        "valid": valid,
        "num_classes": data.num_classes,
        "seed": args.seed,
        "out": _say,
    }
    if genotype is not None:
        _say(f"Genotype={genotype.katib_text()}")
        darts_train.train_fixed(genotype, **common)
        return 0
    # Katib's trial: the training set halved, weights on one half, architecture on the other
    # (whose accuracy picks the best epoch); the validation split stays unseen by the search.
    common["train"], common["valid"] = darts_train.halves(train, args.seed)
    _say(
        f"Search: {len(common['train'][1])} images train the weights, "
        f"{len(common['valid'][1])} the architecture (the training split halved)"
    )
    _say(f"Number of layers {layers}; operations {[*primitives, 'none']}")
    best = darts_train.search(primitives, **common)
    _say(f"Final best Prec@1 = {best.accuracy:.4%} (epoch {best.epoch})")
    _say(f"Best-Genotype={best.genotype.katib_text()}")
    return 0


def _device(torch: Any, choice: str) -> Any:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise UserInputError(
                "--device: cuda was asked for, but torch sees no GPU",
                "use --device cpu (or auto), or install a CUDA build of torch",
            )
        return torch.device("cuda")
    return torch.device("cpu")


if __name__ == "__main__":
    sys.exit(main())
