"""tunery.integration.lightgbm against the real LightGBM: a real experiment (Push collector,
asha) whose bad trials stop cleanly, EarlyStopped; lightgbm.train and ask/tell; errors."""

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
import lightgbm
from tunery.integration.lightgbm import TuneryCallback

lr = float(sys.argv[1].split("=", 1)[1])
def slow(env):
    time.sleep(0.03 if lr > 0.1 else 0.1)  # the bad ones: time to be stopped
cb = TuneryCallback("valid_0-binary_logloss")
model = lightgbm.LGBMClassifier(n_estimators={ROUNDS}, learning_rate=lr, num_leaves=4,
                                min_child_samples=5, n_jobs=1, verbose=-1)
model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], eval_metric="binary_logloss",
          callbacks=[slow, cb])
print(f"trained {{model.booster_.num_trees()}} rounds; stopped_at={{cb.stopped_at}}")
"""


@pytest.fixture
def lgb() -> object:
    return framework("lightgbm", "lightgbm")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    yield s
    s.close()


def test_an_experiment_early_stops_bad_trials_cleanly(
    lgb: object, store: Store, tmp_path: Path
) -> None:
    # One rung at step 5 (max_resource 10): a newcomer must be the best of every three there.
    asha = {
        "algorithmName": "asha",
        "algorithmSettings": [
            {"name": "min_resource", "value": "5"},
            {"name": "reduction_factor", "value": "3"},
            {"name": "max_resource", "value": "10"},
        ],
    }
    trials = experiment(
        store,
        tmp_path,
        "lgb",
        SCRIPT,
        "valid_0-binary_logloss",
        asha,
        collector="Push",
        parallel=1,
    )
    check_stopped_cleanly(store, tmp_path, "lgb", trials, ROUNDS)
    for lr in BAD:  # stopped at the rung, as soon as it was judged
        assert "rung" in (trials[lr].message or ""), trials[lr].message


def _data() -> tuple[object, object]:
    import lightgbm

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] > 0).astype(int)
    train = lightgbm.Dataset(X[:200], label=y[:200])
    return train, lightgbm.Dataset(X[200:], label=y[200:], reference=train)


PARAMS = {
    "objective": "binary",
    "metric": "binary_logloss",
    "num_leaves": 4,
    "min_data_in_leaf": 5,
    "num_threads": 1,
    "verbose": -1,
}


def test_ask_tell_with_lightgbm_train_stops_bad_suggestions(lgb: object) -> None:
    import lightgbm

    from tunery.integration.lightgbm import TuneryCallback

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
        cb = TuneryCallback(optimizer=opt, suggestion=s)  # default: valid's first metric
        booster = lightgbm.train(
            {**PARAMS, "learning_rate": float(s.params["lr"])},
            dtrain,
            num_boost_round=ROUNDS,
            valid_sets=[dtrain, dvalid],
            valid_names=["training", "valid"],
            callbacks=[cb],
        )
        stopped[s.params["lr"]] = cb.stopped_at
        if cb.stopped:
            assert booster.best_iteration == cb.stopped_at == booster.num_trees()
        else:
            opt.tell(s, booster.best_score["valid"]["binary_logloss"])
    assert all(stopped[lr] is None for lr in GOOD)
    assert all(stopped[lr] is not None and 5 <= stopped[lr] < ROUNDS for lr in BAD), stopped
    by_lr = {t.parameters["lr"]: t for t in opt.trials}
    assert all(by_lr[lr].status is TrialCondition.EARLY_STOPPED for lr in BAD)
    # The default metric is the validation set's, not the training data's.
    good = by_lr[GOOD[0]]
    assert good.status is TrialCondition.SUCCEEDED
    assert good.objective == pytest.approx(good.metrics["objective"].latest)


def test_a_metric_lightgbm_does_not_compute_is_one_line_naming_the_choices(lgb: object) -> None:
    import lightgbm

    from tunery.integration.lightgbm import TuneryCallback

    dtrain, dvalid = _data()
    opt = tunery.Optimizer({"lr": search.double(0.1, 0.5)}, algorithm="random")
    cb = TuneryCallback("binary_logloss", optimizer=opt, suggestion=opt.ask())
    with pytest.raises(UserInputError) as err:
        lightgbm.train(
            PARAMS, dtrain, num_boost_round=2, valid_sets=[dtrain, dvalid], callbacks=[cb]
        )
    assert str(err.value) == (
        "metric 'binary_logloss' is computed on several data sets (training-binary_logloss, "
        "valid_1-binary_logloss); name one as '<data set>-<metric>', e.g. "
        "metric='valid_1-binary_logloss'"
    )
    cb = TuneryCallback(optimizer=opt, suggestion=opt.ask())
    with pytest.raises(UserInputError, match="computed no evaluation metric"):
        lightgbm.train(PARAMS, dtrain, num_boost_round=2, callbacks=[cb])
