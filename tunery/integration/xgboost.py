"""XGBoost: report the monitored evaluation metric each boosting round and stop when the
experiment's early stopping says so.

    from tunery.integration.xgboost import TuneryCallback

    booster = xgboost.train(params, dtrain, num_boost_round=500,
                            evals=[(dvalid, "valid")],
                            callbacks=[TuneryCallback("valid-logloss")])
    # or the scikit-learn API (its evaluation sets are validation_0, validation_1, ...):
    model = xgboost.XGBClassifier(n_estimators=500, eval_metric="logloss",
                                  callbacks=[TuneryCallback("validation_0-logloss")])
    model.fit(X, y, eval_set=[(X_valid, y_valid)])

Each round ``n`` (1, 2, ...: the number of trees so far, XGBoost's ``epoch + 1``) reports the
metric at step ``n``, under ``name`` (default: the metric's own name, e.g.
``validation_0-logloss``; the experiment's ``objectiveMetricName`` must be that name).  When
early stopping stops the trial, ``after_iteration`` returns True (XGBoost's own stop signal:
training ends and ``train``/``fit`` return the model so far), :attr:`TuneryCallback.stopped_at`
holds the round, and the trial ends ``EarlyStopped``.  With ``optimizer=`` and ``suggestion=``
it reports to an ask/tell :class:`tunery.Optimizer` instead (do not ``tell`` a suggestion that
was stopped).  See docs/integrations.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

try:
    from xgboost.callback import TrainingCallback
except ImportError:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "tunery.integration.xgboost needs XGBoost, which is not installed; install it with: "
        'pip install "tunery[xgboost]"'
    ) from None

from tunery.errors import UserInputError
from tunery.integration._evals import Result, RoundCallback, find, full_name

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

__all__ = ["TuneryCallback"]


def _last(values: Sequence[Any]) -> float:
    """The latest value of a metric's history (``xgboost.cv`` keeps ``(mean, std)`` pairs)."""
    value = values[-1]
    if isinstance(value, tuple | list):
        value = value[0]
    return float(value)


class TuneryCallback(RoundCallback, TrainingCallback):
    """Reports ``metric`` (``"<data set>-<metric>"``, or a metric computed on one data set;
    default: XGBoost's own early-stopping choice, the last metric of the last evaluation set)
    each round and ends training when the experiment's early stopping says so."""

    def __init__(
        self,
        metric: str | None = None,
        *,
        name: str | None = None,
        optimizer: Optimizer | None = None,
        suggestion: Suggestion | str | None = None,
    ) -> None:
        super().__init__()
        self._setup(metric, name, optimizer, suggestion)

    def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Any]) -> bool:
        results: list[Result] = [
            (data, metric, _last(values))
            for data, metrics in evals_log.items()
            for metric, values in metrics.items()
            if values
        ]
        if not results:
            raise UserInputError(
                "XGBoost computed no evaluation metric for tunery to report",
                "pass evals=[(dvalid, 'valid')] to xgboost.train, or eval_set=[(X_valid, "
                "y_valid)] to fit",
            )
        chosen = find(results, self.metric, "XGBoost") if self.metric else results[-1]
        step = epoch + 1
        self.reporter.report(step, {self.name or full_name(chosen): chosen[2]})
        if self.reporter.should_stop(step):
            self.stopped_at = step
            return True
        return False
