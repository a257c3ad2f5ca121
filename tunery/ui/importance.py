"""Parameter importance: a first-order variance decomposition of the objective's ranks.

For each parameter, the finished trials (Succeeded or EarlyStopped, finite objective) are put
into groups by the parameter's value: one group per category for a categorical parameter (and
for a discrete or int parameter with at most ten distinct values), else up to ten groups of equal
size by quantile.  The importance is the share of the objective's variance that the group means
explain, corrected for the share that noise alone would explain with that many groups
(epsilon-squared: ``(SS_between - (k - 1) MS_within) / SS_total``, clipped at 0).  The objective
is replaced by its rank first (ties sharing their mean rank), so that one diverged trial does
not decide the answer.

This is the first-order (main effect) term of a functional ANOVA, estimated by binning: it says
how much of the spread of results each parameter explains on its own.  Interactions are not
counted (two parameters that only matter together both score low), the samples are the
optimizer's (biased towards good regions, not a uniform design) and with few trials the
estimate is noisy; the answer reports the number of trials it used.

A conditional parameter (``activeWhen``) is assessed on the trials where it was active: the
share of their spread it explains (at least ``MIN_TRIALS`` of them, else 0).  The ``fanova``
method leaves conditional parameters out (0), as Optuna's importance evaluators do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunery.model import ParameterSpec, ParameterType

#: Fewer finished trials than this and no importance is computed.
MIN_TRIALS = 8
MAX_GROUPS = 10

#: The method's short name, shown on the chart.
METHOD_NAME = "epsilon-squared of the objective's rank (first-order)"

METHOD = (
    "first-order variance share of the objective's rank explained by each parameter "
    "(grouped by category or by quantile bin), corrected for chance (epsilon-squared); "
    "interactions are not counted"
)


def _methods() -> dict[str, tuple[str, str]]:
    from tunery.ui import fanova

    return {
        "epsilon-squared": (METHOD_NAME, METHOD),
        "fanova": (fanova.METHOD_NAME, fanova.METHOD),
    }


#: The methods a caller may choose: key -> (short name, description).
METHODS = _methods()
DEFAULT_METHOD = "epsilon-squared"


@dataclass(frozen=True)
class Importance:
    name: str
    #: Share of the objective's (rank) variance this parameter explains alone, 0..1.
    importance: float
    #: ``importance`` divided by the sum over parameters: the shares sum to 1 (every one is 0
    #: when no parameter explains more than chance).
    normalized: float


def mean_ranks(objective: Sequence[float]) -> np.ndarray:
    """The objective's ranks (0-based), ties sharing their mean rank: equal objectives must not
    look different (by the order of the trials, say)."""
    _, inverse, counts = np.unique(
        np.asarray(objective, dtype=float), return_inverse=True, return_counts=True
    )
    ends = np.cumsum(counts)
    return np.asarray(((ends - counts + ends - 1) / 2.0)[inverse], dtype=float)


def _groups(values: Sequence[Any], categorical: bool) -> np.ndarray:
    """A group number per trial."""
    if not categorical:
        try:
            numbers = np.asarray([float(v) for v in values], dtype=float)
        except (TypeError, ValueError):
            categorical = True
        else:
            if len(np.unique(numbers)) > MAX_GROUPS:
                k = max(2, min(MAX_GROUPS, int(math.sqrt(len(numbers)))))
                edges = np.unique(np.quantile(numbers, np.linspace(0, 1, k + 1)[1:-1]))
                return np.searchsorted(edges, numbers, side="right")
            _, inverse = np.unique(numbers, return_inverse=True)
            return np.asarray(inverse)
    _, inverse = np.unique(np.asarray([str(v) for v in values]), return_inverse=True)
    return np.asarray(inverse)


def _epsilon_squared(y: np.ndarray, groups: np.ndarray) -> float:
    n = len(y)
    labels, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    k = len(labels)
    total = float(np.sum((y - y.mean()) ** 2))
    if k < 2 or n <= k or total <= 0:
        return 0.0
    means = np.bincount(inverse, weights=y) / sizes
    between = float(np.sum(sizes * (means - y.mean()) ** 2))
    within = total - between
    value = (between - (k - 1) * within / (n - k)) / total
    return float(min(1.0, max(0.0, value)))


def parameter_importance(
    parameters: Sequence[ParameterSpec],
    assignments: Sequence[Mapping[str, Any]],
    objective: Sequence[float],
    method: str = DEFAULT_METHOD,
) -> list[Importance] | None:
    """Importance of each parameter by ``method`` (a key of :data:`METHODS`), most important
    first; None with too few trials."""
    if method not in METHODS:
        raise ValueError(f"unknown importance method {method!r}: one of {', '.join(METHODS)}")
    if len(objective) < MIN_TRIALS:
        return None
    if method == "fanova":
        from tunery.ui.fanova import fanova_importance

        shares = fanova_importance(parameters, assignments, objective)
        return _ranked([(p.name, v) for p, v in zip(parameters, shares, strict=True)])
    ranks = mean_ranks(objective)
    raw: list[tuple[str, float]] = []
    for p in parameters:
        values = [a.get(p.name) for a in assignments]
        categorical = p.parameter_type is ParameterType.CATEGORICAL
        if any(v is None for v in values):
            # A conditional parameter: its share of the spread among the trials where it was
            # active (ranked among themselves); too few of them, or no condition, and none.
            active = [i for i, v in enumerate(values) if v is not None]
            if not p.active_when or len(active) < MIN_TRIALS:
                raw.append((p.name, 0.0))
                continue
            within = mean_ranks([objective[i] for i in active])
            groups = _groups([values[i] for i in active], categorical)
            raw.append((p.name, _epsilon_squared(within, groups)))
            continue
        raw.append((p.name, _epsilon_squared(ranks, _groups(values, categorical))))
    return _ranked(raw)


def _ranked(raw: Sequence[tuple[str, float]]) -> list[Importance]:
    total = sum(v for _, v in raw)
    out = [Importance(name, v, v / total if total > 0 else 0.0) for name, v in raw]
    return sorted(out, key=lambda i: (-i.importance, i.name))
