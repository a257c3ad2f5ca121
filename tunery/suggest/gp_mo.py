"""``bayesianoptimization`` with several objectives or with constraints.

:class:`~tunery.suggest.gp.GPSuggester` hands a suggestion to :func:`suggest_multi` when the
experiment has more than one objective or any constraint; a single unconstrained objective
never comes here (its behaviour, seeds and saved states are those of :mod:`tunery.suggest.gp`).

The model
---------
- One Gaussian process per objective and one per constraint, each as the single-objective GP
  (Matérn-5/2 ARD on the same encoded inputs, MAP hyperparameters with the same fitting code and
  warm starts, one slot of the saved state each: ``models`` in the state).
- Objective values (losses, signed for minimisation) are warped per objective as in the
  single-objective GP (standardise, Yeo-Johnson, standardise); constraint values (``<= 0``
  satisfied, as :class:`~tunery.history.Entry` signs them) are only standardised, so that the
  bound 0 stays a known threshold.  A constraint's GP learns from every completed trial that
  reported its metric, an objective's from every completed trial with all objectives.
- The front: the non-dominated losses (warped) of the observed trials that satisfy every
  constraint.  The reference point is the front's nadir plus 0.1 of its range per objective
  (:func:`tunery.pareto.reference_point`); with 2 objectives, at least the worst value among
  the feasible observed trials: a reference at the nadir gives nothing for extending the front
  beyond its ends, and the search then crowds the middle (on ZDT1 the hypervolume after 30
  evaluations rose from 11.44 to 11.73 of 11.77 with this rule).  With 3-4 objectives that far
  reference made the search chase the corners (DTLZ2, 4 objectives, 50 evaluations, 4 seeds:
  hypervolume 2.91 against 3.16 with the nadir rule, random search 3.10), so they keep the
  nadir rule.

The acquisition
---------------
- Objectives: log expected hypervolume improvement over the front, exact for independent
  Gaussian predictions (:func:`tunery.suggest.gp_mo_math.log_ehvi`, a box decomposition of the
  region the front does not dominate: ``m + 1`` boxes for 2 objectives, a grid of at most 4096
  for 3 and 4, a 4-objective front too large for that reduced to its points with the largest
  dominated boxes).  With one objective this is log expected improvement below the best
  feasible value.
- Constraints: plus the log probability of feasibility (the product over the constraint GPs of
  ``P(c <= 0)``).  While no observed trial is feasible, the probability of feasibility alone.
- Optimised over the same candidates as the single-objective GP (Sobol points and perturbations
  of up to five front points), then once more around the five best candidates at smaller
  steps; no gradient refinement.
- Batches and pending trials: each pending trial and each point already chosen is a fantasy
  (Kriging believer): every objective's and constraint's GP is conditioned on its posterior
  mean there, and a fantasy believed feasible joins the front, so that the next point is
  sought elsewhere.
- At most :data:`~tunery.suggest.gp.MAX_GP_POINTS` trials feed the models: the best half by
  non-dominated rank (feasible first) plus a seeded random subset of the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tunery.history import Entry, History
from tunery.pareto import constrained_ranks, non_dominated, reference_point
from tunery.space import Key
from tunery.suggest.gp_math import GaussianProcess, warp
from tunery.suggest.gp_mo_math import (
    log_ehvi,
    log_probability_of_feasibility,
    nondominated_boxes,
)

if TYPE_CHECKING:
    from tunery.suggest.gp import GPSuggester

__all__ = ["suggest_multi"]

FloatArray = npt.NDArray[np.float64]

#: Local perturbation scales of the second candidate round (unit cube).
_LOCAL_SCALES = np.array([0.005, 0.02, 0.06])
_LOCAL_PER = 64
#: Beyond this many boxes, candidates are shortlisted by a coarse pass with this many.
_COARSE_BOXES = 256
#: How many candidates get the exact score after the coarse pass.
_SHORTLIST = 160
#: How far below the shortlist the other candidates' scores are put (keeps them ordered).
_BELOW = 1e3


class _Models:
    """The objective and constraint GPs of one suggestion, with their fantasies and front."""

    def __init__(
        self,
        objectives: list[GaussianProcess],
        constraints: list[GaussianProcess],
        thresholds: FloatArray,
        front: FloatArray,
        worst: FloatArray,
    ) -> None:
        self.objectives = objectives
        self.constraints = constraints
        self.thresholds = thresholds
        self.front = front  # (m, M) warped losses of the feasible front; may be empty
        #: The worst value of each objective among the feasible trials (2 objectives), or -inf.
        self.worst = worst
        self.reference = np.zeros(len(objectives))
        self.boxes: tuple[FloatArray, FloatArray] | None = None
        self.coarse: tuple[FloatArray, FloatArray] | None = None
        self._rebox()

    def _rebox(self) -> None:
        self.coarse = None
        if len(self.front):
            nadir = np.asarray(reference_point(self.front.tolist()), dtype=np.float64)
            self.reference = np.maximum(nadir, self.worst)
            self.boxes = nondominated_boxes(self.front, self.reference)
            if len(self.boxes[0]) > _COARSE_BOXES:
                self.coarse = nondominated_boxes(self.front, self.reference, _COARSE_BOXES)
        else:
            self.boxes = None

    def predict(
        self, features: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        def stack(gps: list[GaussianProcess]) -> tuple[FloatArray, FloatArray]:
            if not gps:
                return np.zeros((len(features), 0)), np.zeros((len(features), 0))
            pairs = [gp.predict(features) for gp in gps]
            return np.stack([p[0] for p in pairs], 1), np.stack([p[1] for p in pairs], 1)

        mu, sd = stack(self.objectives)
        c_mu, c_sd = stack(self.constraints)
        return mu, sd, c_mu, c_sd

    def score(self, features: FloatArray) -> FloatArray:
        mu, sd, c_mu, c_sd = self.predict(features)
        pof = log_probability_of_feasibility(c_mu, c_sd, self.thresholds)
        if self.boxes is None:
            return pof
        if self.coarse is None or len(features) <= _SHORTLIST:
            return log_ehvi(mu, sd, *self.boxes) + pof
        # A large front (3-4 objectives): a coarse pass over a reduced front (an upper bound of
        # the improvement) shortlists the candidates that get the exact score; the others
        # keep their order, below every exact score.
        scores = log_ehvi(mu, sd, *self.coarse) + pof
        shortlist = np.argsort(-scores, kind="stable")[:_SHORTLIST]
        exact = log_ehvi(mu[shortlist], sd[shortlist], *self.boxes) + pof[shortlist]
        floor = float(exact[np.isfinite(exact)].min()) if np.isfinite(exact).any() else 0.0
        scores = np.minimum(scores, floor) - _BELOW
        scores[shortlist] = exact
        return scores

    def believe(self, features: FloatArray) -> None:
        """Condition every GP on its posterior mean at one point (a fantasy)."""
        mu, _, c_mu, _ = self.predict(features)
        for gp, value in zip(self.objectives, mu[0], strict=True):
            gp.add(features[0], float(value))
        for gp, value in zip(self.constraints, c_mu[0], strict=True):
            gp.add(features[0], float(value))
        if np.all(c_mu[0] <= self.thresholds):
            self.front = np.vstack([self.front.reshape(-1, len(self.objectives)), mu[:1]])
            self._rebox()


def _standardise(values: FloatArray) -> tuple[FloatArray, float]:
    """Standardised values and where 0 lands (the constraint's bound)."""
    mean = float(values.mean())
    sd = float(values.std())
    if not sd > 0 or not np.isfinite(sd):
        sd = 1.0
    return (values - mean) / sd, -mean / sd


def _cap(rows: list[Entry], constrained: bool, most: int, rng: np.random.Generator) -> list[Entry]:
    """At most ``most`` rows: the best half by constrained rank, a random subset of the rest."""
    if len(rows) <= most:
        return rows
    scored = [i for i, e in enumerate(rows) if e.losses is not None]
    violations = (
        [None if rows[i].constraints is None else list(rows[i].constraints or ()) for i in scored]
        if constrained
        else None
    )
    ranks = constrained_ranks([list(rows[i].losses or ()) for i in scored], violations)
    order = [scored[i] for i in np.argsort(np.asarray(ranks), kind="stable")]
    order += [i for i, e in enumerate(rows) if e.losses is None]
    keep = order[: most // 2]
    rest = rng.choice(np.asarray(order[most // 2 :]), most - len(keep), replace=False)
    chosen = np.sort(np.concatenate([np.asarray(keep), rest]))
    return [rows[int(i)] for i in chosen]


def _fit_models(
    suggester: GPSuggester, history: History, rows: list[Entry], rng: np.random.Generator
) -> tuple[_Models, FloatArray]:
    """The fitted GPs over ``rows`` and the unit-cube points of the front (for candidates)."""
    space = suggester.space
    n_obj, n_con = history.n_objectives, history.n_constraints
    objective_rows = [e for e in rows if e.losses is not None]
    objectives: list[GaussianProcess] = []
    warped = np.zeros((len(objective_rows), n_obj))
    unit_obj = space.encode_keys([e.key for e in objective_rows if e.key is not None])
    x_obj = suggester._features(unit_obj)
    for j in range(n_obj):
        values = np.array([(e.losses or ())[j] for e in objective_rows], dtype=np.float64)
        warped[:, j] = warp(values)
        theta = suggester.fit_model(j, x_obj, warped[:, j], rng)
        objectives.append(GaussianProcess(x_obj, warped[:, j], theta))
    constraints: list[GaussianProcess] = []
    known = [e for e in rows if e.constraints is not None]
    if len(known) < 2:
        # (Too little to model the constraints yet: the front ignores them until then.)
        n_con = 0
    thresholds = np.zeros(n_con)
    for j in range(n_con):
        values = np.array([(e.constraints or ())[j] for e in known], dtype=np.float64)
        y, thresholds[j] = _standardise(values)
        x = suggester._features(space.encode_keys([e.key for e in known if e.key is not None]))
        theta = suggester.fit_model(n_obj + j, x, y, rng)
        constraints.append(GaussianProcess(x, y, theta))
    feasible = np.array([e.feasible or not n_con for e in objective_rows], dtype=bool)
    front = warped[feasible]
    # (2 objectives only: with 3-4 a far reference made EHVI chase the corners; see the docstring.)
    worst = front.max(axis=0) if len(front) and n_obj == 2 else np.full(n_obj, -np.inf)
    front_unit = unit_obj[feasible]
    if len(front):
        on_front = non_dominated(front.tolist())
        front, front_unit = front[on_front], front_unit[on_front]
    models = _Models(objectives, constraints, thresholds, front.reshape(-1, n_obj), worst)
    return models, front_unit


def suggest_multi(
    suggester: GPSuggester,
    history: History,
    pending: list[Key],
    taken: set[Key],
    count: int,
) -> list[Key]:
    """Up to ``count`` new keys for a multi-objective or constrained experiment."""
    from tunery.suggest.gp import MAX_GP_POINTS

    space = suggester.space
    rng = np.random.default_rng([suggester.seed, 2, len(history)])
    rows = [
        e
        for e in history.completed
        if e.key is not None and (e.losses is not None or e.constraints is not None)
    ]
    rows = _cap(rows, history.n_constraints > 0, MAX_GP_POINTS, rng)
    models, front_unit = _fit_models(suggester, history, rows, rng)
    for key in pending:
        models.believe(suggester._features(space.encode_keys([key])))
    if len(front_unit) > 5:
        front_unit = front_unit[np.sort(rng.choice(len(front_unit), 5, replace=False))]
    if len(front_unit) == 0:
        # No feasible trial yet: perturb the most nearly feasible ones.
        front_unit = _least_violating(suggester, rows)
    candidates = suggester._candidates(rng, front_unit)
    found: list[Key] = []
    seen = set(taken)
    for _ in range(count):
        picked = _pick(suggester, models, candidates, seen, rng)
        if picked is None:
            break
        found.append(picked)
        seen.add(picked)
        models.believe(suggester._features(space.encode_keys([picked])))
    if len(found) < count:
        found += space.sample_new_keys(rng, seen, count - len(found))
    return found


def _least_violating(suggester: GPSuggester, rows: list[Entry]) -> FloatArray:
    """The unit-cube points of (up to) the five trials nearest to feasibility."""
    known = [e for e in rows if e.key is not None and e.constraints is not None]
    violation = [float(np.maximum(np.asarray(e.constraints), 0.0).sum()) for e in known]
    order = np.argsort(np.asarray(violation), kind="stable")[:5]
    keys = [known[int(i)].key for i in order]
    return suggester.space.encode_keys([k for k in keys if k is not None])


def _pick(
    suggester: GPSuggester,
    models: _Models,
    candidates: FloatArray,
    seen: set[Key],
    rng: np.random.Generator,
) -> Key | None:
    """The best-scoring new key among the candidates and a local round around the best ones."""
    keys, unit = suggester._snap(candidates)
    scores = models.score(suggester._features(unit))
    order = np.argsort(-scores, kind="stable")
    fresh = [int(i) for i in order if keys[i] not in seen]
    if not fresh:
        return None
    best_key, best_score = keys[fresh[0]], float(scores[fresh[0]])
    if suggester.refine and suggester._cont:
        tops = unit[fresh[:5]]
        local = np.repeat(tops, _LOCAL_PER, axis=0)
        scale = rng.choice(_LOCAL_SCALES, size=(len(local), 1))
        local = np.clip(local + rng.normal(size=local.shape) * scale, 0.0, 1.0)
        for dim, _size in suggester._cats:  # categories stay as they are
            local[:, dim] = np.repeat(tops[:, dim], _LOCAL_PER)
        l_keys, l_unit = suggester._snap(local)
        l_scores = models.score(suggester._features(l_unit))
        for i in np.argsort(-l_scores, kind="stable"):
            if l_keys[i] not in seen:
                if float(l_scores[i]) > best_score:
                    best_key = l_keys[i]
                break
    return best_key
