"""The operations a DARTS cell mixes on each edge, named as Katib's search space names them.

Katib's DARTS suggestion turns each ``nasConfig`` operation into primitives:
``skip_connection`` as is, and ``<operationType>_<k>x<k>`` for each filter size ``k`` of the
operation's first parameter.  Every primitive keeps the spatial size (stride 1) or halves it
(stride 2, on a reduction cell's edges from its two inputs) and keeps the channel count, so any
mixture of them can be summed.  Known operation types (those of Katib's examples and docs):

- ``convolution``: ReLU, ``k x k`` convolution, batch norm;
- ``separable_convolution``: twice ReLU, depthwise ``k x k``, pointwise, batch norm;
- ``dilated_convolution``: ReLU, depthwise ``k x k`` with dilation 2, pointwise, batch norm;
- ``avg_pooling`` / ``max_pooling``: ``k x k`` pooling then batch norm (no affine);
- ``skip_connection``: identity, or a factorized reduction on a stride-2 edge;
- ``none``: zero (the last primitive of a search, which the genotype never picks).

Filter sizes are odd (``3``, ``5``, ``7``, ...): an even one could not keep the spatial size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

#: The primitive every search adds last: an edge that contributes nothing.
NONE = "none"
SKIP = "skip_connection"
#: The operation types a primitive may name (``<type>_<k>x<k>``).
SIZED_TYPES = (
    "convolution",
    "separable_convolution",
    "dilated_convolution",
    "avg_pooling",
    "max_pooling",
)
_SIZED = re.compile(r"^([a-z_]+)_(\d+)x(\d+)$")


class PrimitiveError(ValueError):
    """A primitive this trainer cannot build (said in one line, with the fix)."""


def parse_primitive(name: str) -> tuple[str, int]:
    """``(operation type, filter size)`` of a primitive name; size 0 for ``skip_connection``
    and ``none``.  Raises :class:`PrimitiveError` naming the fix."""
    if name in (SKIP, NONE):
        return name, 0
    match = _SIZED.match(name)
    if match is None or match.group(1) not in SIZED_TYPES:
        raise PrimitiveError(
            f"unknown operation {name!r}: use skip_connection or <type>_<k>x<k> with type one "
            f"of {', '.join(SIZED_TYPES)}"
        )
    kind, k1, k2 = match.group(1), int(match.group(2)), int(match.group(3))
    if k1 != k2 or k1 % 2 == 0:
        raise PrimitiveError(
            f"operation {name!r}: the filter size must be odd (3, 5, 7, ...), so that the "
            "operation keeps the image size"
        )
    return kind, k1


def check_primitives(names: Sequence[str]) -> None:
    """Every primitive buildable (:func:`parse_primitive`), at least one, none twice."""
    if not names:
        raise PrimitiveError("the search space is empty: name at least one operation")
    for name in names:
        parse_primitive(name)
    if len(set(names)) != len(names):
        raise PrimitiveError(f"the search space names an operation twice: {list(names)}")


class Zero(nn.Module):
    """The ``none`` edge: zeros of the output's shape."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    """ReLU, a convolution, batch norm (``affine`` as the cell asks)."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, *, affine: bool = False) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DepthwisePointwise(nn.Sequential):
    """ReLU, a depthwise ``k x k`` convolution (dilated or not), a pointwise one, batch norm."""

    def __init__(self, c: int, k: int, stride: int, dilation: int, *, affine: bool) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(
                c, c, k, stride, dilation * (k // 2), dilation=dilation, groups=c, bias=False
            ),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )


class Pool(nn.Module):
    """Average (padding not counted) or max pooling, then batch norm without affine."""

    def __init__(self, kind: str, c: int, k: int, stride: int) -> None:
        super().__init__()
        self.pool: nn.Module
        if kind == "avg_pooling":
            self.pool = nn.AvgPool2d(k, stride, k // 2, count_include_pad=False)
        else:
            self.pool = nn.MaxPool2d(k, stride, k // 2)
        self.bn = nn.BatchNorm2d(c, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pool(x))


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two stride-2 pointwise convolutions, one shifted by a pixel,
    their outputs concatenated (so no pixel is dropped)."""

    def __init__(self, c_in: int, c_out: int, *, affine: bool = False) -> None:
        super().__init__()
        half = c_out // 2
        self.relu = nn.ReLU()
        self.even = nn.Conv2d(c_in, half, 1, 2, bias=False)
        self.odd = nn.Conv2d(c_in, c_out - half, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.even(x), self.odd(shifted)], dim=1))


def build(name: str, channels: int, stride: int, *, affine: bool = False) -> nn.Module:
    """The module of primitive ``name`` on ``channels`` channels (``affine``: learnable batch
    norms, as a network trained from a genotype has; the search's have none)."""
    kind, k = parse_primitive(name)
    if kind == NONE:
        return Zero(stride)
    if kind == SKIP:
        if stride == 1:
            return nn.Identity()
        return FactorizedReduce(channels, channels, affine=affine)
    if kind == "convolution":
        return ReLUConvBN(channels, channels, k, stride, affine=affine)
    if kind == "separable_convolution":
        return nn.Sequential(
            DepthwisePointwise(channels, k, stride, 1, affine=affine),
            DepthwisePointwise(channels, k, 1, 1, affine=affine),
        )
    if kind == "dilated_convolution":
        return DepthwisePointwise(channels, k, stride, 2, affine=affine)
    return Pool(kind, channels, k, stride)


class MixedOp(nn.Module):
    """One edge of the search cell: every primitive, summed with the softmax weights of the
    edge's architecture parameters.  ``none`` adds exactly zero, so it is not computed (its
    weight still takes its share of the softmax)."""

    def __init__(self, primitives: Sequence[str], channels: int, stride: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(build(p, channels, stride) for p in primitives)
        self.live = [i for i, p in enumerate(primitives) if p != NONE]

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        first, *rest = self.live
        out = weights[first] * self.ops[first](x)
        for i in rest:
            out = out + weights[i] * self.ops[i](x)
        return out


def preprocess(c_in: int, c_out: int, reduce: bool, *, affine: bool = False) -> nn.Module:
    """A cell input brought to the cell's channels (and halved, after a reduction cell)."""
    if reduce:
        return FactorizedReduce(c_in, c_out, affine=affine)
    return ReLUConvBN(c_in, c_out, 1, 1, affine=affine)
