"""The ENAS child network: Katib's ``architecture``/``nn_config`` read, checked, planned, built.

Katib's ENAS suggestion gives every trial two JSON strings (with ``"`` swapped for ``'``):

* ``architecture``: one row per layer; row ``l`` (1-based) is ``[op, s_0, ..., s_{l-2}]``: the
  operation, by its key in ``nn_config["embedding"]``, then one skip bit per earlier layer
  *before* the previous one (``s_i`` connects layer ``i``, layer 0 being the input).  The
  previous layer is always an input.
* ``nn_config``: ``num_layers``, ``input_sizes`` (height, width, channels), ``output_sizes``
  (the last is the number of classes) and ``embedding``: ``{"<op>": {"opt_id": op,
  "opt_type": "convolution", "opt_params": {"filter_size": "3", ...}}}``.

The network is the one Katib's trial image (``ModelConstructor.py``, ``op_library.py``) builds:
a layer concatenates its inputs on the channels (zero-padding smaller ones to the largest height
and width, the odd pixel at the bottom/right), then applies its operation -- ``convolution``
(ReLU, convolution with TensorFlow's "same" padding, batch norm), ``separable_convolution``
(ReLU, depthwise then pointwise convolution, batch norm), ``depthwise_convolution`` (ReLU,
depthwise convolution, batch norm) or ``reduction`` (max or average pooling, "valid" padding,
stride the pool size unless given; the identity when height or width is already 1) -- and the
last layer is followed by global average pooling and a dense layer (softmax in the loss).

Two differences, both in docs/nas.md: the operation's parameters are read from ``opt_params``
(Katib's image looks for them one level up, where the suggestion never writes them, so it builds
every operation with its defaults); and a pool larger than its input shrinks to the input
(Katib's image fails).  Nothing here imports torch until :func:`build` runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunery.errors import UserInputError
from tunery.nas import import_torch

if TYPE_CHECKING:
    from torch import nn

#: The operations the child network builds, with each parameter's default (Katib's op_library).
OPERATIONS: dict[str, dict[str, int | str | None]] = {
    "convolution": {"num_filter": 64, "filter_size": 3, "stride": 1},
    "separable_convolution": {
        "num_filter": 64,
        "filter_size": 3,
        "stride": 1,
        "depth_multiplier": 1,
    },
    "depthwise_convolution": {"filter_size": 3, "stride": 1, "depth_multiplier": 1},
    "reduction": {"reduction_type": "max_pooling", "pool_size": 2, "stride": None},
}
REDUCTION_TYPES = ("max_pooling", "avg_pooling")
#: The largest channel count, kernel, stride or layer count accepted (a typo guard).
MAX_INT = 1 << 16

Shape = tuple[int, int, int]  # channels, height, width


class ArchitectureError(UserInputError):
    """A bad ``--architecture`` or ``--nn_config`` (exit code 2, one line)."""


@dataclass(frozen=True)
class Operation:
    """One embedding entry: its key, type and parameters (defaults filled, integers parsed)."""

    key: int
    kind: str
    params: Mapping[str, int | str | None]

    def describe(self) -> str:
        p = self.params
        if self.kind == "reduction":
            stride = f", stride {p['stride']}" if p["stride"] is not None else ""
            return f"{p['reduction_type']} {p['pool_size']}x{p['pool_size']}{stride}"
        text = f"{self.kind} {p['filter_size']}x{p['filter_size']}"
        if "num_filter" in p:
            text += f", {p['num_filter']} filters"
        if "depth_multiplier" in p:
            text += f", depth multiplier {p['depth_multiplier']}"
        return f"{text}, stride {p['stride']}"


@dataclass(frozen=True)
class Layer:
    """Layer ``index`` (1-based): its operation, inputs (0 is the image) and shapes."""

    index: int
    operation: Operation
    inputs: tuple[int, ...]
    in_shape: Shape
    out_shape: Shape
    #: the pool window actually used (a reduction's pool shrunk to its input); else None
    pool: int | None = None
    identity: bool = False


@dataclass(frozen=True)
class ChildPlan:
    """The whole child network, checked and with every shape known."""

    input_shape: Shape
    num_classes: int
    layers: tuple[Layer, ...]
    warnings: tuple[str, ...] = field(default=())

    def describe(self) -> list[str]:
        """One line per layer, for the trial's log (no ``=``, so no collector reads a metric)."""
        c, h, w = self.input_shape
        lines = [f"layer 0: input {c}x{h}x{w}"]
        for layer in self.layers:
            sources = ", ".join(str(i) for i in layer.inputs)
            op = "identity (input already 1 pixel high or wide)" if layer.identity else None
            text = op or layer.operation.describe()
            if layer.pool is not None and layer.pool != layer.operation.params["pool_size"]:
                text += f" (pool shrunk to {layer.pool}x{layer.pool}, the input's size)"
            c, h, w = layer.out_shape
            lines.append(
                f"layer {layer.index}: operation {layer.operation.key}, {text}; "
                f"from layers {sources}; output {c}x{h}x{w}"
            )
        c = self.layers[-1].out_shape[0] if self.layers else self.input_shape[0]
        lines.append(f"classifier: global average pooling, dense {c} -> {self.num_classes}")
        return lines


# ------------------------------------------------------------------------------------ parsing


def _decode(flag: str, text: str) -> Any:
    """Katib's value: JSON with ``'`` for ``"``, maybe still wrapped in the quotes of its
    command line (``--architecture="[[1]]"`` run without a shell)."""
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    if not value:
        raise ArchitectureError(
            f"{flag}: is empty",
            "give the value Katib's enas algorithm assigns (the trial parameter that "
            f"references {flag.lstrip('-')})",
        )
    try:
        return json.loads(value.replace("'", '"'))
    except json.JSONDecodeError as exc:
        raise ArchitectureError(
            f"{flag}: not JSON ({exc.msg} at character {exc.pos}): {value!r}",
            "pass the value Katib's enas algorithm assigns, quoted for the shell",
        ) from None


def parse_architecture(text: str) -> list[list[int]]:
    """The rows of ``architecture``, each a list of integers (checked, not yet against a config)."""
    rows = _decode("--architecture", text)
    example = "e.g. [[0], [1, 0], [2, 1, 0]]: one row per layer, its operation then skip bits"
    if not isinstance(rows, list) or not rows:
        raise ArchitectureError("--architecture: must be a non-empty list of layers", example)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or not all(_is_int(v) for v in row):
            raise ArchitectureError(
                f"--architecture: layer {number} is {row!r}, not a list of integers", example
            )
        if len(row) != number:
            raise ArchitectureError(
                f"--architecture: layer {number} has {len(row)} values; it needs {number} "
                f"(its operation and {number - 1} skip bits)",
                example,
            )
        if any(v not in (0, 1) for v in row[1:]):
            raise ArchitectureError(
                f"--architecture: layer {number}'s skip bits {row[1:]} must be 0 or 1", example
            )
    return rows


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_ints(where: str, value: object, length: int | None) -> list[int]:
    count = f"{length} " if length else ""
    if (
        not isinstance(value, list)
        or not value
        or (length is not None and len(value) != length)
        or not all(_is_int(v) and 0 < v <= MAX_INT for v in value)
    ):
        raise ArchitectureError(
            f"--nn_config: {where} must be a list of {count}positive integers, got {value!r}",
            "it comes from nasConfig.graphConfig (inputSizes: [height, width, channels])",
        )
    return list(value)


def _parameter(where: str, name: str, value: object) -> int | str | None:
    if name == "reduction_type":
        if value not in REDUCTION_TYPES:
            raise ArchitectureError(
                f"--nn_config: {where}.{name} is {value!r}",
                f"use {' or '.join(REDUCTION_TYPES)}",
            )
        return str(value)
    number: int | None = None
    if _is_int(value) or (isinstance(value, float) and value.is_integer()):
        number = int(value)  # type: ignore[call-overload]
    elif isinstance(value, str) and value.strip().lstrip("+").isdigit():
        number = int(value)
    if number is None or not 0 < number <= MAX_INT:
        raise ArchitectureError(
            f"--nn_config: {where}.{name} must be a positive integer, got {value!r}",
            "fix the operation's feasibleSpace in nasConfig.operations",
        )
    return number


def _operation(key: int, entry: object) -> tuple[Operation, list[str]]:
    where = f'embedding["{key}"]'
    if not isinstance(entry, dict):
        raise ArchitectureError(f"--nn_config: {where} must be an object, got {entry!r}")
    kind = entry.get("opt_type")
    if kind not in OPERATIONS:
        raise ArchitectureError(
            f"--nn_config: {where}.opt_type is {kind!r}, not an operation of the ENAS child "
            "network",
            f"use {', '.join(OPERATIONS)} in nasConfig.operations",
        )
    given = entry.get("opt_params", {})
    if not isinstance(given, dict):
        raise ArchitectureError(f"--nn_config: {where}.opt_params must be an object")
    # Katib's op_library reads parameters at the entry's top level; the suggestion writes
    # them under opt_params: both are read, opt_params first.
    top = {k: v for k, v in entry.items() if k not in ("opt_id", "opt_type", "opt_params")}
    merged = {**top, **given}
    defaults = OPERATIONS[kind]
    params: dict[str, int | str | None] = dict(defaults)
    for name, value in merged.items():
        if name in defaults:
            params[name] = _parameter(f"{where}.opt_params", name, value)
    unknown = sorted(set(merged) - set(defaults))
    warnings = []
    if unknown:
        warnings.append(
            f"--nn_config: {where} ({kind}) ignores parameter(s) {', '.join(unknown)}; it "
            f"reads {', '.join(defaults)}"
        )
    return Operation(key, str(kind), params), warnings


def plan(architecture: str | list[list[int]], nn_config: str | Mapping[str, Any]) -> ChildPlan:
    """The child network of an ``architecture`` and ``nn_config`` (strings as Katib gives them,
    or already decoded), every shape computed; :class:`ArchitectureError` when they are bad."""
    rows = parse_architecture(architecture) if isinstance(architecture, str) else architecture
    config = _decode("--nn_config", nn_config) if isinstance(nn_config, str) else nn_config
    if not isinstance(config, Mapping):
        raise ArchitectureError(
            "--nn_config: must be an object with num_layers, input_sizes, output_sizes and "
            "embedding"
        )
    missing = [
        k for k in ("num_layers", "input_sizes", "output_sizes", "embedding") if k not in config
    ]
    if missing:
        raise ArchitectureError(
            f"--nn_config: lacks {', '.join(missing)}",
            "pass the nn_config Katib's enas algorithm assigns",
        )
    num_layers = config["num_layers"]
    if not _is_int(num_layers) or not 0 < num_layers <= MAX_INT:
        raise ArchitectureError(
            f"--nn_config: num_layers must be a positive integer, got {num_layers!r}"
        )
    if len(rows) != num_layers:
        raise ArchitectureError(
            f"--architecture: has {len(rows)} layers but nn_config's num_layers is {num_layers}",
            "pass the architecture and nn_config of the same trial",
        )
    height, width, channels = _positive_ints("input_sizes", config["input_sizes"], 3)
    num_classes = _positive_ints("output_sizes", config["output_sizes"], None)[-1]
    embedding = config["embedding"]
    if not isinstance(embedding, Mapping) or not embedding:
        raise ArchitectureError("--nn_config: embedding must be a non-empty object")
    operations: dict[int, Operation] = {}
    warnings: list[str] = []
    for raw_key, entry in embedding.items():
        key = str(raw_key).strip()
        if not key.lstrip("-").isdigit():
            raise ArchitectureError(f'--nn_config: embedding key "{raw_key}" is not an integer')
        operation, said = _operation(int(key), entry)
        operations[int(key)] = operation
        warnings.extend(said)
    shapes: list[Shape] = [(channels, height, width)]
    layers: list[Layer] = []
    for index, row in enumerate(rows, start=1):
        if row[0] not in operations:
            known = ", ".join(str(k) for k in sorted(operations))
            raise ArchitectureError(
                f"--architecture: layer {index}'s operation {row[0]} is not in nn_config's "
                f"embedding (it has {known})",
                "pass the architecture and nn_config of the same trial",
            )
        inputs = (index - 1, *(i for i, bit in enumerate(row[1:]) if bit == 1))
        layer = _layer(index, operations[row[0]], inputs, [shapes[i] for i in inputs])
        shapes.append(layer.out_shape)
        layers.append(layer)
    return ChildPlan((channels, height, width), num_classes, tuple(layers), tuple(warnings))


def _same(size: int, stride: int) -> int:
    return math.ceil(size / stride)


def _layer(index: int, operation: Operation, inputs: tuple[int, ...], shapes: list[Shape]) -> Layer:
    height = max(s[1] for s in shapes)
    width = max(s[2] for s in shapes)
    channels = sum(s[0] for s in shapes)
    in_shape = (channels, height, width)
    p = operation.params
    if operation.kind == "reduction":
        if height == 1 or width == 1:
            return Layer(index, operation, inputs, in_shape, in_shape, identity=True)
        pool = min(int(p["pool_size"] or 2), height, width)
        stride = int(p["stride"]) if p["stride"] is not None else pool
        out = (channels, (height - pool) // stride + 1, (width - pool) // stride + 1)
        return Layer(index, operation, inputs, in_shape, out, pool=pool)
    stride = int(p["stride"] or 1)
    if operation.kind == "depthwise_convolution":
        out_channels = channels * int(p["depth_multiplier"] or 1)
    else:
        out_channels = int(p["num_filter"] or 64)
    out = (out_channels, _same(height, stride), _same(width, stride))
    return Layer(index, operation, inputs, in_shape, out)


# ------------------------------------------------------------------------------------ building


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one dimension: (before, after), the odd pixel after."""
    total = max((_same(size, stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _concat_padding(shape: Shape, height: int, width: int) -> tuple[int, int, int, int]:
    """Keras's ZeroPadding2D in Katib's concat: (left, right, top, bottom), odd pixel after."""
    dh, dw = height - shape[1], width - shape[2]
    return dw // 2, dw - dw // 2, dh // 2, dh - dh // 2


def build(child: ChildPlan) -> nn.Module:
    """The PyTorch module of ``child`` (Keras's initialisation: Glorot-uniform, zero biases)."""
    torch = import_torch()
    nn_ = torch.nn
    functional = nn_.functional

    def batch_norm(channels: int) -> Any:
        return nn_.BatchNorm2d(channels, eps=1e-3)

    class SameConv(nn_.Module):  # type: ignore[name-defined]
        """ReLU, then the convolution(s) with "same" padding, then batch norm."""

        def __init__(self, layer: Layer) -> None:
            super().__init__()
            channels, height, width = layer.in_shape
            p = layer.operation.params
            kernel, stride = int(p["filter_size"] or 3), int(p["stride"] or 1)
            ph, pw = _same_padding(height, kernel, stride), _same_padding(width, kernel, stride)
            self.padding = (pw[0], pw[1], ph[0], ph[1])
            out = layer.out_shape[0]
            if layer.operation.kind == "convolution":
                self.convs = nn_.Sequential(nn_.Conv2d(channels, out, kernel, stride))
            elif layer.operation.kind == "depthwise_convolution":
                self.convs = nn_.Sequential(
                    nn_.Conv2d(channels, out, kernel, stride, groups=channels)
                )
            else:  # separable: depthwise (no bias, as Keras) then pointwise
                middle = channels * int(p["depth_multiplier"] or 1)
                self.convs = nn_.Sequential(
                    nn_.Conv2d(channels, middle, kernel, stride, groups=channels, bias=False),
                    nn_.Conv2d(middle, out, 1),
                )
            self.norm = batch_norm(out)

        def forward(self, x: Any) -> Any:
            return self.norm(self.convs(functional.pad(functional.relu(x), self.padding)))

    class Pool(nn_.Module):  # type: ignore[name-defined]
        def __init__(self, layer: Layer) -> None:
            super().__init__()
            p = layer.operation.params
            self.identity = layer.identity
            pool = layer.pool or 1
            stride = int(p["stride"]) if p["stride"] is not None else pool
            kind = nn_.MaxPool2d if p["reduction_type"] == "max_pooling" else nn_.AvgPool2d
            self.pool = kind(pool, stride)

        def forward(self, x: Any) -> Any:
            return x if self.identity else self.pool(x)

    class ChildNet(nn_.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.plan = child
            self.ops = nn_.ModuleList(
                Pool(layer) if layer.operation.kind == "reduction" else SameConv(layer)
                for layer in child.layers
            )
            shapes = [child.input_shape, *(layer.out_shape for layer in child.layers)]
            self.paddings = [
                [
                    _concat_padding(shapes[i], layer.in_shape[1], layer.in_shape[2])
                    for i in layer.inputs
                ]
                for layer in child.layers
            ]
            last = shapes[-1][0]
            self.classifier = nn_.Linear(last, child.num_classes)
            for module in self.modules():
                if isinstance(module, nn_.Conv2d | nn_.Linear):
                    nn_.init.xavier_uniform_(module.weight)
                    if module.bias is not None:
                        nn_.init.zeros_(module.bias)

        def forward(self, x: Any) -> Any:
            outputs = [x]
            for layer, op, paddings in zip(child.layers, self.ops, self.paddings, strict=True):
                parts = [
                    functional.pad(outputs[i], pad) if any(pad) else outputs[i]
                    for i, pad in zip(layer.inputs, paddings, strict=True)
                ]
                outputs.append(op(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)))
            return self.classifier(outputs[-1].mean(dim=(2, 3)))

    return ChildNet()
