"""scikit-learn: :class:`TunerySearchCV`, a ``GridSearchCV``-like search whose trials are tunery
trials.

    from sklearn.svm import SVC
    from tunery import search
    from tunery.integration.sklearn import TunerySearchCV

    searcher = TunerySearchCV(
        SVC(),
        {"C": search.double(1e-2, 1e2, log=True), "kernel": ["rbf", "linear"]},
        n_trials=30,
        cv=5,
        storage="study.db",        # optional: stored, visible in `tunery ui`, resumable
        study_name="svc-iris",
    )
    searcher.fit(X, y)
    searcher.best_params_, searcher.best_score_, searcher.predict(X_new)

Each trial is a suggestion of an ask/tell :class:`tunery.Optimizer` (``algorithm``, maximising
the cross-validated score: ``scoring``, else the estimator's ``score``).  Each split's test
score is reported at step ``i`` (0, 1, ...) and the trial is told the mean; with
``early_stopping`` (``"medianstop"``, ``"asha"``) a configuration clearly worse after a few
splits is stopped (``EarlyStopped``).  With ``max_iter`` and an estimator that has
``partial_fit``, each split's estimator is trained ``max_iter`` epochs instead, the mean test
score is reported at each epoch (step 1, 2, ...) and early stopping ends a bad configuration
between epochs.

With ``storage`` and ``study_name`` the trials are stored (``tunery trials NAME``, ``tunery
ui``) and a later ``fit`` with the same name continues the search: ``n_trials`` more trials,
the algorithm seeing the earlier ones, ``cv_results_`` and ``best_*`` over all of them.
The study's experiment is ``Succeeded`` after each ``fit`` (``ExperimentFinished``); a later
``fit`` runs it again.  ``n_jobs`` trials are evaluated at once, in threads (scikit-learn's
numerical code releases the GIL; pure-Python estimators gain little).

The search space: ``tunery.search`` objects, Katib parameter dicts, or a list of values (a
categorical parameter whose values keep their Python types: ``[True, False]``, ``[None, 3]``).
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
    from sklearn.exceptions import FitFailedWarning, NotFittedError
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import check_cv
    from sklearn.utils.metaestimators import available_if
except ImportError:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "tunery.integration.sklearn needs scikit-learn, which is not installed; install it "
        'with: pip install "tunery[sklearn]"'
    ) from None

from tunery.errors import UserInputError
from tunery.model import TrialCondition
from tunery.optimizer import Optimizer, Suggestion
from tunery.search import SearchParameter, categorical

__all__ = ["TunerySearchCV"]


@dataclass
class _Result:
    """One evaluated configuration, as this process measured it."""

    params: dict[str, Any]
    test: list[float] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    fit_time: list[float] = field(default_factory=list)
    score_time: list[float] = field(default_factory=list)


def _fitted(search: TunerySearchCV, method: str) -> None:
    """NotFittedError (one line) unless ``search`` has a best estimator."""
    if not search.refit:
        raise NotFittedError(
            f"TunerySearchCV(refit=False) has no best_estimator_: {method} needs refit=True"
        )
    if not hasattr(search, "best_estimator_"):
        raise NotFittedError("this TunerySearchCV is not fitted yet: call fit(X, y) first")


def _delegate(method: str) -> Callable[[TunerySearchCV], bool]:
    """``available_if``'s check: the best estimator (or, before fit, the estimator) has it."""

    def check(self: TunerySearchCV) -> bool:
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, method)
        else:
            getattr(self.estimator, method)
        return True

    return check


class TunerySearchCV(MetaEstimatorMixin, BaseEstimator):
    """Cross-validated search over ``search_space`` with a tunery algorithm (see the module
    docstring).  The attributes after ``fit`` are ``GridSearchCV``'s: ``cv_results_``,
    ``best_index_``, ``best_params_``, ``best_score_``, ``best_estimator_`` (``refit=True``),
    ``refit_time_``, ``scorer_``, ``n_splits_``, ``multimetric_``; plus ``optimizer_`` (finished)
    and ``study_name_``."""

    def __init__(
        self,
        estimator: Any,
        search_space: Mapping[str, Any],
        n_trials: int = 10,
        *,
        algorithm: str = "tpe",
        algorithm_settings: Mapping[str, Any] | None = None,
        cv: Any = 5,
        scoring: Any = None,
        n_jobs: int | None = 1,
        refit: bool = True,
        random_state: int | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        early_stopping: str | None = None,
        early_stopping_settings: Mapping[str, Any] | None = None,
        max_iter: int | None = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
    ) -> None:
        self.estimator = estimator
        self.search_space = search_space
        self.n_trials = n_trials
        self.algorithm = algorithm
        self.algorithm_settings = algorithm_settings
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.random_state = random_state
        self.storage = storage
        self.study_name = study_name
        self.early_stopping = early_stopping
        self.early_stopping_settings = early_stopping_settings
        self.max_iter = max_iter
        self.error_score = error_score
        self.return_train_score = return_train_score

    # ------------------------------------------------------------------ fit

    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **fit_params: Any) -> Any:
        """Run ``n_trials`` trials (more, when a stored study continues), then refit."""
        self._check_arguments()
        space, self._decode = self._space()
        scorer = self._scorer()
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        self.n_splits_ = len(splits)
        self.scorer_ = scorer
        self.multimetric_ = False
        if self.storage is not None and not self.study_name:
            raise UserInputError(
                "TunerySearchCV(storage=...) needs study_name= to store the search under",
                "e.g. study_name='svc-iris'",
            )
        opt = Optimizer(
            space,
            algorithm=self.algorithm,
            objective="maximize",
            settings=self.algorithm_settings,
            seed=self.random_state,
            storage=self.storage,
            name=self.study_name,
            early_stopping=self.early_stopping,
            early_stopping_settings=self.early_stopping_settings,
        )
        self.optimizer_ = opt
        self.study_name_ = opt.name
        self._lock = threading.Lock()
        #: What this fit measured, by trial (earlier fits' trials come from the study).
        self._results: dict[str, _Result] = {}
        with opt:  # finished (Succeeded) after the search; on an error, left to continue
            self._search(opt, X, y, splits, scorer, fit_params)
        self._build_results(opt)
        if self.refit:
            estimator = clone(self.estimator).set_params(**self.best_params_)
            started = time.perf_counter()
            estimator.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - started
            self.best_estimator_ = estimator
        return self

    def _check_arguments(self) -> None:
        n = self.n_trials
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise UserInputError(f"n_trials must be a whole number of 1 or more, not {n!r}")
        if self.max_iter is not None and (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, int | np.integer)
            or self.max_iter < 1
        ):
            raise UserInputError(
                f"max_iter must be a whole number of 1 or more, not {self.max_iter!r}",
                "e.g. max_iter=20 (epochs of partial_fit), or leave it out",
            )
        if self.max_iter is not None and not hasattr(self.estimator, "partial_fit"):
            raise UserInputError(
                f"max_iter= trains with partial_fit, which {type(self.estimator).__name__} "
                "does not have",
                "leave max_iter out (each split is fitted once), or use an estimator with "
                "partial_fit (SGDClassifier, MLPClassifier, ...)",
            )
        if not isinstance(self.refit, bool):
            raise UserInputError(
                f"refit must be True or False, not {self.refit!r}",
                "TunerySearchCV has one score (no multi-metric refit)",
            )

    def _n_jobs(self) -> int:
        n = self.n_jobs
        if n is None:
            return 1
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n == 0:
            raise UserInputError(f"n_jobs must be a whole number (not 0), not {n!r}", "e.g. 4")
        cpus = os.cpu_count() or 1
        return int(n) if n > 0 else max(1, cpus + 1 + int(n))

    def _space(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The Optimizer's parameters, and per list parameter its values by their text."""
        if not isinstance(self.search_space, Mapping) or not self.search_space:
            raise UserInputError(
                "search_space must be a non-empty dict of estimator parameters to "
                "tunery.search objects or lists of values",
                "e.g. {'C': tunery.search.double(1e-2, 1e2, log=True), 'kernel': ['rbf', "
                "'linear']}",
            )
        known = set(self.estimator.get_params(deep=True))
        space: dict[str, Any] = {}
        decode: dict[str, dict[str, Any]] = {}
        for name, given in self.search_space.items():
            if name not in known:
                raise UserInputError(
                    f"search_space[{name!r}]: {type(self.estimator).__name__} has no parameter "
                    f"{name!r}",
                    f"use one of estimator.get_params(): {', '.join(sorted(known)[:12])}",
                )
            if isinstance(given, list | tuple):
                texts = [repr(v) if not isinstance(v, str) else v for v in given]
                if not texts or len(set(texts)) != len(texts):
                    raise UserInputError(
                        f"search_space[{name!r}]: a list of values must be non-empty and distinct",
                        f"e.g. {name!r}: [1, 2, 3]",
                    )
                decode[name] = dict(zip(texts, given, strict=True))
                space[name] = categorical(texts)
            elif isinstance(given, SearchParameter | Mapping):
                space[name] = given
            else:
                raise UserInputError(
                    f"search_space[{name!r}] is {given!r}: give a tunery.search object or a "
                    "list of values",
                    "set a fixed value on the estimator instead",
                )
        return space, decode

    def _scorer(self) -> Any:
        if isinstance(self.scoring, Mapping | list | tuple | set):
            raise UserInputError(
                "TunerySearchCV takes one scoring (a name or a callable), not several",
                "e.g. scoring='accuracy'",
            )
        try:
            return check_scoring(self.estimator, scoring=self.scoring)
        except (ValueError, TypeError) as exc:
            raise UserInputError(
                f"scoring={self.scoring!r}: {' '.join(str(exc).split())}",
                "use a name of sklearn.metrics.get_scorer_names() or a scorer callable",
            ) from None

    def _params(self, suggestion: Suggestion) -> dict[str, Any]:
        return {k: self._decoded(k, v) for k, v in suggestion.params.items()}

    # ------------------------------------------------------------------ the search

    def _search(
        self,
        opt: Optimizer,
        X: Any,
        y: Any,
        splits: Sequence[tuple[Any, Any]],
        scorer: Any,
        fit_params: Mapping[str, Any],
    ) -> None:
        jobs = self._n_jobs()
        run = self._run_epochs if self.max_iter is not None else self._run_splits

        def evaluate(s: Suggestion) -> None:
            run(opt, s, X, y, splits, scorer, fit_params)

        asked = 0
        pending: set[Future[None]] = set()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            while True:
                while asked < self.n_trials and len(pending) < jobs:
                    with self._lock:
                        batch = opt.ask(1)
                    if not batch:
                        break
                    asked += 1
                    pending.add(pool.submit(evaluate, batch[0]))
                if not pending:
                    return  # the budget is spent, or the algorithm has ended
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # an error_score='raise' failure ends the search

    def _fail(self, opt: Optimizer, s: Suggestion, result: _Result, exc: Exception) -> None:
        with self._lock:
            opt.tell(s, failed=True)
        if self.error_score == "raise":
            raise exc
        warnings.warn(
            f"trial {s.id} ({result.params}) failed, its score set to {self.error_score}: "
            f"{type(exc).__name__}: {exc}",
            FitFailedWarning,
            stacklevel=2,
        )

    def _run_splits(
        self,
        opt: Optimizer,
        s: Suggestion,
        X: Any,
        y: Any,
        splits: Sequence[tuple[Any, Any]],
        scorer: Any,
        fit_params: Mapping[str, Any],
    ) -> None:
        """Fit and score each split; report each split's score at its index; tell the mean."""
        result = self._results[s.id] = _Result(self._params(s))
        for i, (train, test) in enumerate(splits):
            try:
                estimator = clone(self.estimator).set_params(**result.params)
                started = time.perf_counter()
                estimator.fit(_rows(X, train), _rows(y, train), **fit_params)
                fitted = time.perf_counter()
                score = float(scorer(estimator, _rows(X, test), _rows(y, test)))
                result.score_time.append(time.perf_counter() - fitted)
                result.fit_time.append(fitted - started)
                if self.return_train_score:
                    result.train.append(float(scorer(estimator, _rows(X, train), _rows(y, train))))
            except Exception as exc:
                self._fail(opt, s, result, exc)
                return
            result.test.append(score)
            with self._lock:
                opt.report(s, score, step=i)
                if i + 1 < len(splits) and opt.should_stop(s, i):
                    return
        with self._lock:
            opt.tell(s, float(np.mean(result.test)))

    def _run_epochs(
        self,
        opt: Optimizer,
        s: Suggestion,
        X: Any,
        y: Any,
        splits: Sequence[tuple[Any, Any]],
        scorer: Any,
        fit_params: Mapping[str, Any],
    ) -> None:
        """Train one estimator per split with ``partial_fit``, ``max_iter`` epochs; report the
        mean test score at each epoch (step 1, 2, ...) and stop when early stopping says so."""
        result = self._results[s.id] = _Result(self._params(s))
        estimators = [clone(self.estimator).set_params(**result.params) for _ in splits]
        extra = dict(fit_params)
        if is_classifier(self.estimator) and "classes" not in extra:
            extra["classes"] = np.unique(y)
        fit_time = [0.0] * len(splits)
        score_time = [0.0] * len(splits)
        assert self.max_iter is not None
        for epoch in range(1, int(self.max_iter) + 1):
            try:
                scores, train_scores = [], []
                for k, ((train, test), estimator) in enumerate(
                    zip(splits, estimators, strict=True)
                ):
                    started = time.perf_counter()
                    estimator.partial_fit(_rows(X, train), _rows(y, train), **extra)
                    fitted = time.perf_counter()
                    scores.append(float(scorer(estimator, _rows(X, test), _rows(y, test))))
                    fit_time[k] += fitted - started
                    score_time[k] += time.perf_counter() - fitted
                    if self.return_train_score:
                        train_scores.append(
                            float(scorer(estimator, _rows(X, train), _rows(y, train)))
                        )
            except Exception as exc:
                self._fail(opt, s, result, exc)
                return
            result.test, result.train = scores, train_scores
            result.fit_time, result.score_time = list(fit_time), list(score_time)
            mean = float(np.mean(scores))
            with self._lock:
                opt.report(s, mean, step=epoch)
                if epoch < self.max_iter and opt.should_stop(s, epoch):
                    return
        with self._lock:
            opt.tell(s, float(np.mean(result.test)))

    # ------------------------------------------------------------------ results

    def _build_results(self, opt: Optimizer) -> None:
        """``cv_results_`` over every finished trial of the study, in ask order."""
        trials = [t for t in opt.trials if t.status.is_completed]
        if not trials:
            raise UserInputError(
                "no trial finished: the algorithm suggested nothing",
                "widen the search space, or use another algorithm",
            )
        n = self.n_splits_
        columns: dict[str, list[Any]] = {}
        names = list(self.search_space)

        def put(key: str, value: Any) -> None:
            columns.setdefault(key, []).append(value)

        for trial in trials:
            result = self._results.get(trial.name)
            if result is None:  # an earlier fit's trial (another process): from the store
                result = _Result({k: self._decoded(k, v) for k, v in trial.parameters.items()})
                if self.max_iter is None:
                    by_step = dict(opt.reports(trial.name))  # its split scores
                    result.test = [_num(by_step.get(i)) for i in range(n)]
                    while result.test and math.isnan(result.test[-1]):
                        result.test.pop()  # stopped after fewer splits
            ok = trial.status is TrialCondition.SUCCEEDED
            failed = trial.status.is_failed
            test = [self.error_score] * n if failed else _pad(result.test, n)
            for i in range(n):
                put(f"split{i}_test_score", test[i])
            scores = [v for v in test if not _isnan(v)]
            put("mean_test_score", float(np.mean(scores)) if scores else np.nan)
            put("std_test_score", float(np.std(scores)) if scores else np.nan)
            if self.return_train_score:
                train = _pad(result.train, n)
                for i in range(n):
                    put(f"split{i}_train_score", train[i])
                put("mean_train_score", _mean(train))
                put("std_train_score", _std(train))
            for what in ("fit_time", "score_time"):
                put(f"mean_{what}", _mean(getattr(result, what)))
                put(f"std_{what}", _std(getattr(result, what)))
            for name in names:
                put(f"param_{name}", result.params.get(name))
            put("params", dict(result.params))
            put("trial_name", trial.name)
            put("status", trial.status.value)
            put("_ok", ok)
        ok_flags = columns.pop("_ok")
        means = np.array(columns["mean_test_score"], dtype=float)
        ranking = np.where(np.array(ok_flags) & ~np.isnan(means), means, -np.inf)
        order = np.argsort(-ranking, kind="stable")
        ranks = np.empty(len(means), dtype=np.int32)
        rank = 0
        previous = None
        for position, index in enumerate(order):
            if previous is None or ranking[index] != previous:
                rank = position + 1
                previous = ranking[index]
            ranks[index] = rank
        results: dict[str, Any] = {}
        for key, values in columns.items():
            if key.startswith("param_"):
                results[key] = np.ma.MaskedArray(
                    np.array(values, dtype=object), mask=[v is None for v in values]
                )
            elif key in ("params", "trial_name", "status"):
                results[key] = values if key == "params" else np.array(values, dtype=object)
            else:
                results[key] = np.array(values, dtype=float)
        results["rank_test_score"] = ranks
        self.cv_results_ = results
        if not np.isfinite(ranking).any():
            raise UserInputError(
                f"no trial succeeded out of {len(trials)} ({_statuses(trials)})",
                "look at the FitFailedWarning messages, or pass error_score='raise'",
            )
        self.best_index_ = int(order[0])
        self.best_score_ = float(means[self.best_index_])
        self.best_params_ = dict(columns["params"][self.best_index_])

    def _decoded(self, name: str, value: Any) -> Any:
        decode: dict[str, dict[str, Any]] = getattr(self, "_decode", {})
        return decode[name].get(str(value), value) if name in decode else value

    # ------------------------------------------------------------------ delegation

    @available_if(_delegate("predict"))
    def predict(self, X: Any) -> Any:
        _fitted(self, "predict()")
        return self.best_estimator_.predict(X)

    @available_if(_delegate("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        _fitted(self, "predict_proba()")
        return self.best_estimator_.predict_proba(X)

    @available_if(_delegate("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        _fitted(self, "predict_log_proba()")
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_delegate("decision_function"))
    def decision_function(self, X: Any) -> Any:
        _fitted(self, "decision_function()")
        return self.best_estimator_.decision_function(X)

    @available_if(_delegate("transform"))
    def transform(self, X: Any) -> Any:
        _fitted(self, "transform()")
        return self.best_estimator_.transform(X)

    @available_if(_delegate("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        _fitted(self, "inverse_transform()")
        return self.best_estimator_.inverse_transform(X)

    def score(self, X: Any, y: Any = None) -> float:
        """The search's score (``scoring``, else the estimator's) of the best estimator."""
        _fitted(self, "score")
        return float(self.scorer_(self.best_estimator_, X, y))

    @property
    def classes_(self) -> Any:
        _fitted(self, "classes_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        _fitted(self, "n_features_in_")
        return int(self.best_estimator_.n_features_in_)


# --------------------------------------------------------------------------- helpers


def _rows(data: Any, index: Any) -> Any:
    """Rows ``index`` of ``data`` (arrays, DataFrames, lists; None stays None)."""
    if data is None:
        return None
    if hasattr(data, "iloc"):
        return data.iloc[index]
    if hasattr(data, "shape"):
        return data[index]
    return [data[i] for i in index]


def _num(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _pad(values: Sequence[float], n: int) -> list[float]:
    return [*values, *([np.nan] * (n - len(values)))][:n]


def _mean(values: Iterable[float]) -> float:
    finite = [v for v in values if not _isnan(v)]
    return float(np.mean(finite)) if finite else np.nan


def _std(values: Iterable[float]) -> float:
    finite = [v for v in values if not _isnan(v)]
    return float(np.std(finite)) if finite else np.nan


def _statuses(trials: Sequence[Any]) -> str:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status.value] = counts.get(t.status.value, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in counts.items())
