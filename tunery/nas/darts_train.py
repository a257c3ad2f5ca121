"""DARTS's training loops: the search (bi-level updates of weights and architecture parameters)
and the from-scratch training of a network built from a genotype.

The data are tensors in memory (:mod:`tunery.nas.data`), cut into shuffled batches here (no
loader processes).  The search, as Katib's trial does, alternates per step an architecture step
on a validation batch (Adam, betas 0.5/0.999) and a weight step on a training batch (SGD with
momentum, gradient clipping, a cosine learning rate from ``w_lr`` down to ``w_lr_min``), for as
many steps per epoch as the shorter of the two splits has batches; after each epoch it measures
the validation accuracy and derives the genotype, and keeps the genotype of the best epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from tunery.nas.darts_architect import Architect
from tunery.nas.darts_model import FixedNetwork, Genotype, SearchNetwork

#: Where progress lines go (``print`` with flush, in the trainer).
Out = Callable[[str], None]
Split = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Settings:
    """The trainer's settings (Katib's names; ``batch_size`` None: a split is one batch)."""

    num_epochs: int = 50
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    w_grad_clip: float = 5.0
    alpha_lr: float = 3e-4
    alpha_weight_decay: float = 1e-3
    batch_size: int | None = 128
    num_workers: int = 4
    init_channels: int = 16
    print_step: int = 50
    num_nodes: int = 4
    stem_multiplier: int = 3
    #: tunery's addition: False takes the first-order architecture step (Katib: always second).
    unrolled: bool = True


@dataclass(frozen=True)
class SearchResult:
    genotype: Genotype
    accuracy: float
    epoch: int


def batches(split: Split, size: int | None, generator: torch.Generator) -> Iterator[Split]:
    """The split's examples in shuffled batches of ``size`` (the last one may be shorter)."""
    x, y = split
    n = len(y)
    step = n if size is None else size
    order = torch.randperm(n, generator=generator).to(y.device)
    for start in range(0, n, step):
        idx = order[start : start + step]
        yield x[idx], y[idx]


def halves(split: Split, seed: int) -> tuple[Split, Split]:
    """The split cut in two halves at random (seeded), as Katib's trial cuts its training set:
    one trains the weights, the other the architecture parameters."""
    x, y = split
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)).to(y.device)
    first, second = order[: len(y) // 2], order[len(y) // 2 :]
    return (x[first], y[first]), (x[second], y[second])


def n_batches(split: Split, size: int | None) -> int:
    return 1 if size is None else math.ceil(len(split[1]) / size)


def accuracy(model: nn.Module, split: Split, size: int | None) -> float:
    """The share of ``split`` the model classifies right (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    x, y = split
    step = len(y) if size is None else size
    right = 0
    with torch.no_grad():
        for start in range(0, len(y), step):
            logits = model(x[start : start + step])
            right += int((logits.argmax(dim=1) == y[start : start + step]).sum())
    model.train(was_training)
    return right / max(len(y), 1)


def search(
    primitives: list[str],
    *,
    num_layers: int,
    settings: Settings,
    train: Split,
    valid: Split,
    num_classes: int,
    seed: int,
    out: Out,
) -> SearchResult:
    """Run the DARTS search; returns the genotype of the epoch with the best validation
    accuracy (the first such epoch)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = train[0].device
    model = SearchNetwork(
        primitives,
        input_channels=train[0].shape[1],
        num_classes=num_classes,
        num_layers=num_layers,
        init_channels=settings.init_channels,
        num_nodes=settings.num_nodes,
        stem_multiplier=settings.stem_multiplier,
    ).to(device)
    w_optim = torch.optim.SGD(
        model.weights(),
        settings.w_lr,
        momentum=settings.w_momentum,
        weight_decay=settings.w_weight_decay,
    )
    alpha_optim = torch.optim.Adam(
        model.alphas(),
        settings.alpha_lr,
        betas=(0.5, 0.999),
        weight_decay=settings.alpha_weight_decay,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        w_optim, settings.num_epochs, eta_min=settings.w_lr_min
    )
    architect = Architect(
        model,
        w_momentum=settings.w_momentum,
        w_weight_decay=settings.w_weight_decay,
        second_order=settings.unrolled,
    )
    order = "second-order (unrolled)" if settings.unrolled else "first-order"
    out(f"Architecture step: {order}")
    steps = min(n_batches(train, settings.batch_size), n_batches(valid, settings.batch_size))
    best: SearchResult | None = None
    for epoch in range(1, settings.num_epochs + 1):
        lr = float(schedule.get_last_lr()[0])
        model.train()
        seen = right = 0
        total = 0.0
        pairs = zip(
            batches(train, settings.batch_size, generator),
            batches(valid, settings.batch_size, generator),
            strict=False,  # as many steps as the shorter split has batches
        )
        for step, (t, v) in enumerate(pairs):
            alpha_optim.zero_grad()
            architect.step(t, v, lr, w_optim)
            alpha_optim.step()
            w_optim.zero_grad()
            logits = model(t[0])
            loss = model.criterion(logits, t[1])
            loss.backward()
            nn.utils.clip_grad_norm_(model.weights(), settings.w_grad_clip)
            w_optim.step()
            seen += len(t[1])
            total += loss.item() * len(t[1])
            right += int((logits.argmax(dim=1) == t[1]).sum())
            if step % settings.print_step == 0 or step == steps - 1:
                out(
                    f"Train: [{epoch}/{settings.num_epochs}] Step {step + 1}/{steps} "
                    f"Loss {total / seen:.3f} Prec@1 {right / seen:.1%} lr {lr:.4g}"
                )
        schedule.step()
        top1 = accuracy(model, valid, settings.batch_size)
        genotype = model.genotype()
        out(f"Valid: [{epoch}/{settings.num_epochs}] Final Prec@1 {top1:.4%}")
        out(f"Validation-Accuracy={top1:.6g}")
        out(f"Model genotype = {genotype}")
        if best is None or top1 > best.accuracy:
            best = SearchResult(genotype, top1, epoch)
    assert best is not None  # num_epochs >= 1
    return best


def train_fixed(
    genotype: Genotype,
    *,
    num_layers: int,
    settings: Settings,
    train: Split,
    valid: Split,
    num_classes: int,
    seed: int,
    out: Out,
) -> float:
    """Train the network of ``genotype`` from scratch (SGD, cosine schedule, clipping); the
    validation accuracy after the last epoch."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = FixedNetwork(
        genotype,
        input_channels=train[0].shape[1],
        num_classes=num_classes,
        num_layers=num_layers,
        init_channels=settings.init_channels,
        stem_multiplier=settings.stem_multiplier,
    ).to(train[0].device)
    optim = torch.optim.SGD(
        model.parameters(),
        settings.w_lr,
        momentum=settings.w_momentum,
        weight_decay=settings.w_weight_decay,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optim, settings.num_epochs, eta_min=settings.w_lr_min
    )
    criterion = nn.CrossEntropyLoss()
    steps = n_batches(train, settings.batch_size)
    top1 = 0.0
    for epoch in range(1, settings.num_epochs + 1):
        model.train()
        seen, total = 0, 0.0
        for step, (x, y) in enumerate(batches(train, settings.batch_size, generator)):
            optim.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), settings.w_grad_clip)
            optim.step()
            seen += len(y)
            total += loss.item() * len(y)
            if step % settings.print_step == 0 or step == steps - 1:
                out(
                    f"Train: [{epoch}/{settings.num_epochs}] Step {step + 1}/{steps} "
                    f"Loss {total / seen:.3f}"
                )
        schedule.step()
        top1 = accuracy(model, valid, settings.batch_size)
        out(f"Valid: [{epoch}/{settings.num_epochs}] Final Prec@1 {top1:.4%}")
        out(f"Validation-Accuracy={top1:.6g}")
    return top1
