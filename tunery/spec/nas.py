"""Katib's neural architecture search config: ``spec.nasConfig`` read, validated, written.

Katib checks a NAS experiment in three places, all followed here:

- its webhook: ``spec.parameters`` or ``spec.nasConfig``, not both;
- ``pkg/suggestion/v1beta1/nas/common/validation.py`` (both services): every operation has an
  ``operationType`` and parameters; every parameter a name and a type; categorical/discrete a
  ``feasibleSpace.list``; int/double a min or a max; double a step above zero;
- the services' settings: ENAS needs ``graphConfig.inputSizes``, ``outputSizes`` and
  ``numLayers`` and knows ten ``controller_*`` settings (each with a type, a default and a
  range; ``"None"`` allowed for four; any other name refused); DARTS checks the settings of
  its trainer it knows and passes every other setting through to the trial.

Added, because Katib fails later (in its services or trials) or computes nonsense: a NAS
experiment needs ``enas`` or ``darts`` (and they need ``nasConfig``); sizes and ``numLayers``
are positive; min/max/step are numbers (integers for int) with ``min <= max``; operation
parameter names are unique per operation; DARTS needs ``numLayers`` and reads its filter
sizes from each operation's first parameter, so that one needs a list.  ``skip_connection``
may have no parameters: Katib's own ``darts-gpu.yaml`` writes it so.

Katib's defaults are not written into the document (Katib keeps them in its services too):
:func:`enas_settings` and :func:`darts_settings` give the effective settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from tunery.errors import SpecError
from tunery.model import (
    NAS_ALGORITHMS,
    AlgorithmSetting,
    ExperimentSpec,
    GraphConfig,
    NasConfig,
    NasOperation,
    ParameterSpec,
    ParameterType,
)
from tunery.spec.katib import _int, _known, _list, _mapping, _read_parameters, _str

PATH = "spec.nasConfig"
_SETTINGS = "spec.algorithm.algorithmSettings"

#: ENAS's settings (Katib's ``AlgorithmSettings.py``): type, default, lower bound, upper bound
#: (None: unbounded).  A float must lie in (lower, upper], an int at or above lower.
ENAS_SETTINGS: dict[str, tuple[type, int | float, float, float | None]] = {
    "controller_hidden_size": (int, 64, 1, None),
    "controller_temperature": (float, 5.0, 0.0, None),
    "controller_tanh_const": (float, 2.25, 0.0, None),
    "controller_entropy_weight": (float, 1e-5, 0.0, None),
    "controller_baseline_decay": (float, 0.999, 0.0, 1.0),
    "controller_learning_rate": (float, 5e-5, 0.0, 1.0),
    "controller_skip_target": (float, 0.4, 0.0, 1.0),
    "controller_skip_weight": (float, 0.8, 0.0, None),
    "controller_train_steps": (int, 50, 1, None),
    "controller_log_every_steps": (int, 10, 1, None),
}
#: The ENAS settings that may be ``"None"`` (the term is then left out).
ENAS_NONE_ALLOWED = (
    "controller_temperature",
    "controller_tanh_const",
    "controller_entropy_weight",
    "controller_skip_weight",
)

#: DARTS's settings and defaults (Katib's ``darts/service.py``), as strings or None.
DARTS_DEFAULTS: dict[str, str] = {
    "num_epochs": "50",
    "w_lr": "0.025",
    "w_lr_min": "0.001",
    "w_momentum": "0.9",
    "w_weight_decay": "3e-4",
    "w_grad_clip": "5.0",
    "alpha_lr": "3e-4",
    "alpha_weight_decay": "1e-3",
    "batch_size": "128",
    "num_workers": "4",
    "init_channels": "16",
    "print_step": "50",
    "num_nodes": "4",
    "stem_multiplier": "3",
}
#: The settings tunery's DARTS trainer (python -m tunery.nas.darts) reads beyond Katib's.
TUNERY_DARTS_SETTINGS = {"unrolled": '"false" takes the first-order architecture step'}
#: The DARTS settings Katib checks: type, lower bound (inclusive), whether "None" is allowed.
_DARTS_CHECKS: dict[str, tuple[type, float, bool]] = {
    "num_epochs": (int, 1, False),
    "w_lr": (float, 0.0, False),
    "w_lr_min": (float, 0.0, False),
    "alpha_lr": (float, 0.0, False),
    "w_weight_decay": (float, 0.0, False),
    "alpha_weight_decay": (float, 0.0, False),
    "w_momentum": (float, 0.0, False),
    "w_grad_clip": (float, 0.0, False),
    "batch_size": (int, 1, True),
    "num_workers": (int, 0, False),
    "init_channels": (int, 1, False),
    "print_step": (int, 1, False),
    "num_nodes": (int, 1, False),
    "stem_multiplier": (int, 1, False),
}

#: The names each algorithm assigns per trial (what trialParameters may reference).
ASSIGNMENTS = {
    "enas": ("architecture", "nn_config"),
    "darts": ("algorithm-settings", "search-space", "num-layers"),
}


# --------------------------------------------------------------------------- reading


def read_nas_config(value: Any) -> NasConfig | None:
    """``spec.nasConfig`` checked for shape (types, unknown fields); None when absent."""
    if value is None:
        return None
    nas = _mapping(value, PATH)
    _known(nas, PATH, ("graphConfig", "operations"))
    gp = f"{PATH}.graphConfig"
    graph = _mapping(nas.get("graphConfig") or {}, gp)
    _known(graph, gp, ("numLayers", "inputSizes", "outputSizes"))
    operations = []
    for i, item in enumerate(_list(nas.get("operations") or [], f"{PATH}.operations")):
        p = f"{PATH}.operations[{i}]"
        entry = _mapping(item, p)
        _known(entry, p, ("operationType", "parameters"))
        params = _read_parameters(entry.get("parameters"), path=f"{p}.parameters")
        operations.append(
            NasOperation(
                operation_type=_str(entry.get("operationType"), f"{p}.operationType") or "",
                parameters=params,
            )
        )
    return NasConfig(
        graph_config=GraphConfig(
            num_layers=_int(graph.get("numLayers"), f"{gp}.numLayers"),
            input_sizes=_sizes(graph.get("inputSizes"), f"{gp}.inputSizes"),
            output_sizes=_sizes(graph.get("outputSizes"), f"{gp}.outputSizes"),
        ),
        operations=tuple(operations),
    )


def _sizes(value: Any, path: str) -> tuple[int, ...]:
    return tuple(_int(v, f"{path}[{i}]") or 0 for i, v in enumerate(_list(value or [], path)))


def write_nas_config(nas: NasConfig) -> dict[str, Any]:
    """The camelCase document of ``nas`` (what :func:`read_nas_config` reads back)."""
    from tunery.spec.katib import parameter_to_document

    graph: dict[str, Any] = {}
    g = nas.graph_config
    if g.num_layers is not None:
        graph["numLayers"] = g.num_layers
    if g.input_sizes:
        graph["inputSizes"] = list(g.input_sizes)
    if g.output_sizes:
        graph["outputSizes"] = list(g.output_sizes)
    operations = []
    for op in nas.operations:
        entry: dict[str, Any] = {"operationType": op.operation_type}
        if op.parameters:
            entry["parameters"] = [parameter_to_document(p) for p in op.parameters]
        operations.append(entry)
    return {"graphConfig": graph, "operations": operations}


# --------------------------------------------------------------------------- validation


def is_nas(spec: ExperimentSpec) -> bool:
    """Whether ``spec`` is a neural architecture search (it has a nasConfig)."""
    return spec.nas_config is not None


def validate_nas(spec: ExperimentSpec) -> None:
    """Katib's checks of a NAS experiment (see the module docstring); nothing for others."""
    name = spec.algorithm.algorithm_name
    nas = spec.nas_config
    if nas is None:
        if name in NAS_ALGORITHMS:
            raise SpecError(
                PATH,
                f"is required by algorithm {name}, which searches architectures, not "
                "spec.parameters",
                "add spec.nasConfig (graphConfig and operations, as in Katib's "
                f"examples/v1beta1/nas/{name}-cpu.yaml), or use another algorithm",
            )
        return
    if spec.parameters:
        raise SpecError(
            "spec",
            "only one of spec.parameters and spec.nasConfig can be specified",
            "remove spec.parameters from a neural architecture search",
        )
    if name not in NAS_ALGORITHMS:
        raise SpecError(
            "spec.algorithm.algorithmName",
            f"algorithm {name} cannot search spec.nasConfig",
            f"use {' or '.join(NAS_ALGORITHMS)} for neural architecture search, or "
            "spec.parameters for hyperparameters",
        )
    if spec.initial_trials:
        raise SpecError(
            "spec.initialTrials",
            f"{name} plans every architecture itself and cannot start from given assignments",
            "remove initialTrials (and the tunery.dev/initial-trials annotation)",
        )
    if name == "enas":
        _check_graph(nas.graph_config)
    elif nas.graph_config.num_layers is None:
        raise SpecError(
            f"{PATH}.graphConfig.numLayers",
            "is required by darts (the trial's --num-layers)",
            "e.g. numLayers: 3",
        )
    else:
        _check_graph(nas.graph_config, sizes=False)
    check_operations(nas.operations, darts=name == "darts")
    if name == "enas":
        enas_settings(spec.algorithm.algorithm_settings)
    else:
        darts_settings(spec.algorithm.algorithm_settings)


def _check_graph(graph: GraphConfig, *, sizes: bool = True) -> None:
    gp = f"{PATH}.graphConfig"
    if sizes:
        for field, values, example in (
            ("inputSizes", graph.input_sizes, "[32, 32, 3]"),
            ("outputSizes", graph.output_sizes, "[10]"),
        ):
            if not values:
                raise SpecError(f"{gp}.{field}", "is required by enas", f"e.g. {field}: {example}")
            for i, size in enumerate(values):
                if size <= 0:
                    raise SpecError(
                        f"{gp}.{field}[{i}]", f"must be positive, not {size}", "e.g. 32"
                    )
    if graph.num_layers is None or graph.num_layers == 0:
        raise SpecError(f"{gp}.numLayers", "is required and must not be 0", "e.g. numLayers: 8")
    if graph.num_layers < 0:
        raise SpecError(
            f"{gp}.numLayers", f"must be positive, not {graph.num_layers}", "e.g. numLayers: 8"
        )


def check_operations(operations: Sequence[NasOperation], *, darts: bool = False) -> None:
    """Katib's ``validate_operations`` and the additions of the module docstring."""
    if not operations:
        raise SpecError(
            f"{PATH}.operations",
            "must list at least one operation",
            "e.g. operations: [{operationType: convolution, parameters: [...]}]",
        )
    for i, op in enumerate(operations):
        p = f"{PATH}.operations[{i}]"
        if not op.operation_type:
            raise SpecError(f"{p}.operationType", "is required", "e.g. operationType: convolution")
        if not op.parameters:
            if op.operation_type == "skip_connection":
                continue
            raise SpecError(
                f"{p}.parameters",
                f"operation {op.operation_type} has no parameters",
                "give at least one, e.g. {name: filter_size, parameterType: categorical, "
                'feasibleSpace: {list: ["3", "5"]}}',
            )
        seen: set[str] = set()
        for j, param in enumerate(op.parameters):
            pp = f"{p}.parameters[{j}]"
            if param.name in seen:
                raise SpecError(
                    f"{pp}.name",
                    f"parameter {param.name!r} appears twice in operation {op.operation_type}",
                    "give each parameter of an operation its own name",
                )
            seen.add(param.name)
            _check_parameter(param, pp)
        first = op.parameters[0]
        if darts and first.parameter_type not in (
            ParameterType.CATEGORICAL,
            ParameterType.DISCRETE,
        ):
            raise SpecError(
                f"{p}.parameters[0]",
                f"darts reads operation {op.operation_type}'s filter sizes from its first "
                f"parameter's feasibleSpace.list, and {first.name} is {first.parameter_type}",
                "make it e.g. {name: filter_size, parameterType: categorical, "
                'feasibleSpace: {list: ["3", "5"]}}',
            )


def _check_parameter(param: ParameterSpec, path: str) -> None:
    fs = param.feasible_space
    fp = f"{path}.feasibleSpace"
    if param.active_when:
        raise SpecError(
            f"{path}.activeWhen", "has no meaning for an operation's parameter", "remove it"
        )
    if param.parameter_type in (ParameterType.CATEGORICAL, ParameterType.DISCRETE):
        if not fs.list:
            raise SpecError(
                f"{fp}.list",
                f"{param.parameter_type} parameter {param.name} needs a list",
                'e.g. list: ["3", "5"]',
            )
        if param.parameter_type is ParameterType.DISCRETE:
            for k, item in enumerate(fs.list):
                _number(item, f"{fp}.list[{k}]", float)
        return
    kind: type = int if param.parameter_type is ParameterType.INT else float
    if fs.min is None and fs.max is None:
        raise SpecError(
            fp,
            f"{param.parameter_type} parameter {param.name} needs min and max",
            'e.g. feasibleSpace: {min: "2", max: "3", step: "1"}',
        )
    low = _number(fs.min, f"{fp}.min", kind) if fs.min is not None else None
    high = _number(fs.max, f"{fp}.max", kind) if fs.max is not None else None
    if low is None or high is None:
        missing = "min" if low is None else "max"
        raise SpecError(
            f"{fp}.{missing}",
            "is required: the operation's values run from min to max by step",
            f"set {missing}",
        )
    if low > high:
        raise SpecError(fp, f"min {fs.min} is above max {fs.max}", "swap min and max")
    if kind is float and fs.step is None:
        raise SpecError(
            f"{fp}.step",
            f"double parameter {param.name} needs a step above 0 (its values are min, "
            "min+step, ... max)",
            'e.g. step: "0.1"',
        )
    if fs.step is not None:
        step = _number(fs.step, f"{fp}.step", kind)
        if step <= 0:
            raise SpecError(f"{fp}.step", f"must be above 0, not {fs.step}", 'e.g. step: "1"')


def _number(text: str | None, path: str, kind: type) -> float:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise SpecError(path, f"must be {what}, not {text!r}", 'e.g. "3"') from None
    if not math.isfinite(value):
        raise SpecError(path, f"must be a finite number, not {text!r}", 'e.g. "3"')
    return float(value)


# --------------------------------------------------------------------------- settings


def _setting_path(settings: Sequence[AlgorithmSetting], index: int) -> str:
    return f"{_SETTINGS}[{index}]"


def enas_settings(settings: Sequence[AlgorithmSetting]) -> dict[str, int | float | None]:
    """ENAS's effective settings: Katib's defaults, overridden by ``settings`` (checked)."""
    out: dict[str, int | float | None] = {n: d for n, (_, d, _, _) in ENAS_SETTINGS.items()}
    for i, s in enumerate(settings):
        path = _setting_path(settings, i)
        if s.name not in ENAS_SETTINGS:
            raise SpecError(
                f"{path}.name",
                f"unknown enas setting {s.name!r}",
                f"enas knows: {', '.join(ENAS_SETTINGS)}",
            )
        kind, _, low, high = ENAS_SETTINGS[s.name]
        if s.value == "None" and s.name in ENAS_NONE_ALLOWED:
            out[s.name] = None
            continue
        value = _setting_number(s, path, kind, none_ok=s.name in ENAS_NONE_ALLOWED)
        if kind is float:
            if value <= low or (high is not None and value > high):
                upper = "inf)" if high is None else f"{high:g}]"
                raise SpecError(
                    f"{path}.value",
                    f"{s.name} must be in ({low:g}, {upper}, not {s.value}",
                    _default_hint(s.name),
                )
        elif value < low:
            raise SpecError(
                f"{path}.value",
                f"{s.name} must be at least {low:g}, not {s.value}",
                _default_hint(s.name),
            )
        out[s.name] = int(value) if kind is int else value
    return out


def _default_hint(name: str) -> str:
    return f"Katib's default is {ENAS_SETTINGS[name][1]:g}"


def _setting_number(s: AlgorithmSetting, path: str, kind: type, *, none_ok: bool) -> float:
    convert: Callable[[str], float] = int if kind is int else float
    try:
        value = float(convert(s.value.strip()))
    except ValueError:
        what = "an integer" if kind is int else "a number"
        extra = ' or "None"' if none_ok else ""
        raise SpecError(
            f"{path}.value", f"{s.name} must be {what}{extra}, not {s.value!r}", 'e.g. "10"'
        ) from None
    if not math.isfinite(value):
        raise SpecError(
            f"{path}.value", f"{s.name} must be a finite number, not {s.value!r}", 'e.g. "10"'
        )
    return value


def darts_settings(settings: Sequence[AlgorithmSetting]) -> dict[str, str | None]:
    """DARTS's settings as Katib passes them to the trial: its defaults, then ``settings``
    (the ones Katib knows checked, the others passed through), ``"None"`` as None."""
    out: dict[str, str | None] = dict(DARTS_DEFAULTS)
    for i, s in enumerate(settings):
        check = _DARTS_CHECKS.get(s.name)
        if check is not None and not (check[2] and s.value == "None"):
            path = _setting_path(settings, i)
            kind, low, _ = check
            value = _setting_number(s, path, kind, none_ok=check[2])
            if value < low:
                raise SpecError(
                    f"{path}.value",
                    f"{s.name} must be at least {low:g}, not {s.value}",
                    f"Katib's default is {DARTS_DEFAULTS[s.name]}",
                )
        out[s.name] = None if s.value == "None" else s.value
    return out


def unknown_darts_settings(spec: ExperimentSpec) -> list[str]:
    """Warnings: the darts settings that Katib's DARTS trainer does not read (passed on)."""
    if spec.nas_config is None or spec.algorithm.algorithm_name != "darts":
        return []
    settings = spec.algorithm.algorithm_settings
    return [
        f"{_setting_path(settings, i)}.name: darts setting {s.name!r} is not one Katib's DARTS "
        "trainer reads; it is passed to the trial as is "
        + (
            f"(tunery's trainer reads it: {TUNERY_DARTS_SETTINGS[s.name]})"
            if s.name in TUNERY_DARTS_SETTINGS
            else f"(known: {', '.join(DARTS_DEFAULTS)})"
        )
        for i, s in enumerate(settings)
        if s.name not in DARTS_DEFAULTS
    ]


def assigned_names(spec: ExperimentSpec) -> tuple[str, ...]:
    """The names a trial of ``spec`` is assigned, in order: its parameters', or for a neural
    architecture search (no parameters) its algorithm's named strings (the faces' columns)."""
    if spec.nas_config is None:
        return tuple(p.name for p in spec.parameters)
    return ASSIGNMENTS.get(spec.algorithm.algorithm_name, ())


def assignment_names(spec: ExperimentSpec) -> tuple[str, ...]:
    """What the trial parameters of a NAS experiment may reference (Katib's assignments)."""
    if spec.nas_config is None:
        return ()
    return ASSIGNMENTS.get(spec.algorithm.algorithm_name, ())
