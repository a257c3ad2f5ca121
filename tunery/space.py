"""The search space: typed parameters, sampling, unit-cube encoding, grids and canonical keys.

A :class:`SearchSpace` turns Katib's ``parameters`` (whose bounds are strings) into numbers and
offers what every search algorithm needs, in plain numpy (no storage, no clock).

Parameter types
---------------
- ``double``: floats in ``[min, max]``.  With a ``step`` the values are ``min + k*step`` for
  integer ``k >= 0``, never above ``max``, each rounded to the decimals written in ``min`` and
  ``step`` (so ``0.1 + 2*0.1`` gives ``0.3``, not ``0.30000000000000004``).
- ``int``: integers ``min + k*step`` in ``[min, max]``; ``step`` defaults to 1 (Katib's
  ``internal/search_space.py`` does the same).
- ``discrete``: the numbers of ``feasibleSpace.list``: ints if every entry is an integer literal,
  floats otherwise; entries equal as numbers (``"1"``, ``"1.0"``) count once.
- ``categorical``: the strings of ``feasibleSpace.list``.

Distributions (``double`` and ``int``; lists are always drawn uniformly)
-----------------------------------------------------------------------
Katib's hyperopt service (``pkg/suggestion/v1beta1/hyperopt/base_service.py``) defines them:

- ``uniform``: uniform in ``[min, max]``.
- ``logUniform``: uniform in ``[log(min), log(max)]``, then ``exp``; needs ``min > 0``.
- ``normal``: ``N(mu, sigma)`` with ``mu = (min + max) / 2`` and ``sigma = (max - min) / 6`` (so
  that ``min``/``max`` are three sigmas away), then **clipped** to ``[min, max]`` (hyperopt does
  not clip; we do, so that every value is feasible).
- ``logNormal``: ``exp(N(mu, sigma))`` with ``mu = (log(min) + log(max)) / 2`` and
  ``sigma = (log(max) - log(min)) / 6``, then clipped to ``[min, max]``; needs ``min > 0``.

A stepped parameter (``int``, or ``double`` with ``step``) draws a continuous value as above and
rounds it to the nearest grid value.  Under ``uniform`` every grid value is equally likely (Katib's
hyperopt ``quniform`` gives the two end values half the weight; we do not).

Canonical keys
--------------
Each parameter has a *code*: the index of the value for stepped and list parameters (an
``int``), the float itself for a ``double`` without step.  A configuration's canonical key is the
tuple of its codes in spec order: hashable, and equal for values that differ only by float noise
(``0.30000000000000004`` and ``0.3`` with step 0.1), string form (``"3"`` and ``3``) or number
form (``32`` and ``32.0`` of a discrete list).  Algorithms use it for duplicate detection.

Unit-cube encoding
------------------
One dimension per parameter, in spec order, each in ``[0, 1]``:

- ``double`` without step: linear ``(v - min) / (max - min)``; for ``logUniform``/``logNormal`` the
  same in log space.
- stepped ``double``/``int``: the range is widened by half a step on each side, so that every grid
  value owns an equal-width bucket (linear distributions: value ``k`` of ``n`` encodes to
  ``(k + 0.5) / n``); with a log distribution the widened range is mapped in log space (the
  lower widening is dropped when ``min - step/2 <= 0``).  Decoding rounds to the nearest grid
  value.
- ``discrete``/``categorical``: ``n`` equal buckets of the list indices: index ``i`` encodes to
  ``(i + 0.5) / n``; decoding takes ``floor(x * n)``.

``decode(encode(p)) == p`` for canonical values (up to float rounding for doubles without step),
and every point of the cube decodes to a feasible configuration.

Grid
----
:meth:`SearchSpace.grid` enumerates every configuration in Katib's grid order: the cartesian
product of the parameters **sorted by name**, the last name varying fastest, each parameter's
values ascending (lists in their written order).  That is the order of the Optuna ``GridSampler``
Katib's grid service builds (``pkg/suggestion/v1beta1/internal/search_space.py``,
``convert_to_combinations``), which sorts parameter names; Optuna then visits the unvisited points
in random order, while tunery walks them in order (resumable, reproducible).  Double values are
``min + k*step`` up to ``max``, like Katib's ``np.arange(min, max + step, step)`` without the
points above ``max``, but counted in decimal arithmetic: where float noise makes Katib drop
``max`` itself (``min: "0.1", max: "0.7", step: "0.2"`` ends at ``0.5`` in Katib), tunery keeps
it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt

from tunery.dimensions import (
    ENUMERATION_LIMIT,
    Dim,
    FloatArray,
    IntArray,
    log_normal_parameters,
    make_dim,
    normal_parameters,
)
from tunery.errors import SpecError, UserInputError
from tunery.model import ExperimentSpec, ParameterSpec, ParamValue, Trial
from tunery.parameters import check_parameters

__all__ = [
    "ENUMERATION_LIMIT",
    "Key",
    "SearchSpace",
    "log_normal_parameters",
    "normal_parameters",
]


#: A canonical key: one code per parameter (an index, or the float of a double without step;
#: None for a parameter a conditional space leaves inactive, see :mod:`tunery.conditions`).
Key = tuple[int | float | None, ...]

# --------------------------------------------------------------------------- the space


class SearchSpace:
    """The typed search space of an experiment (see the module docstring for the semantics).

    Built from parameters with an ``active_when`` it is a
    :class:`tunery.conditions.ConditionalSpace` (the same interface; keys hold None for an
    inactive parameter).
    """

    #: True when some parameter is conditional (``ParameterSpec.active_when``).
    conditional = False

    def __new__(cls, parameters: Sequence[ParameterSpec] = (), *args: Any, **kw: Any) -> Any:
        if cls is SearchSpace and any(p.active_when for p in parameters):
            from tunery.conditions import ConditionalSpace  # (it derives from this class)

            return super().__new__(ConditionalSpace)
        return super().__new__(cls)

    def __init__(self, parameters: Sequence[ParameterSpec], *, empty_ok: bool = False) -> None:
        # Katib's rules (one place, shared with spec validation); the dimensions trust them.
        # ``empty_ok``: a neural architecture search has no parameters (its algorithm assigns
        # named strings), so its space is empty and every trial's key is ``()``.
        if parameters or not empty_ok:
            check_parameters(parameters, merge_repeats=True)
        dims = [make_dim(param, f"spec.parameters[{i}]") for i, param in enumerate(parameters)]
        self.parameters: tuple[ParameterSpec, ...] = tuple(parameters)
        self.names: tuple[str, ...] = tuple(p.name for p in parameters)
        self._dims: tuple[Dim, ...] = tuple(dims)
        self._index = {name: i for i, name in enumerate(self.names)}
        sizes = [d.size for d in dims]
        self._size: int | None = None
        if all(s is not None for s in sizes):
            self._size = math.prod(s for s in sizes if s is not None)
        # Katib's grid order: parameters sorted by name, the last one varying fastest.
        self._grid_order: tuple[int, ...] = tuple(
            sorted(range(len(dims)), key=lambda i: self.names[i])
        )
        self._strides: list[int] = [0] * len(dims)
        stride = 1
        for i in reversed(self._grid_order):
            self._strides[i] = stride
            stride *= sizes[i] or 1
        self._key_cache: dict[str, tuple[Mapping[str, Any], Key | None]] = {}

    @classmethod
    def from_spec(cls, spec: ExperimentSpec) -> SearchSpace:
        if spec.nas_config is not None:  # (a NAS spec has no parameters, hence no condition)
            return cls((), empty_ok=True)
        return cls(spec.parameters)

    # ----------------------------------------------------------------- shape

    @property
    def dims(self) -> int:
        """Dimensions of the unit cube: one per parameter."""
        return len(self._dims)

    def size(self) -> int | None:
        """Number of distinct configurations; None when infinite (a double without step)."""
        return self._size

    def grid_size(self) -> int | None:
        """Number of grid points (ints step 1 by default); None when a double has no step."""
        return self._size

    def parameter_sizes(self) -> tuple[int | None, ...]:
        """Number of values of each parameter (None: a double without step), in spec order."""
        return tuple(d.size for d in self._dims)

    # ----------------------------------------------------------------- conditions

    def active_mask(self, keys: Sequence[Key]) -> npt.NDArray[np.bool_]:
        """Which parameters of each key are active, shape ``(len(keys), dims)``."""
        return np.ones((len(keys), self.dims), dtype=bool)

    def is_active(self, name: str, params: Mapping[str, object]) -> bool:
        """Whether parameter ``name`` is active given the (parents') values in ``params``."""
        return name in self._index

    def parents(self, name: str) -> tuple[str, ...]:
        """The parameters that ``name``'s condition names (directly), in the written order."""
        return ()

    def groups(self) -> list[tuple[str, ...]]:
        """The parameters that are always active together (one group without conditions)."""
        return [self.names]

    def branches(self, name: str) -> list[tuple[frozenset[int], FloatArray]]:
        """A parent parameter's branches (codes, unit coordinates); none without conditions."""
        return []

    # ----------------------------------------------------------------- keys and values

    def canonical(self, params: Mapping[str, object]) -> Key:
        """The canonical key of a configuration; UserInputError when it is not in the space.

        Values may be typed or strings; names outside the space are ignored.
        """
        codes: list[int | float] = []
        for dim in self._dims:
            if dim.name not in params:
                raise UserInputError(
                    f"parameter {dim.name!r} has no value", f"give a value for {dim.name!r}"
                )
            try:
                codes.append(dim.code(params[dim.name]))
            except (ValueError, TypeError, OverflowError) as exc:
                raise UserInputError(
                    f"parameter {dim.name!r}: {exc}", "give a value inside its feasibleSpace"
                ) from None
        return tuple(codes)

    def try_canonical(self, params: Mapping[str, object]) -> Key | None:
        """:meth:`canonical`, or None when the configuration is not in the space."""
        try:
            return self.canonical(params)
        except UserInputError:
            return None

    def contains(self, params: Mapping[str, object]) -> bool:
        """True when ``params`` names exactly the space's parameters with feasible values."""
        return set(params) == set(self.names) and self.try_canonical(params) is not None

    def validate_value(self, name: str, value: object) -> ParamValue:
        """The typed canonical value of one parameter; UserInputError when infeasible."""
        index = self._index.get(name)
        if index is None:
            raise UserInputError(
                f"unknown parameter {name!r}", f"the parameters are: {', '.join(self.names)}"
            )
        dim = self._dims[index]
        try:
            return dim.value(dim.code(value))
        except (ValueError, TypeError, OverflowError) as exc:
            raise UserInputError(
                f"parameter {name!r}: {exc}", "give a value inside its feasibleSpace"
            ) from None

    def normalize(self, params: Mapping[str, object]) -> dict[str, ParamValue]:
        """The configuration with typed canonical values (rounded to the step, typed)."""
        return self.params_of(self.canonical(params))

    def from_strings(self, params: Mapping[str, str]) -> dict[str, ParamValue]:
        """Katib's string assignments (``{"lr": "0.01"}``) as typed canonical values."""
        return {name: self.validate_value(name, text) for name, text in params.items()}

    def params_of(self, key: Key) -> dict[str, ParamValue]:
        """The configuration (typed values, spec order) of a canonical key."""
        return {
            dim.name: dim.value(code)
            for dim, code in zip(self._dims, key, strict=True)
            if code is not None  # an inactive parameter
        }

    def key_of(self, trial: Trial) -> Key | None:
        """A trial's canonical key (None: outside the space), cached by trial name."""
        params = trial.parameters
        entry = self._key_cache.get(trial.name)
        if entry is not None and (entry[0] is params or entry[0] == params):
            return entry[1]
        key = self.try_canonical(params)
        self._key_cache[trial.name] = (params, key)
        return key

    def history_keys(self, history: Iterable[Trial]) -> set[Key]:
        """Canonical keys of every trial in ``history`` (trials outside the space left out)."""
        return {key for trial in history if (key := self.key_of(trial)) is not None}

    # ----------------------------------------------------------------- sampling

    def sample(self, rng: np.random.Generator, n: int) -> list[dict[str, ParamValue]]:
        """``n`` configurations drawn from the parameters' distributions (may repeat)."""
        return [self.params_of(key) for key in self.sample_keys(rng, n)]

    def sample_keys(self, rng: np.random.Generator, n: int) -> list[Key]:
        """Like :meth:`sample`, as canonical keys."""
        if n <= 0:
            return []
        columns = [dim.sample_codes(rng, n).tolist() for dim in self._dims]
        return list(zip(*columns, strict=True))

    def sample_new_keys(
        self,
        rng: np.random.Generator,
        exclude: AbstractSet[Key],
        count: int,
        *,
        max_draws: int | None = None,
    ) -> list[Key]:
        """Up to ``count`` distinct keys drawn from the distributions, none in ``exclude``.

        ``exclude`` must hold keys of this space (as :meth:`history_keys` returns).  Draws are
        rejected when already taken, at most ``max_draws`` of them (default ``max(64,
        16*count)``); a finite space of at most :data:`ENUMERATION_LIMIT` configurations then
        draws the rest directly from the configurations left (weighted by the distributions), so
        it returns fewer than ``count`` only when fewer are left.  A larger or infinite space may
        return fewer after ``max_draws`` rejections.
        """
        if count <= 0:
            return []
        size = self._size
        if size is not None:
            left = size - len(exclude)
            if left <= 0:
                return []
            count = min(count, left)
            if size <= ENUMERATION_LIMIT and left <= 2 * count:
                return self.choose_remaining(rng, exclude, count)
        budget = max_draws if max_draws is not None else max(64, 16 * count)
        found: list[Key] = []
        taken: set[Key] = set()
        drawn = 0
        while len(found) < count and drawn < budget:
            batch = min(budget - drawn, max(16, 2 * (count - len(found))))
            drawn += batch
            for key in self.sample_keys(rng, batch):
                if key in exclude or key in taken:
                    continue
                taken.add(key)
                found.append(key)
                if len(found) == count:
                    break
        if len(found) < count and size is not None and size <= ENUMERATION_LIMIT:
            found += self.choose_remaining(rng, exclude | taken, count - len(found))
        return found

    def choose_remaining(
        self, rng: np.random.Generator, exclude: AbstractSet[Key], count: int
    ) -> list[Key]:
        """Up to ``count`` distinct keys of the configurations not in ``exclude``.

        Drawn without replacement with probabilities proportional to each configuration's
        probability under the parameters' distributions.  Only for finite spaces of at most
        :data:`ENUMERATION_LIMIT` configurations.
        """
        size = self._size
        if size is None or size > ENUMERATION_LIMIT:
            raise ValueError("choose_remaining needs a finite space of at most 2**20 points")
        if count <= 0:
            return []
        mask = np.ones(size, dtype=bool)
        if exclude:
            mask[self.flat_indices(exclude)] = False
        remaining = np.flatnonzero(mask)
        if remaining.size == 0:
            return []
        count = min(count, int(remaining.size))
        weights: FloatArray | None = None
        for i, dim in enumerate(self._dims):
            dim_weights = dim.weights()
            if dim_weights is None:
                continue
            codes = (remaining // self._strides[i]) % (dim.size or 1)
            weights = dim_weights[codes] if weights is None else weights * dim_weights[codes]
        if weights is None:
            chosen = rng.choice(remaining, size=count, replace=False)
        else:
            chosen = rng.choice(remaining, size=count, replace=False, p=weights / weights.sum())
        return [self.key_at(int(flat)) for flat in chosen]

    # ----------------------------------------------------------------- unit cube

    def encode(self, params: Mapping[str, object]) -> FloatArray:
        """The configuration as a point of ``[0, 1]^dims`` (see the module docstring)."""
        return self.encode_keys([self.canonical(params)])[0]

    def encode_many(self, configurations: Sequence[Mapping[str, object]]) -> FloatArray:
        """:meth:`encode` of many configurations: an array of shape ``(n, dims)``."""
        return self.encode_keys([self.canonical(p) for p in configurations])

    def encode_keys(self, keys: Sequence[Key]) -> FloatArray:
        """Canonical keys as unit-cube points, shape ``(len(keys), dims)``."""
        out = np.empty((len(keys), self.dims), dtype=np.float64)
        if not keys:
            return out
        # zip(*keys): the columns in one pass of C, not one Python loop per dimension.
        columns = zip(*keys, strict=True)
        for i, (dim, column) in enumerate(zip(self._dims, columns, strict=True)):
            out[:, i] = dim.unit_from_codes(np.asarray(column))
        return out

    def decode(self, x: npt.ArrayLike) -> dict[str, ParamValue]:
        """The configuration of a point of the unit cube (clipped into it)."""
        return self.params_of(
            self.keys_from_unit(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]
        )

    def decode_many(self, points: npt.ArrayLike) -> list[dict[str, ParamValue]]:
        """:meth:`decode` of an array of shape ``(n, dims)``."""
        return [self.params_of(key) for key in self.keys_from_unit(points)]

    def keys_from_unit(self, points: npt.ArrayLike) -> list[Key]:
        """Canonical keys of unit-cube points, shape ``(n, dims)``."""
        array = np.asarray(points, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.dims:
            raise ValueError(f"expected points of shape (n, {self.dims}), got {array.shape}")
        array = np.clip(np.nan_to_num(array, nan=0.5), 0.0, 1.0)
        columns = [dim.codes_from_unit(array[:, i]).tolist() for i, dim in enumerate(self._dims)]
        return list(zip(*columns, strict=True))

    # ----------------------------------------------------------------- grid

    def _require_finite(self) -> int:
        if self._size is None:
            for i, dim in enumerate(self._dims):
                if dim.size is None:
                    raise SpecError(
                        f"spec.parameters[{i}].feasibleSpace.step",
                        f"parameter {dim.name!r} is a double without a step, so the space has "
                        f"no grid",
                        'give it a step, e.g. step: "0.1"',
                    )
        assert self._size is not None
        return self._size

    def grid(self) -> Iterator[dict[str, ParamValue]]:
        """Every configuration, in Katib's grid order (names sorted, the last fastest)."""
        self._require_finite()
        order = self._grid_order
        codes: list[int | float] = [0] * self.dims
        for combo in product(*(range(self._dims[i].size or 1) for i in order)):
            for i, code in zip(order, combo, strict=True):
                codes[i] = code
            yield self.params_of(tuple(codes))

    def flat_index(self, key: Key) -> int:
        """Position of a key in :meth:`grid` order (finite spaces only)."""
        self._require_finite()
        return sum(int(code or 0) * stride for code, stride in zip(key, self._strides, strict=True))

    def flat_indices(self, keys: Iterable[Key]) -> IntArray:
        """:meth:`flat_index` of many keys at once (finite spaces below 2**62 points)."""
        size = self._require_finite()
        if size >= 1 << 62:
            raise ValueError("flat_indices needs a space of fewer than 2**62 points")
        codes = np.array(list(keys), dtype=np.int64).reshape(-1, self.dims)
        return codes @ np.array(self._strides, dtype=np.int64)

    def key_at(self, flat: int) -> Key:
        """The key at position ``flat`` of :meth:`grid` order (finite spaces only)."""
        self._require_finite()
        return tuple(
            (flat // stride) % (dim.size or 1)
            for dim, stride in zip(self._dims, self._strides, strict=True)
        )
