"""LightGBM: report the monitored evaluation metric each boosting round and stop when the
experiment's early stopping says so.

    from tunery.integration.lightgbm import TuneryCallback

    booster = lightgbm.train(params, dtrain, num_boost_round=500, valid_sets=[dvalid],
                             valid_names=["valid"],
                             callbacks=[TuneryCallback("valid-binary_logloss")])
    # or the scikit-learn API (its evaluation sets are valid_0, valid_1, ...):
    model = lightgbm.LGBMClassifier(n_estimators=500)
    model.fit(X, y, eval_set=[(X_valid, y_valid)],
              callbacks=[TuneryCallback("valid_0-binary_logloss")])

Each round ``n`` (1, 2, ...: LightGBM's ``iteration + 1``) reports the metric at step ``n``,
under ``name`` (default: the metric's own name, e.g. ``valid_0-binary_logloss``; the
experiment's ``objectiveMetricName`` must be that name).  When early stopping stops the trial,
the callback raises :class:`lightgbm.callback.EarlyStopException` (LightGBM's own stop signal:
``train``/``fit`` return the model so far, its ``best_iteration`` the last round),
:attr:`TuneryCallback.stopped_at` holds the round, and the trial ends ``EarlyStopped``.  With
``optimizer=`` and ``suggestion=`` it reports to an ask/tell :class:`tunery.Optimizer`
instead (do not ``tell`` a suggestion that was stopped).  See docs/integrations.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

try:
    from lightgbm.callback import CallbackEnv, EarlyStopException
except ImportError:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "tunery.integration.lightgbm needs LightGBM, which is not installed; install it with: "
        'pip install "tunery[lightgbm]"'
    ) from None

from tunery.errors import UserInputError
from tunery.integration._evals import Result, RoundCallback, find, full_name

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

__all__ = ["TuneryCallback"]

#: LightGBM's name of the training data among the evaluation sets.
_TRAINING = "training"


class TuneryCallback(RoundCallback):
    """Reports ``metric`` (``"<data set>-<metric>"``, or a metric computed on one data set;
    default: the first metric of the first validation set that is not the training data,
    LightGBM's ``first_metric_only`` choice) each round and ends training when the experiment's
    early stopping says so."""

    #: Runs after ``record_evaluation`` (20) and before ``early_stopping`` (30).
    order = 25
    before_iteration = False

    def __init__(
        self,
        metric: str | None = None,
        *,
        name: str | None = None,
        optimizer: Optimizer | None = None,
        suggestion: Suggestion | str | None = None,
    ) -> None:
        self._setup(metric, name, optimizer, suggestion)

    def __call__(self, env: CallbackEnv) -> None:
        given = env.evaluation_result_list or []
        results: list[Result] = [(str(r[0]), str(r[1]), float(r[2])) for r in given]
        if not results:
            raise UserInputError(
                "LightGBM computed no evaluation metric for tunery to report",
                "pass valid_sets=[dvalid] to lightgbm.train, or eval_set=[(X_valid, y_valid)] "
                "to fit",
            )
        if self.metric:
            chosen = find(results, self.metric, "LightGBM")
        else:
            chosen = next((r for r in results if r[0] != _TRAINING), results[0])
        step = env.iteration + 1
        self.reporter.report(step, {self.name or full_name(chosen): chosen[2]})
        if self.reporter.should_stop(step):
            self.stopped_at = step
            raise EarlyStopException(env.iteration, given)
