"""Choosing the monitored metric among a boosting library's evaluation results (XGBoost's and
LightGBM's callbacks share it): results are ``(data set, metric, value)`` triples, a metric is
named ``"<data set>-<metric>"`` (``"validation_0-logloss"``, ``"valid_0-l2"``) or by its
metric alone when one data set has it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

from tunery.errors import UserInputError
from tunery.integration._trial import Reporter

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

Result = tuple[str, str, float]


def full_name(result: Result) -> str:
    """``"<data set>-<metric>"``."""
    return f"{result[0]}-{result[1]}"


def find(results: Sequence[Result], metric: str, framework: str) -> Result:
    """The result ``metric`` names; a one-line :class:`UserInputError` listing the choices
    when none (or several, for a bare metric name) match."""
    for result in results:
        if full_name(result) == metric:
            return result
    alone = [r for r in results if r[1] == metric]
    if len(alone) == 1:
        return alone[0]
    names = ", ".join(full_name(r) for r in results) or "none"
    if len(alone) > 1:
        raise UserInputError(
            f"metric {metric!r} is computed on several data sets ({names})",
            f"name one as '<data set>-<metric>', e.g. metric={full_name(alone[-1])!r}",
        )
    raise UserInputError(
        f"metric {metric!r} is not among {framework}'s evaluation results ({names})",
        "pass metric= one of them (as '<data set>-<metric>'), or add the data set to the "
        "evaluation sets and the metric to eval_metric",
    )


def check_name(name: object, argument: str) -> str | None:
    """A metric name argument: None or a non-empty string (one-line error otherwise)."""
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise UserInputError(
            f"{argument} must be a metric name, not {name!r}", f"e.g. {argument}='valid-logloss'"
        )
    return name


class RoundCallback:
    """What the XGBoost and LightGBM callbacks share: the checked metric and reported names,
    the reporter, the round training stopped at, and a ``deepcopy`` that is the callback itself
    (scikit-learn's ``clone()`` deep-copies an estimator's callbacks: the copy shares the
    reporter, and so the ask/tell optimizer, which cannot be copied)."""

    def _setup(
        self,
        metric: str | None,
        name: str | None,
        optimizer: Optimizer | None,
        suggestion: Suggestion | str | None,
    ) -> None:
        self.metric = check_name(metric, "metric")
        self.name = check_name(name, "name")
        self.reporter = Reporter(optimizer, suggestion)
        #: The round at which early stopping ended training, or None.
        self.stopped_at: int | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self

    @property
    def stopped(self) -> bool:
        """Whether early stopping ended the training."""
        return self.stopped_at is not None
