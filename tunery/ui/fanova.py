"""fANOVA-style parameter importance: a random forest fitted to the objective, and the share of
its predictions' variance that each parameter's main effect explains.

A forest of regression trees (bootstrap samples, a random subset of parameters tried at each
split, at least two trials a leaf; numpy only, seeded, so the same trials give the same answer)
is fitted to the objective's rank.  For each parameter, its main effect is the forest's
prediction averaged over the other parameters' observed values (partial dependence), at each of
the parameter's observed values; the importance is the variance of that main effect over the
parameter's values divided by the variance of the forest's predictions.  As in fANOVA
(Hutter et al., 2014; optuna's default ``FanovaImportanceEvaluator``) these are first-order
(main effect) shares of a model of the objective, not of the raw samples: the forest smooths
the noise, and a parameter is judged over the whole range the trials covered.

Numbers are used as they are, log-scale doubles as ``log10``, categories as their index in the
space (the trees split on that order).  At most :data:`MAX_ROWS` trials are used (an even
sample of them) to keep the answer under a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tunery.model import Distribution, ParameterSpec, ParameterType

METHOD_NAME = "fANOVA-style (random forest, first-order)"
METHOD = (
    "first-order variance share of a random forest's prediction of the objective's rank "
    "explained by each parameter's main effect (partial dependence), fANOVA-style; "
    "interactions are not counted"
)
TREES = 24
MAX_DEPTH = 8
MIN_LEAF = 2
MAX_ROWS = 600
#: Most values at which a parameter's main effect is evaluated.
MAX_GRID = 24

Floats = npt.NDArray[np.float64]


def _encode(p: ParameterSpec, values: Sequence[Any]) -> Floats:
    if p.parameter_type is ParameterType.CATEGORICAL:
        labels = list(p.feasible_space.list)
        for v in values:
            if str(v) not in labels:
                labels.append(str(v))
        return np.asarray([labels.index(str(v)) for v in values], dtype=float)
    numbers = np.asarray([float(v) for v in values], dtype=float)
    log = p.feasible_space.distribution in (Distribution.LOG_UNIFORM, Distribution.LOG_NORMAL)
    if log and bool(np.all(numbers > 0)):
        return np.log10(numbers)
    return numbers


class _Tree:
    """A regression tree in flat arrays: node k splits on ``feature[k]`` at ``threshold[k]``
    (left: ``<=``), or is a leaf (``feature[k] == -1``) predicting ``value[k]``."""

    def __init__(self, x: Floats, y: Floats, rng: np.random.Generator) -> None:
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.value: list[float] = []
        self._grow(x, y, rng, 0)

    def _node(self) -> int:
        for column in (self.feature, self.left, self.right):
            column.append(-1)
        self.threshold.append(0.0)
        self.value.append(0.0)
        return len(self.value) - 1

    def _grow(self, x: Floats, y: Floats, rng: np.random.Generator, depth: int) -> int:
        k = self._node()
        self.value[k] = float(y.mean())
        if depth >= MAX_DEPTH or len(y) < 2 * MIN_LEAF or float(np.ptp(y)) == 0.0:
            return k
        d = x.shape[1]
        tried = rng.choice(d, size=max(1, math.ceil(d * 0.7)), replace=False)
        best: tuple[float, int, float] | None = None
        for f in tried:
            order = np.argsort(x[:, f], kind="stable")
            xs, ys = x[order, f], y[order]
            sums = np.cumsum(ys)
            squares = np.cumsum(ys * ys)
            n = len(ys)
            left_n = np.arange(1, n)
            left_sse = squares[:-1] - sums[:-1] ** 2 / left_n
            right_sum = sums[-1] - sums[:-1]
            right_sse = (squares[-1] - squares[:-1]) - right_sum**2 / (n - left_n)
            cost = left_sse + right_sse
            valid = (xs[1:] > xs[:-1]) & (left_n >= MIN_LEAF) & (n - left_n >= MIN_LEAF)
            if not bool(valid.any()):
                continue
            cost = np.where(valid, cost, np.inf)
            i = int(np.argmin(cost))
            if best is None or cost[i] < best[0]:
                best = (float(cost[i]), int(f), float((xs[i] + xs[i + 1]) / 2))
        if best is None:
            return k
        _, f, threshold = best
        mask = x[:, f] <= threshold
        self.feature[k] = f
        self.threshold[k] = threshold
        self.left[k] = self._grow(x[mask], y[mask], rng, depth + 1)
        self.right[k] = self._grow(x[~mask], y[~mask], rng, depth + 1)
        return k

    def predict(self, x: Floats) -> Floats:
        feature = np.asarray(self.feature)
        threshold = np.asarray(self.threshold)
        left, right = np.asarray(self.left), np.asarray(self.right)
        node = np.zeros(len(x), dtype=int)
        for _ in range(MAX_DEPTH + 1):
            f = feature[node]
            inner = f >= 0
            if not bool(inner.any()):
                break
            rows = np.nonzero(inner)[0]
            go_left = x[rows, f[rows]] <= threshold[node[rows]]
            node[rows] = np.where(go_left, left[node[rows]], right[node[rows]])
        return np.asarray(self.value)[node]


def fanova_importance(
    parameters: Sequence[ParameterSpec],
    assignments: Sequence[Mapping[str, Any]],
    objective: Sequence[float],
) -> list[float]:
    """Each parameter's first-order share of the forest's variance (0..1, in order)."""
    from tunery.ui.importance import mean_ranks

    usable = [p for p in parameters if all(a.get(p.name) is not None for a in assignments)]
    if not usable or len(objective) < 2:
        return [0.0] * len(parameters)
    rows = np.arange(len(objective))
    if len(rows) > MAX_ROWS:
        rows = np.unique(np.linspace(0, len(rows) - 1, MAX_ROWS).round().astype(int))
    ranks = mean_ranks(objective)
    y = ranks[rows] / max(1.0, float(len(objective) - 1))
    x = np.column_stack([_encode(p, [assignments[int(i)][p.name] for i in rows]) for p in usable])
    rng = np.random.default_rng(0)
    trees = []
    for _ in range(TREES):
        sample = rng.integers(0, len(y), size=len(y))
        trees.append(_Tree(x[sample], y[sample], rng))

    def predict(points: Floats) -> Floats:
        return np.mean([t.predict(points) for t in trees], axis=0)

    total = float(np.var(predict(x)))
    shares: dict[str, float] = {}
    for j, p in enumerate(usable):
        grid = np.unique(x[:, j])
        weights = np.asarray([np.sum(x[:, j] == g) for g in grid], dtype=float)
        if len(grid) > MAX_GRID:
            grid = np.unique(np.quantile(x[:, j], np.linspace(0, 1, MAX_GRID)))
            weights = np.ones(len(grid))
        effect = np.empty(len(grid))
        for g, value in enumerate(grid):
            moved = x.copy()
            moved[:, j] = value
            effect[g] = float(predict(moved).mean())
        mean = float(np.average(effect, weights=weights))
        variance = float(np.average((effect - mean) ** 2, weights=weights))
        shares[p.name] = min(1.0, variance / total) if total > 0 else 0.0
    return [shares.get(p.name, 0.0) for p in parameters]
