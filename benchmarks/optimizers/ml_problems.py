"""The suite's harder scikit-learn problems: models tuned by cross-validation on bundled data.

Each objective is deterministic for a given configuration: fixed ``random_state`` in the model,
fixed CV splits (shuffled once with seed 0), and a fixed subsample of the data where one keeps an
evaluation well under a second on one core.  Every value is a CV loss (minimised); the spaces
mix log-scaled doubles, ints and categoricals, 4 to 9 dimensions, so that methods that model the
space separate from random search (unlike ``tree-wine``, where everyone finds the optimum).
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import numpy as np
from problems import Param, Problem


@cache
def _data(name: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A bundled data set, subsampled to ``n`` rows (a fixed, seeded choice of rows)."""
    from sklearn import datasets

    loader = {
        "cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }[name]
    x, y = loader(return_X_y=True)
    if n is not None and n < len(y):
        rows = np.random.default_rng(0).permutation(len(y))[:n]
        x, y = x[rows], y[rows]
    return x.astype(np.float64), y


def _folds(classify: bool, k: int = 3) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    kind = StratifiedKFold if classify else KFold
    return kind(n_splits=k, shuffle=True, random_state=0)


def _cv_mean(model: Any, x: np.ndarray, y: np.ndarray, classify: bool, scoring: str) -> float:
    from sklearn.model_selection import cross_val_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of a short MLP run is expected
        scores = cross_val_score(model, x, y, cv=_folds(classify), scoring=scoring)
    return float(np.mean(scores))


def hgb_cancer(p: dict[str, Any]) -> float:
    (
        """HistGradientBoosting on breast cancer: CV log loss (9 parameters).

    Log loss, not accuracy: the best configurations all reach about 97% accuracy, a few
    misclassified samples apart, so accuracy would be nearly as flat as ``tree-wine``.
    """
        ""
    )
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _data("cancer")
    model = HistGradientBoostingClassifier(
        learning_rate=p["learning_rate"],
        max_iter=int(p["max_iter"]),
        max_leaf_nodes=int(p["max_leaf_nodes"]),
        max_depth=int(p["max_depth"]),
        min_samples_leaf=int(p["min_samples_leaf"]),
        l2_regularization=p["l2_regularization"],
        max_features=p["max_features"],
        max_bins=int(p["max_bins"]),
        class_weight=None if p["class_weight"] == "none" else p["class_weight"],
        early_stopping=False,
        random_state=0,
    )
    return -_cv_mean(model, x, y, classify=True, scoring="neg_log_loss")


def mlp_digits(p: dict[str, Any]) -> float:
    """A small MLP on 600 digits, a few epochs: 1 - CV accuracy (8 parameters)."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _data("digits", 600)
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(int(p["width"]),) * int(p["layers"]),
            activation=p["activation"],
            alpha=p["alpha"],
            learning_rate_init=p["learning_rate_init"],
            batch_size=int(p["batch_size"]),
            beta_1=p["beta_1"],
            max_iter=int(p["epochs"]),
            solver="adam",
            random_state=0,
        ),
    )
    return 1.0 - _cv_mean(model, x, y, classify=True, scoring="accuracy")


def svr_diabetes(p: dict[str, Any]) -> float:
    """An SVR on diabetes (inputs and target standardised): 1 - CV R^2 (5 parameters)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    x, y = _data("diabetes")
    # No polynomial kernel: with a large C libsvm takes seconds to minutes on it.  max_iter is
    # a guard for the rest (a capped fit is still deterministic, just a worse model).
    svr = SVR(
        C=p["C"],
        epsilon=p["epsilon"],
        gamma=p["gamma"],
        kernel=p["kernel"],
        max_iter=2_000,
    )
    model = TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), svr), transformer=StandardScaler()
    )
    return 1.0 - _cv_mean(model, x, y, classify=False, scoring="r2")


ML_PROBLEMS: tuple[Problem, ...] = (
    Problem(
        "hgb-cancer",
        (
            Param("learning_rate", "double", 1e-3, 1.0, log=True),
            Param("max_iter", "int", 5, 40),
            Param("max_leaf_nodes", "int", 2, 32),
            Param("max_depth", "int", 1, 12),
            Param("min_samples_leaf", "int", 1, 100),
            Param("l2_regularization", "double", 1e-6, 10.0, log=True),
            Param("max_features", "double", 0.1, 1.0),
            Param("max_bins", "int", 4, 64),
            Param("class_weight", "categorical", choices=("none", "balanced")),
        ),
        hgb_cancer,
        None,
    ),
    Problem(
        "mlp-digits",
        (
            Param("layers", "int", 1, 3),
            Param("width", "int", 8, 128),
            Param("activation", "categorical", choices=("relu", "tanh", "logistic")),
            Param("alpha", "double", 1e-6, 1.0, log=True),
            Param("learning_rate_init", "double", 1e-4, 0.3, log=True),
            Param("batch_size", "int", 16, 256),
            Param("beta_1", "double", 0.5, 0.99),
            Param("epochs", "int", 2, 20),
        ),
        mlp_digits,
        None,
    ),
    Problem(
        "svr-diabetes",
        (
            Param("C", "double", 1e-3, 1e3, log=True),
            Param("epsilon", "double", 1e-3, 1.0, log=True),
            Param("gamma", "double", 1e-4, 1.0, log=True),
            Param("kernel", "categorical", choices=("rbf", "linear")),
        ),
        svr_diabetes,
        None,
    ),
)
