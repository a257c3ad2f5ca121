"""tunery.integration.xgboost against the real XGBoost: a real experiment (StdOut collector,
medianstop) whose bad trials stop cleanly, EarlyStopped; ask/tell; bad metric names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tunery
from tests.integration_helpers import BAD, GOOD, check_stopped_cleanly, experiment, framework
from tunery import search
from tunery.errors import UserInputError
from tunery.model import TrialCondition
from tunery.storage import Store

pytestmark = pytest.mark.integration

ROUNDS = 40

#: The sklearn API; a second callback makes a round last 30 ms (100 ms for the bad learning
#: rates, which have to be stopped before their end), so the controller sees curves.
SCRIPT = f"""
import sys, time
import xgboost
from tunery.integration.xgboost import TuneryCallback

lr = float(sys.argv[1].split("=", 1)[1])
class Slow(xgboost.callback.TrainingCallback):
    def after_iteration(self, model, epoch, evals_log):
        time.sleep(0.03 if lr > 0.1 else 0.1)  # the bad ones: time to be stopped
        return False
cb = TuneryCallback("validation_0-logloss")
model = xgboost.XGBClassifier(n_estimators={ROUNDS}, learning_rate=lr, max_depth=2, n_jobs=1,
                              eval_metric="logloss", callbacks=[Slow(), cb])
model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
print(f"trained {{model.get_booster().num_boosted_rounds()}} rounds; stopped_at={{cb.stopped_at}}")
"""


@pytest.fixture
def xgb() -> object:
    return framework("xgboost", "xgboost")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    yield s
    s.close()


def test_an_experiment_early_stops_bad_trials_cleanly(
    xgb: object, store: Store, tmp_path: Path
) -> None:
    medianstop = {
        "algorithmName": "medianstop",
        "algorithmSettings": [
            {"name": "min_trials_required", "value": "2"},
            {"name": "start_step", "value": "5"},
        ],
    }
    trials = experiment(store, tmp_path, "xgb", SCRIPT, "validation_0-logloss", medianstop)
    check_stopped_cleanly(store, tmp_path, "xgb", trials, ROUNDS)


def _data() -> tuple[object, object]:
    import xgboost

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] > 0).astype(int)
    return xgboost.DMatrix(X[:200], label=y[:200]), xgboost.DMatrix(X[200:], label=y[200:])


def test_ask_tell_reports_each_round_and_stops_bad_suggestions(xgb: object) -> None:
    import xgboost

    from tunery.integration.xgboost import TuneryCallback

    dtrain, dvalid = _data()
    opt = tunery.Optimizer(
        {"lr": search.categorical(GOOD + BAD)},
        algorithm="grid",
        early_stopping="medianstop",
        early_stopping_settings={"min_trials_required": 2, "start_step": 5},
    )
    stopped = {}
    for _ in range(len(GOOD + BAD)):
        s = opt.ask()
        cb = TuneryCallback("valid-logloss", optimizer=opt, suggestion=s)
        booster = xgboost.train(
            {
                "eta": float(s.params["lr"]),
                "max_depth": 2,
                "nthread": 1,
                "objective": "binary:logistic",
                "eval_metric": "logloss",
            },
            dtrain,
            num_boost_round=ROUNDS,
            evals=[(dtrain, "train"), (dvalid, "valid")],
            verbose_eval=False,
            callbacks=[cb],
        )
        stopped[s.params["lr"]] = cb.stopped_at
        if cb.stopped:
            assert booster.num_boosted_rounds() == cb.stopped_at
        else:
            opt.tell(s, float(booster.eval(dvalid).split(":")[1]))
    assert all(stopped[lr] is None for lr in GOOD)
    assert all(stopped[lr] is not None and 5 <= stopped[lr] < ROUNDS for lr in BAD), stopped
    by_lr = {t.parameters["lr"]: t for t in opt.trials}
    for lr in BAD:
        assert by_lr[lr].status is TrialCondition.EARLY_STOPPED
    assert by_lr[GOOD[0]].status is TrialCondition.SUCCEEDED


def test_a_metric_xgboost_does_not_compute_is_one_line_naming_the_choices(xgb: object) -> None:
    import xgboost

    from tunery.integration.xgboost import TuneryCallback

    dtrain, dvalid = _data()
    opt = tunery.Optimizer({"lr": search.double(0.1, 0.5)}, algorithm="random")
    cb = TuneryCallback("valid-auc", optimizer=opt, suggestion=opt.ask())
    with pytest.raises(UserInputError) as err:
        xgboost.train(
            {"eval_metric": "logloss", "nthread": 1, "objective": "binary:logistic"},
            dtrain,
            num_boost_round=2,
            evals=[(dvalid, "valid")],
            callbacks=[cb],
        )
    assert str(err.value) == (
        "metric 'valid-auc' is not among XGBoost's evaluation results (valid-logloss); pass "
        "metric= one of them (as '<data set>-<metric>'), or add the data set to the "
        "evaluation sets and the metric to eval_metric"
    )
    # A metric computed on one data set may be named alone; without evals, one line too.
    cb = TuneryCallback("logloss", optimizer=opt, suggestion=opt.ask())
    params = {"nthread": 1, "objective": "binary:logistic", "eval_metric": "logloss"}
    xgboost.train(params, dtrain, num_boost_round=2, evals=[(dvalid, "v")], callbacks=[cb])
    assert [t.metrics["objective"].latest for t in opt.trials[-1:]]
    cb = TuneryCallback(optimizer=opt, suggestion=opt.ask())
    with pytest.raises(UserInputError, match="computed no evaluation metric"):
        xgboost.train({"nthread": 1}, dtrain, num_boost_round=2, callbacks=[cb])


def test_outside_a_trial_without_an_optimizer_the_callback_says_how_to_run(
    xgb: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xgboost

    from tunery.integration.xgboost import TuneryCallback

    monkeypatch.delenv("TUNERY_TRIAL_NAME", raising=False)
    dtrain, dvalid = _data()
    with pytest.raises(UserInputError, match="nowhere to report metrics"):
        xgboost.train(
            {"nthread": 1},
            dtrain,
            num_boost_round=2,
            evals=[(dvalid, "v")],
            callbacks=[TuneryCallback()],
        )
    with pytest.raises(UserInputError, match="metric must be a metric name"):
        TuneryCallback(metric="")
