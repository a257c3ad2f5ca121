"""Readable architectures: Katib's ENAS ``architecture``/``nn_config`` and DARTS genotypes.

Pure Python (no torch): the CLI and the UI use it to show what a NAS trial built.

**ENAS** (Katib's ``pkg/suggestion/v1beta1/nas/enas/service.py`` and its trial's
``ModelConstructor.py``): ``architecture`` is a JSON list of ``numLayers`` lists with the double
quotes swapped for single ones, e.g. ``[[27], [29, 0], [22, 1, 0]]``.  Row ``i`` (0-based)
describes layer ``i + 1`` (layer 0 is the input): its first integer is the operation's id,
then ``i`` bits, bit ``k`` saying whether layer ``k`` (0: the input) feeds it through a skip
connection besides the previous layer, which always does.  ``nn_config`` (JSON, quotes swapped
the same way) holds ``num_layers``, ``input_sizes``, ``output_sizes`` and ``embedding``: per
operation id, ``{"opt_id", "opt_type", "opt_params"}``.  :func:`parse_enas` reads both (either
quote style); :meth:`EnasArchitecture.lines` gives one line per layer, e.g.
``3: convolution 7x7, 48 filters, stride 2 ← skip from input``.

**DARTS** (Katib's ``darts-cnn-cifar10`` trial prints ``Best-Genotype=Genotype(...)`` with
the blanks removed): ``Genotype(normal=[[('sep_conv_3x3', 0), ('skip_connect', 1)], ...],
normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))``.  Each item of
``normal``/``reduce`` is an intermediate node (numbered from 2) with its incoming edges
``(operation, from)``; node 0 is the cell's input ``c[k-2]``, node 1 ``c[k-1]``; the cell's
output concatenates the ``*_concat`` nodes.  :func:`parse_genotype` reads it as a syntax tree
(nothing is evaluated); :meth:`Genotype.lines` gives one line per node.

Malformed text raises :class:`ArchitectureError` (a ``ValueError``) saying what is wrong;
:func:`trial_architecture` finds a trial's architecture, or None, and never raises.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ArchitectureError",
    "DartsCell",
    "EnasArchitecture",
    "EnasLayer",
    "Genotype",
    "elide",
    "parse_enas",
    "parse_genotype",
    "trial_architecture",
]

#: The longest text parsed (a genotype of many nodes is a few KB; ENAS's nn_config grows with
#: the operations used).
MAX_TEXT = 1 << 20
#: ENAS's Katib assignment names.
ARCHITECTURE = "architecture"
NN_CONFIG = "nn_config"


class ArchitectureError(ValueError):
    """A Katib architecture or genotype string that cannot be read; the message says why."""


def elide(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``…`` when longer."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    return flat[: max(0, width - 1)] + "…"


def _loads(text: str, what: str) -> Any:
    """Katib's JSON with the quotes swapped (or plain JSON)."""
    if not isinstance(text, str):
        raise ArchitectureError(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ArchitectureError(f"{what} is longer than {MAX_TEXT} characters")
    for candidate in (text, text.replace("'", '"')):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise ArchitectureError(f"{what} is not JSON (with Katib's single quotes or double ones)")


# --------------------------------------------------------------------------- ENAS


def _size(value: Any) -> str:
    return str(value).strip()


def describe_operation(op_type: str | None, params: Mapping[str, Any]) -> str:
    """One operation of Katib's ENAS search space in words: ``convolution 3x3, 32 filters``,
    ``separable_convolution 5x5, 64 filters, depth multiplier 2, stride 2``,
    ``max_pooling 2x2``."""
    p = {str(k): _size(v) for k, v in params.items()}
    if op_type in ("convolution", "separable_convolution", "depthwise_convolution"):
        head = op_type
        if "filter_size" in p:
            head += f" {p['filter_size']}x{p['filter_size']}"
        parts = [head]
        if "num_filter" in p:
            parts.append(f"{p['num_filter']} filters")
        if "depth_multiplier" in p:
            parts.append(f"depth multiplier {p['depth_multiplier']}")
        if p.get("stride", "1") != "1":
            parts.append(f"stride {p['stride']}")
        known = {"filter_size", "num_filter", "depth_multiplier", "stride"}
        parts += [f"{k}={v}" for k, v in p.items() if k not in known]
        return ", ".join(parts)
    if op_type == "reduction":
        kind = p.get("reduction_type", "pooling")
        size = p.get("pool_size")
        rest = [f"{k}={v}" for k, v in p.items() if k not in ("reduction_type", "pool_size")]
        return " ".join([kind, *([f"{size}x{size}"] if size else []), *rest])
    name = op_type or "operation"
    return " ".join([name, *(f"{k}={v}" for k, v in p.items())])


@dataclass(frozen=True)
class EnasLayer:
    """One layer of an ENAS architecture (``index`` from 1; layer 0 is the input)."""

    index: int
    op_id: int
    #: ``nn_config``'s ``opt_type`` of the operation (None without an nn_config entry).
    op_type: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    #: The earlier layers (0: the input) feeding it through skip connections.
    skips: tuple[int, ...] = ()

    @property
    def operation(self) -> str:
        if self.op_type is None:
            return f"operation {self.op_id}"
        return describe_operation(self.op_type, self.params)

    def line(self) -> str:
        text = f"{self.index}: {self.operation}"
        if self.skips:
            sources = ", ".join("input" if k == 0 else str(k) for k in self.skips)
            text += f" ← skip from {sources}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.index,
            "opId": self.op_id,
            "opType": self.op_type,
            "params": dict(self.params),
            "skips": list(self.skips),
            "text": self.line(),
        }


@dataclass(frozen=True)
class EnasArchitecture:
    """An ENAS architecture, its layers in order, with what ``nn_config`` tells of it."""

    layers: tuple[EnasLayer, ...]
    input_sizes: tuple[Any, ...] | None = None
    output_sizes: tuple[Any, ...] | None = None

    kind = "enas"

    def lines(self) -> list[str]:
        """``input 32x32x3``, one line per layer, ``output 10`` (sizes when known)."""
        out = []
        if self.input_sizes:
            out.append("input " + "x".join(str(s) for s in self.input_sizes))
        out += [layer.line() for layer in self.layers]
        if self.output_sizes:
            out.append("output " + "x".join(str(s) for s in self.output_sizes))
        return out

    def summary(self) -> str:
        """The layers on one line: ``1: convolution 3x3, 32 filters; 2: max_pooling 2x2 ← …``."""
        return "; ".join(layer.line() for layer in self.layers)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lines": self.lines(),
            "summary": self.summary(),
            "inputSizes": None if self.input_sizes is None else list(self.input_sizes),
            "outputSizes": None if self.output_sizes is None else list(self.output_sizes),
            "layers": [layer.to_json() for layer in self.layers],
        }


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArchitectureError(f"{what} must be an integer, not {value!r}")
    return value


def parse_enas(architecture: str, nn_config: str | None = None) -> EnasArchitecture:
    """Katib's ENAS ``architecture`` (and, when given, ``nn_config``) as layers."""
    rows = _loads(architecture, ARCHITECTURE)
    if not isinstance(rows, list) or not rows:
        raise ArchitectureError("architecture must be a non-empty list of layers")
    config: Mapping[str, Any] = {}
    if nn_config is not None:
        loaded = _loads(nn_config, NN_CONFIG)
        if not isinstance(loaded, dict):
            raise ArchitectureError("nn_config must be a JSON object")
        config = loaded
    embedding = config.get("embedding")
    if not isinstance(embedding, Mapping):
        embedding = {}
    layers = []
    for i, row in enumerate(rows):
        where = f"architecture[{i}]"
        if not isinstance(row, list) or not row:
            raise ArchitectureError(f"{where} must be a list: the operation id, then skip bits")
        op_id = _int(row[0], f"{where}[0] (the operation id)")
        bits = [_int(b, f"{where}[{k + 1}]") for k, b in enumerate(row[1:])]
        if len(bits) != i:
            raise ArchitectureError(
                f"{where} has {len(bits)} skip bits; layer {i + 1} has {i} (one per earlier "
                "layer but the previous)"
            )
        if any(b not in (0, 1) for b in bits):
            raise ArchitectureError(f"{where}: skip bits are 0 or 1, not {bits}")
        entry = embedding.get(str(op_id))
        op_type: str | None = None
        params: Mapping[str, Any] = {}
        if isinstance(entry, Mapping):
            op_type = str(entry.get("opt_type")) if entry.get("opt_type") is not None else None
            raw = entry.get("opt_params")
            params = dict(raw) if isinstance(raw, Mapping) else {}
        skips = tuple(k for k, b in enumerate(bits) if b == 1)
        layers.append(EnasLayer(i + 1, op_id, op_type, params, skips))
    num_layers = config.get("num_layers")
    if isinstance(num_layers, int) and num_layers != len(layers):
        raise ArchitectureError(
            f"nn_config says num_layers {num_layers}, the architecture has {len(layers)} layers"
        )

    def sizes(key: str) -> tuple[Any, ...] | None:
        value = config.get(key)
        return tuple(value) if isinstance(value, list) else None

    return EnasArchitecture(tuple(layers), sizes("input_sizes"), sizes("output_sizes"))


# --------------------------------------------------------------------------- DARTS


def node_name(index: int) -> str:
    """A DARTS cell's node: ``c[k-2]`` and ``c[k-1]`` (the inputs), then ``node N``."""
    if index == 0:
        return "c[k-2]"
    if index == 1:
        return "c[k-1]"
    return f"node {index}"


@dataclass(frozen=True)
class DartsCell:
    """One cell of a genotype: each intermediate node's incoming edges ``(operation,
    from)``, nodes numbered from 2; ``concat``: the nodes the cell's output joins."""

    kind: str
    nodes: tuple[tuple[tuple[str, int], ...], ...]
    concat: tuple[int, ...]

    def lines(self) -> list[str]:
        joined = ", ".join(str(n) for n in self.concat)
        out = [f"{self.kind} cell (output: concat of nodes {joined})"]
        for i, edges in enumerate(self.nodes):
            sources = ", ".join(f"{op} from {node_name(src)}" for op, src in edges)
            out.append(f"  node {i + 2} ← {sources}")
        return out

    def summary(self) -> str:
        nodes = " ".join(
            f"{i + 2}←" + ",".join(f"{op}({src})" for op, src in edges)
            for i, edges in enumerate(self.nodes)
        )
        return f"{self.kind}: {nodes}"

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [[{"op": op, "from": src} for op, src in edges] for edges in self.nodes],
            "concat": list(self.concat),
        }


@dataclass(frozen=True)
class Genotype:
    """A DARTS genotype: its normal and reduction cells."""

    normal: DartsCell
    reduce: DartsCell

    kind = "darts"

    def lines(self) -> list[str]:
        return self.normal.lines() + self.reduce.lines()

    def summary(self) -> str:
        return f"{self.normal.summary()} | {self.reduce.summary()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lines": self.lines(),
            "summary": self.summary(),
            "cells": {"normal": self.normal.to_json(), "reduce": self.reduce.to_json()},
        }


def _concat(node: ast.expr, where: str) -> tuple[int, ...]:
    """``range(2, 6)`` or a literal list of node indexes."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        try:
            args = [ast.literal_eval(a) for a in node.args]
        except ValueError:
            args = []
        if 1 <= len(args) <= 3 and all(type(a) is int for a in args) and not node.keywords:
            if len(args) == 3 and args[2] == 0:
                raise ArchitectureError(f"{where}: range() step must not be zero")
            return tuple(range(*args))
        raise ArchitectureError(f"{where}: range() of one to three integers expected")
    try:
        value = ast.literal_eval(node)
    except ValueError:
        value = None
    if isinstance(value, list | tuple) and all(type(v) is int for v in value):
        return tuple(value)
    raise ArchitectureError(f"{where}: range(a, b) or a list of node indexes expected")


def _cell(kind: str, node: ast.expr | None, concat: ast.expr | None) -> DartsCell:
    if node is None:
        raise ArchitectureError(f"the genotype has no {kind}= cell")
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise ArchitectureError(f"{kind}: a list of nodes, each a list of edges expected") from None
    if not isinstance(value, list | tuple):
        raise ArchitectureError(f"{kind}: a list of nodes, each a list of edges expected")
    nodes = []
    for i, edges in enumerate(value):
        if not isinstance(edges, list | tuple):
            raise ArchitectureError(f"{kind}[{i}]: a list of (operation, from) edges expected")
        parsed = []
        for j, edge in enumerate(edges):
            ok = isinstance(edge, list | tuple) and len(edge) == 2
            if not ok or not isinstance(edge[0], str) or type(edge[1]) is not int:
                raise ArchitectureError(
                    f"{kind}[{i}][{j}]: an edge is ('operation', from node), not {edge!r}"
                )
            if not 0 <= edge[1] < i + 2:
                raise ArchitectureError(
                    f"{kind}[{i}][{j}]: node {i + 2} cannot take node {edge[1]} as input "
                    f"(0 to {i + 1})"
                )
            parsed.append((edge[0], edge[1]))
        nodes.append(tuple(parsed))
    joined = _concat(concat, f"{kind}_concat") if concat is not None else ()
    return DartsCell(kind, tuple(nodes), joined)


def parse_genotype(text: str) -> Genotype:
    """A DARTS ``Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...)``
    string (blanks anywhere, or none, as Katib's trial prints it).  Read as a syntax tree;
    only literals and ``range`` are accepted."""
    if not isinstance(text, str):
        raise ArchitectureError(f"a genotype must be a string, not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ArchitectureError(f"the genotype is longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ArchitectureError("the genotype is not Genotype(normal=..., reduce=...)") from None
    if not (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id == "Genotype"
    ):
        raise ArchitectureError("the genotype is not Genotype(normal=..., reduce=...)")
    fields = ("normal", "normal_concat", "reduce", "reduce_concat")
    given: dict[str, ast.expr] = {}
    for i, arg in enumerate(tree.args):  # a namedtuple's positional form
        if i >= len(fields):
            raise ArchitectureError("Genotype takes four fields: normal, normal_concat, ...")
        given[fields[i]] = arg
    for kw in tree.keywords:
        if kw.arg not in fields:
            raise ArchitectureError(f"Genotype has no field {kw.arg!r} (fields: {fields})")
        given[kw.arg] = kw.value
    return Genotype(
        _cell("normal", given.get("normal"), given.get("normal_concat")),
        _cell("reduce", given.get("reduce"), given.get("reduce_concat")),
    )


# --------------------------------------------------------------------------- a trial's


def trial_architecture(
    parameters: Mapping[str, Any], texts: Sequence[str | None] = ()
) -> EnasArchitecture | Genotype | None:
    """What a trial built, readable: its ENAS ``architecture`` (with ``nn_config``) among
    its parameters, else a genotype among ``texts`` (its string objective and metrics) or
    its parameters; None when there is none or it cannot be read."""
    arc = parameters.get(ARCHITECTURE)
    if isinstance(arc, str):
        config = parameters.get(NN_CONFIG)
        try:
            return parse_enas(arc, config if isinstance(config, str) else None)
        except ArchitectureError:
            pass
    candidates = [t for t in texts if isinstance(t, str)]
    candidates += [v for v in parameters.values() if isinstance(v, str)]
    for text in candidates:
        if text.lstrip().startswith("Genotype("):
            try:
                return parse_genotype(text)
            except ArchitectureError:
                continue
    return None
