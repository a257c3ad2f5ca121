"""DARTS's networks: the search supernet of mixed operations and a network built from a genotype.

Both stack ``num_layers`` cells after a stem convolution, as Katib's DARTS trial does: with one
layer the cell is normal; with two the second is a reduction cell; with more, the cells at a
third and two thirds of the depth reduce (stride 2 on the edges from the cell's inputs,
channels doubled).  A cell has two inputs (the two previous cells' outputs) and ``num_nodes``
intermediate nodes; node ``i`` sums one operation on each of its inputs among the cell's
inputs and the earlier nodes (``i + 2`` candidates); the cell's output concatenates its nodes.

In the search network every edge mixes every primitive with the softmax of its architecture
parameters (one matrix per node, ``(i + 2) x len(primitives)``, shared by all normal cells and
by all reduction cells).  The genotype keeps, per node, the two inputs whose best operation
other than ``none`` has the largest parameter, with that operation (Katib's ``parse``, on the
raw parameters).
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, cast

import torch
from torch import nn

from tunery.nas.darts_ops import NONE, MixedOp, build, parse_primitive, preprocess

#: A node's gene: its (operation, input state index) pairs.
NodeGene = list[tuple[str, int]]


class Genotype(NamedTuple):
    """A derived architecture, written as Katib's trial writes it (``str``): ``Genotype(normal=
    [[('op', 0), ...], ...], normal_concat=range(2, 3), reduce=[...], reduce_concat=...)``."""

    normal: list[NodeGene]
    normal_concat: Sequence[int]
    reduce: list[NodeGene]
    reduce_concat: Sequence[int]

    def katib_text(self) -> str:
        """``str(self)`` with the spaces removed, as Katib's ``Best-Genotype=`` line has it."""
        return str(self).replace(" ", "")


class GenotypeError(ValueError):
    """A genotype text that cannot be read or built (one line, naming the fix)."""


def reduction_layers(num_layers: int) -> set[int]:
    """The indices of the reduction cells among ``num_layers`` cells (Katib's placement)."""
    if num_layers <= 1:
        return set()
    if num_layers == 2:
        return {1}
    return {num_layers // 3, 2 * num_layers // 3}


def _total(terms: Sequence[torch.Tensor]) -> torch.Tensor:
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _stem(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))


#: Builds one cell from (reduction, reduction_prev, c_prev_prev, c_prev, c): the cell and the
#: number of its nodes concatenated into its output.
MakeCell = Callable[[bool, bool, int, int, int], tuple[nn.Module, int]]


def _cell_stack(
    input_channels: int,
    num_layers: int,
    init_channels: int,
    stem_multiplier: int,
    make_cell: MakeCell,
) -> tuple[nn.Sequential, nn.ModuleList, int]:
    """The stem and ``num_layers`` cells (channels doubled at each reduction, Katib's
    placement), built in that order; returns them and the last cell's output channels."""
    c = init_channels
    c_stem = stem_multiplier * c
    stem = _stem(input_channels, c_stem)
    c_pp, c_p = c_stem, c_stem
    reductions = reduction_layers(num_layers)
    cells = nn.ModuleList()
    reduction_prev = False
    for layer in range(num_layers):
        reduction = layer in reductions
        if reduction:
            c *= 2
        cell, outputs = make_cell(reduction, reduction_prev, c_pp, c_p, c)
        cells.append(cell)
        reduction_prev = reduction
        c_pp, c_p = c_p, c * outputs
    return stem, cells, c_p


class SearchCell(nn.Module):
    """A cell whose every edge is a :class:`~tunery.nas.darts_ops.MixedOp`."""

    def __init__(
        self,
        primitives: Sequence[str],
        num_nodes: int,
        c_prev_prev: int,
        c_prev: int,
        c: int,
        *,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.pre0 = preprocess(c_prev_prev, c, reduction_prev)
        self.pre1 = preprocess(c_prev, c, False)
        self.nodes = nn.ModuleList(
            nn.ModuleList(
                MixedOp(primitives, c, 2 if reduction and j < 2 else 1) for j in range(i + 2)
            )
            for i in range(num_nodes)
        )

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, weights: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for edges, w in zip(self.nodes, weights, strict=True):
            terms = [op(states[j], w[j]) for j, op in enumerate(cast(nn.ModuleList, edges))]
            states.append(_total(terms))
        return torch.cat(states[2:], dim=1)


class SearchNetwork(nn.Module):
    """The DARTS supernet: its weights (:meth:`weights`) and its architecture parameters
    (:meth:`alphas`) are trained apart, on the training and the validation data."""

    def __init__(
        self,
        primitives: Sequence[str],
        *,
        input_channels: int,
        num_classes: int,
        num_layers: int,
        init_channels: int = 16,
        num_nodes: int = 4,
        stem_multiplier: int = 3,
    ) -> None:
        super().__init__()
        self.primitives = [*primitives, NONE]
        self.num_nodes = num_nodes
        self.num_layers = num_layers
        self.criterion = nn.CrossEntropyLoss()

        def make_cell(reduction: bool, prev: bool, c_pp: int, c_p: int, c: int) -> Any:
            cell = SearchCell(
                self.primitives, num_nodes, c_pp, c_p, c, reduction=reduction, reduction_prev=prev
            )
            return cell, num_nodes

        self.stem, self.cells, c_p = _cell_stack(
            input_channels, num_layers, init_channels, stem_multiplier, make_cell
        )
        reductions = reduction_layers(num_layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        n_ops = len(self.primitives)
        self.alpha_normal = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(i + 2, n_ops)) for i in range(num_nodes)
        )
        self.alpha_reduce = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(i + 2, n_ops))
            for i in range(num_nodes if reductions else 0)
        )

    def weights(self) -> list[nn.Parameter]:
        """The network's weights: every parameter but the architecture parameters."""
        return [p for n, p in self.named_parameters() if not n.startswith("alpha_")]

    def alphas(self) -> list[nn.Parameter]:
        """The architecture parameters: normal cells' nodes, then reduction cells' nodes."""
        return [*self.alpha_normal, *self.alpha_reduce]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normal = [torch.softmax(a, dim=-1) for a in self.alpha_normal]
        reduce = [torch.softmax(a, dim=-1) for a in self.alpha_reduce]
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
        return self.classifier(self.pool(s1).flatten(1))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.criterion(self(x), y)

    def genotype(self) -> Genotype:
        """The discrete architecture the architecture parameters point at."""
        concat = range(2, 2 + self.num_nodes)
        return Genotype(
            normal=derive(self.alpha_normal, self.primitives),
            normal_concat=concat,
            reduce=derive(self.alpha_reduce, self.primitives),
            reduce_concat=concat,
        )


def derive(alphas: Iterable[Any], primitives: Sequence[str], k: int = 2) -> list[NodeGene]:
    """Per node, the ``k`` inputs whose strongest operation (``none``, the last primitive,
    left out) has the largest parameter, strongest first, each with that operation."""
    genes: list[NodeGene] = []
    for alpha in alphas:
        strength, best = alpha.detach()[:, :-1].max(dim=1)
        order = torch.topk(strength, min(k, strength.numel())).indices
        genes.append([(primitives[int(best[e])], int(e)) for e in order])
    return genes


# --------------------------------------------------------------------------- fixed network


class FixedCell(nn.Module):
    """A cell with one operation per chosen edge, as a genotype's gene lists them."""

    def __init__(
        self,
        gene: Sequence[NodeGene],
        concat: Sequence[int],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        *,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.pre0 = preprocess(c_prev_prev, c, reduction_prev, affine=True)
        self.pre1 = preprocess(c_prev, c, False, affine=True)
        self.inputs = [[j for _, j in node] for node in gene]
        self.ops = nn.ModuleList(
            nn.ModuleList(
                build(op, c, 2 if reduction and j < 2 else 1, affine=True) for op, j in node
            )
            for node in gene
        )
        self.concat = list(concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for ops, inputs in zip(self.ops, self.inputs, strict=True):
            edges = zip(cast(nn.ModuleList, ops), inputs, strict=True)
            states.append(_total([op(states[j]) for op, j in edges]))
        return torch.cat([states[i] for i in self.concat], dim=1)


class FixedNetwork(nn.Module):
    """The network a genotype describes, trained from scratch to score it."""

    def __init__(
        self,
        genotype: Genotype,
        *,
        input_channels: int,
        num_classes: int,
        num_layers: int,
        init_channels: int = 16,
        stem_multiplier: int = 3,
    ) -> None:
        super().__init__()
        check_genotype(genotype, num_layers)

        def make_cell(reduction: bool, prev: bool, c_pp: int, c_p: int, c: int) -> Any:
            gene, concat = (
                (genotype.reduce, genotype.reduce_concat)
                if reduction
                else (genotype.normal, genotype.normal_concat)
            )
            cell = FixedCell(gene, concat, c_pp, c_p, c, reduction=reduction, reduction_prev=prev)
            return cell, len(concat)

        self.stem, self.cells, c_p = _cell_stack(
            input_channels, num_layers, init_channels, stem_multiplier, make_cell
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.pool(s1).flatten(1))


def check_genotype(genotype: Genotype, num_layers: int) -> None:
    """A genotype a network of ``num_layers`` cells can be built from (one-line errors)."""
    cells = [("normal", genotype.normal, genotype.normal_concat)]
    if reduction_layers(num_layers):
        cells.append(("reduce", genotype.reduce, genotype.reduce_concat))
    for field, gene, concat in cells:
        if not gene:
            fix = "give it nodes" if field == "normal" else "use --num-layers 1"
            raise GenotypeError(f"the genotype's {field} cell has no nodes: {fix}")
        for i, node in enumerate(gene):
            if not node:
                raise GenotypeError(f"{field}[{i}] has no inputs: give each node at least one")
            for op, j in node:
                if op == NONE:
                    raise GenotypeError(f"{field}[{i}]: 'none' cannot be an edge's operation")
                try:
                    parse_primitive(op)
                except ValueError as exc:
                    raise GenotypeError(f"{field}[{i}]: {exc}") from None
                if not 0 <= j < i + 2:
                    raise GenotypeError(
                        f"{field}[{i}]: input {j} does not exist (node {i} reads states "
                        f"0..{i + 1}: the cell's two inputs, then the earlier nodes)"
                    )
        states = range(2, 2 + len(gene))
        if not concat or any(s not in states for s in concat):
            raise GenotypeError(
                f"{field}_concat {list(concat)} must name nodes among {list(states)}"
            )


_FIELDS = Genotype._fields


def parse_genotype(text: str) -> Genotype:
    """A genotype from its text (``str(genotype)``, with or without spaces, as printed by
    Katib's trial and by this one); literals only, nothing is evaluated."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise GenotypeError(
            f"{text[:60]!r} is not a genotype: pass it as printed, e.g. "
            "Genotype(normal=[[('max_pooling_3x3',0),('skip_connection',1)]],"
            "normal_concat=range(2,3),reduce=[],reduce_concat=range(2,3))"
        ) from None
    if not (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id == "Genotype"
        and not tree.args
    ):
        raise GenotypeError("a genotype is written Genotype(normal=..., normal_concat=..., ...)")
    given = {kw.arg: kw.value for kw in tree.keywords}
    missing = [f for f in _FIELDS if f not in given]
    extra = [f for f in given if f not in _FIELDS]
    if missing or extra:
        raise GenotypeError(
            f"a genotype has the fields {', '.join(_FIELDS)}"
            + (f"; missing: {', '.join(map(str, missing))}" if missing else "")
            + (f"; unknown: {', '.join(map(str, extra))}" if extra else "")
        )
    values: dict[str, Any] = {}
    for field in _FIELDS:
        node = given[field]
        values[field] = _concat(node, field) if field.endswith("_concat") else _gene(node, field)
    return Genotype(**values)


def _concat(node: ast.expr, field: str) -> Sequence[int]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        bounds = [_literal(a, field) for a in node.args]
        if len(bounds) in (1, 2) and all(type(b) is int for b in bounds):
            return range(*bounds)
    else:
        value = _literal(node, field)
        if isinstance(value, list | tuple) and all(type(v) is int for v in value):
            return list(value)
    raise GenotypeError(f"{field} must be range(a, b) or a list of node numbers")


def _gene(node: ast.expr, field: str) -> list[NodeGene]:
    value = _literal(node, field)
    ok = isinstance(value, list) and all(
        isinstance(n, list | tuple)
        and all(
            isinstance(e, list | tuple)
            and len(e) == 2
            and isinstance(e[0], str)
            and type(e[1]) is int
            for e in n
        )
        for n in value
    )
    if not ok:
        raise GenotypeError(
            f"{field} must be a list of nodes, each a list of (operation, input) pairs, "
            "e.g. [[('max_pooling_3x3', 0), ('skip_connection', 1)]]"
        )
    return [[(str(op), int(j)) for op, j in n] for n in value]


def _literal(node: ast.expr, field: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise GenotypeError(f"{field} must be written with literals only") from None


def random_genotype(
    primitives: Sequence[str], *, num_nodes: int, num_layers: int, seed: int = 0
) -> Genotype:
    """A genotype drawn uniformly from the search's space (seeded): per node, two distinct
    inputs, each with an operation; a reduction cell only when the network has one, as the
    search derives."""
    choices = [p for p in primitives if p != NONE]
    if not choices:
        raise GenotypeError("the search space has no operation to draw")
    rng = random.Random(seed)

    def cell() -> list[NodeGene]:
        return [
            [(rng.choice(choices), j) for j in sorted(rng.sample(range(i + 2), 2))]
            for i in range(num_nodes)
        ]

    normal = cell()
    reduce = cell() if reduction_layers(num_layers) else []
    concat = range(2, 2 + num_nodes)
    return Genotype(normal=normal, normal_concat=concat, reduce=reduce, reduce_concat=concat)
