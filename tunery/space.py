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
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal, Overflow, localcontext
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt

from tunery.errors import SpecError, UserInputError
from tunery.model import (
    Distribution,
    ExperimentSpec,
    ParameterSpec,
    ParameterType,
    ParamValue,
    Trial,
)
from tunery.parameters import check_parameters

__all__ = [
    "ENUMERATION_LIMIT",
    "Key",
    "SearchSpace",
    "log_normal_parameters",
    "normal_parameters",
]

#: Finite spaces up to this many configurations can be enumerated as a numpy array (to draw
#: directly from the configurations not tried yet).
ENUMERATION_LIMIT = 1 << 20

#: A canonical key: one code per parameter (an index, or the float of a double without step).
Key = tuple[int | float, ...]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_INT_LITERAL = re.compile(r"^[+-]?\d+$")
_LOG_DISTRIBUTIONS = (Distribution.LOG_UNIFORM, Distribution.LOG_NORMAL)
#: Most values a stepped parameter may have (codes must stay exact in float64).
_MAX_VALUES = 1 << 53
#: A stepped double value may be off its grid by this fraction of a step (float noise).
_STEP_TOLERANCE = 1e-6


def normal_parameters(low: float, high: float) -> tuple[float, float]:
    """Katib's ``normal`` mapping: ``mu = (min + max) / 2``, ``sigma = (max - min) / 6``."""
    return (low + high) / 2.0, (high - low) / 6.0


def log_normal_parameters(low: float, high: float) -> tuple[float, float]:
    """Katib's ``logNormal`` mapping: :func:`normal_parameters` of ``log(min)``, ``log(max)``."""
    return normal_parameters(math.log(low), math.log(high))


# --------------------------------------------------------------------------- parsing


def _decimals(value: Decimal) -> int:
    """Digits after the decimal point as written: "0.25" -> 2, "1e-3" -> 3, "10" -> 0."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _as_float(value: object) -> float:
    """A number given as a Python/numpy number or a string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, str):
        result = float(value.strip())
    elif isinstance(value, int | float | np.integer | np.floating):
        result = float(value)
    else:
        raise ValueError(f"{value!r} is not a number")
    if not math.isfinite(result):
        raise ValueError(f"{value!r} is not a finite number")
    return result


def _as_int(value: object) -> int:
    """An integral number (``3``, ``3.0``, ``"3"``); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str) and _INT_LITERAL.match(value.strip()):
        return int(value.strip())
    number = _as_float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


# --------------------------------------------------------------------------- dimensions


class _Dim(ABC):
    """One parameter: its values, their codes, sampling and unit encoding (vectorised)."""

    name: str
    #: Number of distinct values; None for a double without step.
    size: int | None

    @abstractmethod
    def sample_codes(self, rng: np.random.Generator, n: int) -> npt.NDArray[Any]:
        """``n`` codes drawn from the parameter's distribution."""

    @abstractmethod
    def codes_from_unit(self, u: FloatArray) -> npt.NDArray[Any]:
        """Codes of unit coordinates (already clipped to [0, 1])."""

    @abstractmethod
    def unit_from_codes(self, codes: npt.NDArray[Any]) -> FloatArray:
        """Unit coordinates of codes."""

    @abstractmethod
    def value(self, code: int | float) -> ParamValue:
        """The typed value of a code."""

    @abstractmethod
    def code(self, value: object) -> int | float:
        """The code of a value; ValueError when the value is not in the parameter's space."""

    def weights(self) -> FloatArray | None:
        """Probability of each code under the distribution; None when uniform."""
        return None


class _ListDim(_Dim):
    """``discrete`` or ``categorical``: codes are list indices."""

    def __init__(self, param: ParameterSpec, path: str) -> None:
        self.name = param.name
        entries = tuple(param.feasible_space.list)
        self.numeric = param.parameter_type is ParameterType.DISCRETE
        # Repeated entries ("1" and "1.0" of a discrete list) are one value: the first.
        self._by_string: dict[str, int] = {}
        self._by_number: dict[float, int] = {}
        kept: list[str] = []
        numbers: list[float] = []
        for entry in entries:
            if entry in self._by_string:
                continue
            if self.numeric:
                number = float(entry)
                if number in self._by_number:
                    self._by_string[entry] = self._by_number[number]
                    continue
                self._by_number[number] = len(kept)
                numbers.append(number)
            self._by_string[entry] = len(kept)
            kept.append(entry)
        self.size = len(kept)
        self.strings = tuple(kept)
        self.values: tuple[ParamValue, ...]
        if not self.numeric:
            self.values = self.strings
        elif all(_INT_LITERAL.match(entry.strip()) for entry in kept):
            self.values = tuple(int(entry.strip()) for entry in kept)
        else:
            self.values = tuple(numbers)

    def sample_codes(self, rng: np.random.Generator, n: int) -> IntArray:
        return rng.integers(0, self.size or 1, size=n, dtype=np.int64)

    def codes_from_unit(self, u: FloatArray) -> IntArray:
        n = self.size or 1
        return np.minimum(np.floor(u * n), n - 1).astype(np.int64)

    def unit_from_codes(self, codes: npt.NDArray[Any]) -> FloatArray:
        return (np.asarray(codes, dtype=np.float64) + 0.5) / (self.size or 1)

    def value(self, code: int | float) -> ParamValue:
        return self.values[int(code)]

    def code(self, value: object) -> int:
        if isinstance(value, str) and value in self._by_string:
            return self._by_string[value]
        if not self.numeric:
            found = None if isinstance(value, str) else self._by_string.get(str(value))
            if found is None:
                raise ValueError(f"{value!r} is not one of {list(self.strings)}")
            return found
        try:
            found = self._by_number.get(_as_float(value))
        except ValueError:
            found = None
        if found is None:
            raise ValueError(f"{value!r} is not one of {list(self.values)}")
        return found


class _SteppedDim(_Dim):
    """``int``, or ``double`` with a step: codes are ``k`` of ``min + k*step``."""

    def __init__(self, param: ParameterSpec, path: str) -> None:
        fs = param.feasible_space
        self.name = param.name
        self.integer = param.parameter_type is ParameterType.INT
        self.distribution = fs.distribution or Distribution.UNIFORM
        fp = f"{path}.feasibleSpace"
        min_text, max_text = fs.min or "", fs.max or ""  # (present: check_parameter)
        step_text = fs.step if fs.step is not None and fs.step.strip() else None
        if self.integer:
            low, high = int(min_text.strip()), int(max_text.strip())
            step = 1 if step_text is None else int(step_text.strip())
            self.low_int, self.step_int = low, step
            self.size = (high - low) // step + 1
            self.decimals = 0
        else:
            assert step_text is not None  # only built for doubles with a step
            low_d, high_d = Decimal(min_text.strip()), Decimal(max_text.strip())
            step_d = Decimal(step_text.strip())
            self.low_int, self.step_int = 0, 1
            with localcontext() as context:
                context.traps[Overflow] = False  # an overflowing quotient is Infinity
                span = (high_d - low_d) / step_d
            if span >= _MAX_VALUES:
                # Decimal's ``//`` cannot give a quotient longer than its precision (28 digits).
                raise SpecError(
                    f"{fp}.step",
                    f"{param.name!r} has {span + 1:.3g} values; at most 2**53 are supported",
                    "use a larger step or a narrower range",
                )
            self.size = int((high_d - low_d) // step_d) + 1
            self.decimals = max(_decimals(low_d), _decimals(step_d))
        if self.size > _MAX_VALUES:
            raise SpecError(
                f"{fp}.step" if step_text is not None else f"{fp}.max",
                f"{param.name!r} has {self.size} values; at most 2**53 are supported",
                "use a larger step or a narrower range",
            )
        self.low = float(min_text)
        self.high = float(max_text)
        self.step = float(step_text) if step_text is not None else 1.0
        self.log = self.distribution in _LOG_DISTRIBUTIONS
        top = self.low + (self.size - 1) * self.step
        widened_low = self.low - self.step / 2
        self._lo = widened_low if (not self.log or widened_low > 0) else self.low
        self._hi = top + self.step / 2
        if self.log:
            lo, hi = math.log(self._lo), math.log(self._hi)
            if hi > lo:
                self._lo, self._hi = lo, hi
            else:
                # max/min is 1 in floats (2**62 to 2**62 + 1): a log scale cannot tell the
                # values apart, and over such a range it is the linear one anyway.
                self.log = False
                self.distribution = (
                    Distribution.UNIFORM
                    if self.distribution is Distribution.LOG_UNIFORM
                    else Distribution.NORMAL
                )
        self._weights: FloatArray | None = None
        self._weights_done = False

    def _values_f(self, codes: npt.NDArray[Any]) -> FloatArray:
        return self.low + np.asarray(codes, dtype=np.float64) * self.step

    def _codes_from_values(self, values: FloatArray) -> IntArray:
        k = np.rint((values - self.low) / self.step)
        return np.clip(k, 0, (self.size or 1) - 1).astype(np.int64)

    def sample_codes(self, rng: np.random.Generator, n: int) -> IntArray:
        size = self.size or 1
        dist = self.distribution
        if dist is Distribution.UNIFORM:
            return np.minimum(np.floor(rng.random(n) * size), size - 1).astype(np.int64)
        if dist is Distribution.LOG_UNIFORM:
            values = np.exp(rng.uniform(self._lo, self._hi, n))
        elif dist is Distribution.NORMAL:
            mu, sigma = normal_parameters(self.low, self.high)
            values = np.clip(rng.normal(mu, sigma, n), self.low, self.high)
        else:
            mu, sigma = log_normal_parameters(self.low, self.high)
            values = np.clip(np.exp(rng.normal(mu, sigma, n)), self.low, self.high)
        return self._codes_from_values(values)

    def codes_from_unit(self, u: FloatArray) -> IntArray:
        size = self.size or 1
        if self.log:
            return self._codes_from_values(np.exp(self._lo + u * (self._hi - self._lo)))
        return np.minimum(np.floor(u * size), size - 1).astype(np.int64)

    def unit_from_codes(self, codes: npt.NDArray[Any]) -> FloatArray:
        if self.log:
            logs = np.log(self._values_f(codes))
            return np.clip((logs - self._lo) / (self._hi - self._lo), 0.0, 1.0)
        return (np.asarray(codes, dtype=np.float64) + 0.5) / (self.size or 1)

    def value(self, code: int | float) -> ParamValue:
        k = int(code)
        if self.integer:
            return self.low_int + k * self.step_int
        return round(self.low + k * self.step, self.decimals) + 0.0

    def code(self, value: object) -> int:
        size = self.size or 1
        if self.integer:
            offset = _as_int(value) - self.low_int
            k, rest = divmod(offset, self.step_int)
            if rest or not 0 <= k < size:
                raise ValueError(
                    f"{value!r} is not one of {self.low_int}, {self.low_int + self.step_int}, "
                    f"... {self.low_int + (size - 1) * self.step_int}"
                )
            return k
        ratio = (_as_float(value) - self.low) / self.step
        k = round(ratio)
        if abs(ratio - k) > _STEP_TOLERANCE or not 0 <= k < size:
            raise ValueError(
                f"{value!r} is not min + k*step in [{self.value(0)}, {self.value(size - 1)}] "
                f"(step {self.value(1) if size > 1 else self.step})"
            )
        return k

    def weights(self) -> FloatArray | None:
        if self._weights_done:
            return self._weights
        self._weights_done = True
        size = self.size or 1
        if self.distribution is Distribution.UNIFORM or size > ENUMERATION_LIMIT:
            return None
        mids = self.low + (np.arange(size - 1, dtype=np.float64) + 0.5) * self.step
        if self.distribution is Distribution.LOG_UNIFORM:
            edges = np.concatenate(([self._lo], np.log(mids), [self._hi]))
            weights = np.diff(edges)
        else:
            if self.distribution is Distribution.NORMAL:
                mu, sigma = normal_parameters(self.low, self.high)
                points = mids
            else:
                mu, sigma = log_normal_parameters(self.low, self.high)
                points = np.log(mids)
            from scipy.special import ndtr  # lazily: scipy.special is slow to import

            if sigma <= 0:
                weights = np.zeros(size)
                weights[self._codes_from_values(np.array([self.low]))[0]] = 1.0
            else:
                cdf = ndtr((points - mu) / sigma)
                weights = np.diff(np.concatenate(([0.0], cdf, [1.0])))
        weights = np.maximum(weights, 0.0)
        total = float(weights.sum())
        if total <= 0 or not math.isfinite(total):
            return None
        weights = weights / total
        # Every configuration stays reachable, however far in a tail.
        weights = np.maximum(weights, 1e-12 * float(weights.max()))
        self._weights = weights / weights.sum()
        return self._weights


class _ContinuousDim(_Dim):
    """``double`` without a step: codes are the floats themselves."""

    def __init__(self, param: ParameterSpec, path: str) -> None:
        fs = param.feasible_space
        self.name = param.name
        self.size = None
        self.distribution = fs.distribution or Distribution.UNIFORM
        min_text, max_text = fs.min or "", fs.max or ""  # (present: check_parameter)
        self.low = float(min_text)
        self.high = float(max_text)
        self.log = self.distribution in _LOG_DISTRIBUTIONS
        if self.log:
            self._lo, self._hi = math.log(self.low), math.log(self.high)
        else:
            self._lo, self._hi = self.low, self.high
        self._tolerance = 1e-12 * max(1.0, abs(self.low), abs(self.high))

    def _clip(self, values: FloatArray) -> FloatArray:
        return np.clip(values, self.low, self.high)

    def sample_codes(self, rng: np.random.Generator, n: int) -> FloatArray:
        dist = self.distribution
        if dist is Distribution.UNIFORM:
            return self._clip(rng.uniform(self.low, self.high, n))
        if dist is Distribution.LOG_UNIFORM:
            return self._clip(np.exp(rng.uniform(self._lo, self._hi, n)))
        if dist is Distribution.NORMAL:
            mu, sigma = normal_parameters(self.low, self.high)
            return self._clip(rng.normal(mu, sigma, n))
        mu, sigma = log_normal_parameters(self.low, self.high)
        return self._clip(np.exp(rng.normal(mu, sigma, n)))

    def codes_from_unit(self, u: FloatArray) -> FloatArray:
        values = self._lo + u * (self._hi - self._lo)
        return self._clip(np.exp(values) if self.log else values)

    def unit_from_codes(self, codes: npt.NDArray[Any]) -> FloatArray:
        values = np.asarray(codes, dtype=np.float64)
        if self._hi <= self._lo:
            return np.full(values.shape, 0.5)
        if self.log:
            values = np.log(values)
        return np.clip((values - self._lo) / (self._hi - self._lo), 0.0, 1.0)

    def value(self, code: int | float) -> ParamValue:
        return float(code) + 0.0

    def code(self, value: object) -> float:
        number = _as_float(value)
        if not self.low - self._tolerance <= number <= self.high + self._tolerance:
            raise ValueError(f"{value!r} is outside [{self.low}, {self.high}]")
        return min(max(number, self.low), self.high) + 0.0


def _make_dim(param: ParameterSpec, path: str) -> _Dim:
    ptype = param.parameter_type
    if ptype in (ParameterType.DISCRETE, ParameterType.CATEGORICAL):
        return _ListDim(param, path)
    step = param.feasible_space.step
    if ptype is ParameterType.DOUBLE and (step is None or not step.strip()):
        return _ContinuousDim(param, path)
    return _SteppedDim(param, path)


# --------------------------------------------------------------------------- the space


class SearchSpace:
    """The typed search space of an experiment (see the module docstring for the semantics)."""

    def __init__(self, parameters: Sequence[ParameterSpec]) -> None:
        # Katib's rules (one place, shared with spec validation); the dimensions trust them.
        check_parameters(parameters, merge_repeats=True)
        dims = [_make_dim(param, f"spec.parameters[{i}]") for i, param in enumerate(parameters)]
        self.parameters: tuple[ParameterSpec, ...] = tuple(parameters)
        self.names: tuple[str, ...] = tuple(p.name for p in parameters)
        self._dims: tuple[_Dim, ...] = tuple(dims)
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
        return {dim.name: dim.value(code) for dim, code in zip(self._dims, key, strict=True)}

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
        for i, dim in enumerate(self._dims):
            out[:, i] = dim.unit_from_codes(np.asarray([key[i] for key in keys]))
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
        return sum(int(code) * stride for code, stride in zip(key, self._strides, strict=True))

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
