"""The dimensions of a :class:`tunery.space.SearchSpace`: one per parameter, vectorised.

Each turns its parameter's values into codes and back, samples codes from the parameter's
distribution and maps them to and from the unit interval (the semantics are documented in
:mod:`tunery.space`).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from decimal import Decimal, Overflow, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt

from tunery.errors import SpecError
from tunery.model import Distribution, ParameterSpec, ParameterType, ParamValue

__all__ = [
    "ENUMERATION_LIMIT",
    "Dim",
    "FloatArray",
    "IntArray",
    "log_normal_parameters",
    "make_dim",
    "normal_parameters",
]

#: Finite spaces up to this many configurations can be enumerated as a numpy array (to draw
#: directly from the configurations not tried yet).
ENUMERATION_LIMIT = 1 << 20

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
    kind = type(value)
    if kind is float or kind is int:  # the common case first (not bool: its type is bool)
        result = float(value)  # type: ignore[arg-type]
        if not math.isfinite(result):
            raise ValueError(f"{value!r} is not a finite number")
        return result
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


class Dim(ABC):
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


class _ListDim(Dim):
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


class _SteppedDim(Dim):
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


class _ContinuousDim(Dim):
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


def make_dim(param: ParameterSpec, path: str) -> Dim:
    ptype = param.parameter_type
    if ptype in (ParameterType.DISCRETE, ParameterType.CATEGORICAL):
        return _ListDim(param, path)
    step = param.feasible_space.step
    if ptype is ParameterType.DOUBLE and (step is None or not step.strip()):
        return _ContinuousDim(param, path)
    return _SteppedDim(param, path)
