"""tunery.integration.sklearn.TunerySearchCV against real scikit-learn (bundled Iris and digits):
GridSearchCV's attributes and results, stored and resumed studies, parallel trials, early
stopping of partial_fit estimators, errors."""

from __future__ import annotations

import itertools
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration_helpers import framework
from tunery import search
from tunery.errors import UserInputError
from tunery.model import ExperimentCondition, TrialCondition
from tunery.storage import Store

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def sk() -> Any:
    return framework("sklearn", "sklearn")


def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def test_it_is_a_grid_search_cv_with_tunery_trials() -> None:
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, cross_val_score

    from tunery.integration.sklearn import TunerySearchCV

    X, y = iris()
    estimator = LogisticRegression(max_iter=500)
    searcher = TunerySearchCV(
        estimator,
        {"C": search.double(1e-3, 1e2, log=True), "fit_intercept": [True, False]},
        n_trials=6,
        algorithm="random",
        cv=3,
        scoring="accuracy",
        random_state=0,
        return_train_score=True,
    )
    assert clone(searcher).get_params()["n_trials"] == 6  # a scikit-learn estimator
    searcher.fit(X, y)
    res = searcher.cv_results_
    grid = GridSearchCV(
        estimator, {"C": [1.0], "fit_intercept": [True]}, cv=3, return_train_score=True
    ).fit(X, y)
    assert set(grid.cv_results_) <= set(res)
    assert set(res) - set(grid.cv_results_) == {"trial_name", "status"}
    assert len(res["params"]) == 6 and searcher.n_splits_ == 3
    assert all(s == "Succeeded" for s in res["status"])
    # Values keep their Python types (a list is a categorical of objects).
    assert {type(p["fit_intercept"]) for p in res["params"]} == {bool}
    best = searcher.best_index_
    assert res["params"][best] == searcher.best_params_
    assert res["rank_test_score"][best] == 1
    assert searcher.best_score_ == res["mean_test_score"][best] == max(res["mean_test_score"])
    # The split scores are scikit-learn's own for those parameters.
    again = cross_val_score(clone(estimator).set_params(**searcher.best_params_), X, y, cv=3)
    assert [res[f"split{i}_test_score"][best] for i in range(3)] == pytest.approx(list(again))
    assert np.all(res["mean_fit_time"] > 0)
    # Refit, delegation.
    assert searcher.best_estimator_.get_params()["C"] == searcher.best_params_["C"]
    assert (searcher.predict(X) == searcher.best_estimator_.predict(X)).all()
    assert searcher.predict_proba(X).shape == (150, 3)
    assert searcher.score(X, y) == pytest.approx((searcher.predict(X) == y).mean())
    assert list(searcher.classes_) == [0, 1, 2] and searcher.refit_time_ > 0


def test_a_stored_study_is_visible_and_a_second_fit_continues_it(tmp_path: Path) -> None:
    from sklearn.svm import SVC

    from tunery.integration.sklearn import TunerySearchCV

    X, y = iris()
    db = str(tmp_path / "study.db")

    def searcher(n: int) -> Any:
        return TunerySearchCV(
            SVC(),
            {"C": search.double(1e-2, 1e2, log=True), "kernel": ["rbf", "linear"]},
            n_trials=n,
            cv=3,
            storage=db,
            study_name="svc-iris",
            random_state=1,
        )

    first = searcher(4).fit(X, y)
    with Store(db) as store:
        trials = store.list_trials("svc-iris")
        assert store.get_experiment("svc-iris").status is ExperimentCondition.SUCCEEDED
    assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 4
    assert [t.objective for t in trials] == pytest.approx(
        list(first.cv_results_["mean_test_score"])
    )
    second = searcher(3).fit(X, y)  # a new object: everything comes from the store
    res = second.cv_results_
    assert len(res["params"]) == 7
    assert list(res["trial_name"][:4]) == [t.name for t in trials]
    for key in ("split0_test_score", "split2_test_score", "mean_test_score", "param_C"):
        assert list(res[key][:4]) == pytest.approx(list(first.cv_results_[key])), key
    assert list(res["param_kernel"][:4]) == list(first.cv_results_["param_kernel"])
    assert second.best_score_ == max(res["mean_test_score"])
    with Store(db) as store:
        assert len(store.list_trials("svc-iris")) == 7
        assert store.get_experiment("svc-iris").status is ExperimentCondition.SUCCEEDED


def test_n_jobs_runs_trials_at_the_same_time() -> None:
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError

    from tunery.integration.sklearn import TunerySearchCV

    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    class Sleepy(BaseEstimator):
        """A real (if slow) estimator: fit sleeps, and records when it ran."""

        def __init__(self, c: float = 1.0) -> None:
            self.c = c

        def fit(self, X: Any, y: Any) -> Any:
            started = time.monotonic()
            time.sleep(0.2)
            with lock:
                spans.append((started, time.monotonic()))
            return self

        def score(self, X: Any, y: Any) -> float:
            return -abs(self.c - 0.3)

    X, y = iris()
    searcher = TunerySearchCV(
        Sleepy(),
        {"c": search.double(0.0, 1.0)},
        n_trials=4,
        cv=2,
        n_jobs=2,
        refit=False,
        algorithm="random",
    ).fit(X, y)
    spans.sort()
    assert len(spans) == 8
    overlapping = sum(b[0] < a[1] for a, b in itertools.pairwise(spans))
    assert overlapping >= 3  # two trials' fits at once, most of the time
    assert searcher.best_score_ == max(searcher.cv_results_["mean_test_score"])
    assert not hasattr(searcher, "predict")  # Sleepy has none
    with pytest.raises(NotFittedError, match=r"TunerySearchCV\(refit=False\) has no best_"):
        searcher.score(X, y)


def test_partial_fit_estimators_stop_early_by_epochs() -> None:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier

    from tunery.integration.sklearn import TunerySearchCV

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    good, bad = [1e-5, 1e-4], [3.0, 10.0]
    searcher = TunerySearchCV(
        SGDClassifier(random_state=0),
        {"alpha": good + bad},
        n_trials=4,
        algorithm="grid",  # the good ones first: they are what the bad ones are compared to
        cv=3,
        max_iter=12,
        early_stopping="medianstop",
        early_stopping_settings={"min_trials_required": 2, "start_step": 2},
    ).fit(X, y)
    res = searcher.cv_results_
    status = {p["alpha"]: s for p, s in zip(res["params"], res["status"], strict=True)}
    assert status == {
        1e-5: "Succeeded",
        1e-4: "Succeeded",
        3.0: "EarlyStopped",
        10.0: "EarlyStopped",
    }
    assert searcher.best_params_["alpha"] in good and searcher.best_score_ > 0.85
    assert set(res["rank_test_score"][2:]) == {3}  # stopped trials rank after every success
    trials = searcher.optimizer_.trials
    assert [t.status for t in trials[2:]] == [TrialCondition.EARLY_STOPPED] * 2


def test_bad_arguments_are_one_line_errors_naming_the_fix() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    from tunery.integration.sklearn import TunerySearchCV

    X, y = iris()
    cases = [
        (
            TunerySearchCV(SVC(), {"gamma_": search.double(0.1, 1.0)}),
            "search_space['gamma_']: SVC has no parameter 'gamma_'",
        ),
        (TunerySearchCV(SVC(), {"C": 3}), "search_space['C'] is 3: give a tunery.search"),
        (
            TunerySearchCV(SVC(), {"C": search.double(0.1, 1.0)}, max_iter=5),
            "max_iter= trains with partial_fit, which SVC does not have",
        ),
        (
            TunerySearchCV(SVC(), {"C": search.double(0.1, 1.0)}, scoring=["accuracy", "f1"]),
            "one scoring",
        ),
        (
            TunerySearchCV(SVC(), {"C": search.double(0.1, 1.0)}, scoring="acuracy"),
            "scoring='acuracy'",
        ),
        (TunerySearchCV(SVC(), {"C": search.double(0.1, 1.0)}, n_trials=0), "n_trials"),
        (
            TunerySearchCV(SVC(), {"C": search.double(0.1, 1.0)}, max_iter=0),
            "max_iter must be a whole number of 1 or more, not 0",
        ),
        (TunerySearchCV(SVC(), {"C": search.double(0.1, 1.0)}, storage="x.db"), "study_name"),
        (TunerySearchCV(LogisticRegression(), {"C": [1, 1]}), "non-empty and distinct"),
    ]
    for searcher, message in cases:
        with pytest.raises(UserInputError) as err:
            searcher.fit(X, y)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_failing_fits_score_error_score_or_raise() -> None:
    from sklearn.linear_model import LogisticRegression

    from tunery.integration.sklearn import TunerySearchCV

    X, y = iris()
    space = {"C": [-1.0, 1.0]}  # C must be positive: the first one fails
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        searcher = TunerySearchCV(
            LogisticRegression(max_iter=300), space, n_trials=2, algorithm="grid", cv=2
        ).fit(X, y)
    res = searcher.cv_results_
    failed = [p["C"] for p in res["params"]].index(-1.0)
    assert res["status"][failed] == "Failed" and np.isnan(res["mean_test_score"][failed])
    assert searcher.best_params_ == {"C": 1.0}
    assert any("FitFailedWarning" in type(w.message).__name__ for w in caught)
    with pytest.raises(ValueError):
        TunerySearchCV(
            LogisticRegression(), space, n_trials=2, algorithm="grid", cv=2, error_score="raise"
        ).fit(X, y)
