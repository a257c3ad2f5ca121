"""Conditional (tree-structured) spaces for the model-based algorithms' tests.

A three-level space with an objective whose optimum lies in the deepest branch, a two-objective
problem over it, and a *planted* history: a parameter whose good region is visible only among
the trials where it was active (see :func:`planted`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from tunery.model import ParameterSpec, ParamValue, Trial
from tunery.testing import multiobjective as mo
from tunery.testing.suggest import (
    categorical_param,
    discrete_param,
    double_param,
    int_param,
    make_trials,
)

__all__ = [
    "PLANTED_OPTIMUM",
    "planted",
    "tree_objective",
    "tree_parameters",
    "tree_problem",
    "when",
]

#: Where :func:`planted`'s good region of ``x`` is.
PLANTED_OPTIMUM = 0.9


def when(param: ParameterSpec, **conditions: Sequence[str]) -> ParameterSpec:
    """``param`` active only when every named parent takes one of the listed values."""
    return dataclasses.replace(
        param, active_when=tuple((k, tuple(v)) for k, v in conditions.items())
    )


def tree_parameters() -> list[ParameterSpec]:
    """Three levels: kind -> (a: x, n | b: mode -> (p: z, w | q: k)), plus an always-active u."""
    return [
        categorical_param("kind", ["a", "b"]),
        double_param("u", "0", "1"),
        when(double_param("x", "0.001", "1", distribution="logUniform"), kind=["a"]),
        when(int_param("n", "1", "20"), kind=["a"]),
        when(categorical_param("mode", ["p", "q"]), kind=["b"]),
        when(double_param("z", "0", "1"), mode=["p"]),
        when(discrete_param("w", ["1", "2", "4"]), mode=["p"]),
        when(int_param("k", "1", "5"), mode=["q"]),
    ]


def tree_objective(p: Mapping[str, ParamValue]) -> float:
    """Minimum 0 at kind=b, mode=p, z=0.2, w=2, u=0.7; branch a at best 0.3, q 0.2."""
    base = (float(p["u"]) - 0.7) ** 2
    if p["kind"] == "a":
        return 0.3 + (float(p["x"]) - 0.05) ** 2 + abs(int(p["n"]) - 7) / 40 + base
    if p["mode"] == "p":
        return (float(p["z"]) - 0.2) ** 2 + abs(float(p["w"]) - 2) / 10 + base
    return 0.2 + abs(int(p["k"]) - 3) / 20 + base


def tree_problem() -> mo.Problem:
    """Two objectives over :func:`tree_parameters` (minimised)."""

    def metrics(p: Mapping[str, ParamValue]) -> dict[str, float]:
        value = tree_objective(p)
        return {"f1": value, "f2": (float(p["u"]) - 0.2) ** 2 + (p["kind"] == "a") * 0.1}

    return mo.Problem("tree", tuple(tree_parameters()), ("f1", "f2"), (), (2.0, 2.0), metrics)


def planted() -> tuple[list[ParameterSpec], list[Trial]]:
    """``x`` (active when kind=a) has its good region near 0.9, seen only in kind=a trials.

    The kind=b trials (one configuration, already tried, so every suggestion is kind=a) are
    the best of all (loss 0): a model that counted them for ``x`` (at whatever stand-in value),
    or that split all trials into good and bad before keeping those with ``x`` active (then no
    good trial has ``x``), would not aim at 0.9.  The kind=a trials avoid ``[0.8, 0.95]``.
    """
    params = [categorical_param("kind", ["a", "b"]), when(double_param("x", "0", "1"), kind=["a"])]
    rng = np.random.default_rng(5)
    xs = np.concatenate([rng.uniform(0, 0.8, 16), rng.uniform(0.95, 1, 4)])
    history: list[dict[str, ParamValue]] = [{"kind": "a", "x": float(x)} for x in xs]
    history += [{"kind": "b"}] * 20

    def objective(p: Mapping[str, ParamValue]) -> float:
        return (float(p["x"]) - PLANTED_OPTIMUM) ** 2 if p["kind"] == "a" else 0.0

    return params, make_trials(history, objective=objective)
