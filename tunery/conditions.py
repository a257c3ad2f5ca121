"""Conditional (hierarchical) parameters: the search space of a tree of parameters.

A parameter with ``active_when`` (``parameters[].activeWhen: {model: [svm]}``) is *active* when
every parent it names is active and takes one of the listed values; parents are categorical,
discrete or int parameters, conditions nest to any depth and may not form a cycle
(:func:`tunery.parameters.check_conditions`).

:class:`ConditionalSpace` is the :class:`~tunery.space.SearchSpace` of such parameters (building a
``SearchSpace`` from them gives one).  The interface is the same, with these rules:

- A key keeps one code per parameter in spec order; an inactive parameter's code is ``None``.
  :meth:`~ConditionalSpace.params_of` leaves inactive parameters out of the configuration.
- :meth:`~ConditionalSpace.canonical` needs a value for every active parameter (given the
  parents' values) and ignores values given for inactive ones; ``contains`` is True only when
  the configuration names exactly its active parameters.
- Sampling (``sample_keys``, ``sample_new_keys``) draws every parameter from its distribution
  and then leaves out the inactive ones, which is drawing the parents first and the active
  children of the values drawn (the draws are independent).
- ``encode_keys`` puts ``nan`` in an inactive parameter's dimension; ``keys_from_unit`` decodes
  the parents first and ignores the coordinates of the dimensions that end up inactive.
- ``size()``/``grid_size()`` count the tree (an inactive subtree is one point, not the product of
  its values); ``grid()`` enumerates it in Katib's order (names sorted, the last varying fastest,
  an inactive parameter before its values); the enumeration (grid positions, drawing from the
  configurations not tried) is limited to :data:`~tunery.space.ENUMERATION_LIMIT` points.
- ``groups()``: the sets of parameters active together (the same activation chain), Optuna's
  group decomposition known from the spec, for algorithms with one model per group.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import numpy.typing as npt

from tunery.dimensions import ENUMERATION_LIMIT, FloatArray, IntArray
from tunery.errors import SpecError, UserInputError
from tunery.model import ParameterSpec, ParamValue
from tunery.parameters import check_conditions
from tunery.space import Key, SearchSpace

__all__ = ["ConditionalSpace"]

#: Most values of a parent whose branches :meth:`ConditionalSpace.branches` lists.
MAX_BRANCH_VALUES = 1024

#: (parent index, the parent's codes that satisfy the condition)
_Condition = tuple[int, frozenset[int]]


class ConditionalSpace(SearchSpace):
    """A search space whose parameters form a tree (see the module docstring)."""

    conditional = True

    def __init__(self, parameters: Sequence[ParameterSpec]) -> None:
        super().__init__(parameters)
        check_conditions(parameters)
        self._conditions: list[tuple[_Condition, ...]] = []
        for param in self.parameters:
            conds: list[_Condition] = []
            for parent, values in param.active_when:
                j = self._index[parent]
                codes = frozenset(int(self._dims[j].code(v)) for v in values)
                conds.append((j, codes))
            self._conditions.append(tuple(conds))
        self._order = self._topological()
        self._parent_set = sorted({j for conds in self._conditions for j, _ in conds})
        self._size = self._count()
        self._enumerated: list[Key] | None = None
        self._positions: dict[Key, int] | None = None

    def _topological(self) -> tuple[int, ...]:
        order: list[int] = []
        placed: set[int] = set()

        def place(i: int) -> None:
            if i in placed:
                return
            for j, _ in self._conditions[i]:
                place(j)
            placed.add(i)
            order.append(i)

        for i in range(self.dims):
            place(i)
        return tuple(order)

    # ----------------------------------------------------------------- conditions

    def _mask(self, columns: Sequence[npt.NDArray[Any]], n: int) -> npt.NDArray[np.bool_]:
        """Activity of each row given the code columns (parents' columns hold ints, -1 where
        inactive or unknown)."""
        mask = np.ones((n, self.dims), dtype=bool)
        for i in self._order:
            for j, codes in self._conditions[i]:
                column = np.asarray(columns[j])
                mask[:, i] &= mask[:, j] & np.isin(column, list(codes))
        return mask

    def _parent_columns(self, keys: Sequence[Key]) -> list[npt.NDArray[Any]]:
        columns: list[npt.NDArray[Any]] = [np.empty(0)] * self.dims
        for j in self._parent_set:
            columns[j] = np.array(
                [-1 if key[j] is None else int(key[j] or 0) for key in keys], dtype=np.int64
            )
        return columns

    def active_mask(self, keys: Sequence[Key]) -> npt.NDArray[np.bool_]:
        return self._mask(self._parent_columns(keys), len(keys))

    def is_active(self, name: str, params: Mapping[str, object]) -> bool:
        index = self._index.get(name)
        if index is None:
            return False
        return self._active(index, params)

    def _active(self, index: int, params: Mapping[str, object]) -> bool:
        for j, codes in self._conditions[index]:
            parent = self._dims[j]
            if parent.name not in params or not self._active(j, params):
                return False
            try:
                code = parent.code(params[parent.name])
            except (ValueError, TypeError, OverflowError):
                return False
            if int(code) not in codes:
                return False
        return True

    def parents(self, name: str) -> tuple[str, ...]:
        return tuple(parent for parent, _ in self.parameters[self._index[name]].active_when)

    def branches(self, name: str) -> list[tuple[frozenset[int], FloatArray]]:
        """The branches of a parent parameter: its values cut by the children each activates.

        Each branch is its codes and their unit coordinates; values that activate the same
        children (none, for a value no condition names) are one branch.  Empty for a parameter
        that is no parent, or one of more than :data:`MAX_BRANCH_VALUES` values.
        """
        j = self._index[name]
        dim = self._dims[j]
        size = dim.size
        if j not in self._parent_set or size is None or size > MAX_BRANCH_VALUES:
            return []
        conditions = [codes for conds in self._conditions for k, codes in conds if k == j]
        cut: dict[tuple[bool, ...], list[int]] = {}
        for code in range(size):
            cut.setdefault(tuple(code in codes for codes in conditions), []).append(code)
        return [
            (frozenset(codes), dim.unit_from_codes(np.asarray(codes, dtype=np.int64)))
            for codes in cut.values()
        ]

    def groups(self) -> list[tuple[str, ...]]:
        chains: dict[frozenset[_Condition], list[str]] = {}
        for i in range(self.dims):
            chains.setdefault(self._chain(i), []).append(self.names[i])
        return [tuple(names) for names in chains.values()]

    def _chain(self, i: int) -> frozenset[_Condition]:
        """Every condition that must hold for parameter ``i`` to be active (its ancestors')."""
        out: set[_Condition] = set()
        for cond in self._conditions[i]:
            out.add(cond)
            out |= self._chain(cond[0])
        return frozenset(out)

    def _masked(self, columns: Sequence[npt.NDArray[Any]], n: int) -> list[Key]:
        mask = self._mask(columns, n)
        lists = [np.asarray(column).tolist() for column in columns]
        return [
            tuple(lists[i][r] if mask[r, i] else None for i in range(self.dims)) for r in range(n)
        ]

    # ----------------------------------------------------------------- keys and values

    def canonical(self, params: Mapping[str, object]) -> Key:
        codes: list[int | float | None] = [None] * self.dims
        for i in self._order:
            dim = self._dims[i]
            if not all(
                codes[j] is not None and int(codes[j] or 0) in allowed
                for j, allowed in self._conditions[i]
            ):
                continue  # inactive: a value given for it is ignored
            if dim.name not in params:
                raise UserInputError(
                    f"parameter {dim.name!r} has no value (it is active here)",
                    f"give a value for {dim.name!r}",
                )
            try:
                codes[i] = dim.code(params[dim.name])
            except (ValueError, TypeError, OverflowError) as exc:
                raise UserInputError(
                    f"parameter {dim.name!r}: {exc}", "give a value inside its feasibleSpace"
                ) from None
        return tuple(codes)

    def contains(self, params: Mapping[str, object]) -> bool:
        key = self.try_canonical(params)
        if key is None:
            return False
        return set(params) == {
            name for name, code in zip(self.names, key, strict=True) if code is not None
        }

    # ----------------------------------------------------------------- sampling

    def sample_keys(self, rng: np.random.Generator, n: int) -> list[Key]:
        if n <= 0:
            return []
        return self._masked([dim.sample_codes(rng, n) for dim in self._dims], n)

    def choose_remaining(
        self, rng: np.random.Generator, exclude: AbstractSet[Key], count: int
    ) -> list[Key]:
        keys = self._enumerate()
        if count <= 0:
            return []
        remaining = [k for k in keys if k not in exclude]
        if not remaining:
            return []
        count = min(count, len(remaining))
        weights = np.ones(len(remaining))
        for i, dim in enumerate(self._dims):
            dim_weights = dim.weights()
            if dim_weights is not None:
                weights *= [1.0 if k[i] is None else dim_weights[int(k[i] or 0)] for k in remaining]
        chosen = rng.choice(len(remaining), size=count, replace=False, p=weights / weights.sum())
        return [remaining[int(c)] for c in chosen]

    # ----------------------------------------------------------------- unit cube

    def encode_keys(self, keys: Sequence[Key]) -> FloatArray:
        out = np.full((len(keys), self.dims), np.nan, dtype=np.float64)
        for i, dim in enumerate(self._dims):
            rows = [r for r, key in enumerate(keys) if key[i] is not None]
            if rows:
                out[rows, i] = dim.unit_from_codes(np.asarray([keys[r][i] for r in rows]))
        return out

    def keys_from_unit(self, points: npt.ArrayLike) -> list[Key]:
        array = np.asarray(points, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.dims:
            raise ValueError(f"expected points of shape (n, {self.dims}), got {array.shape}")
        array = np.clip(np.nan_to_num(array, nan=0.5), 0.0, 1.0)
        columns = [dim.codes_from_unit(array[:, i]) for i, dim in enumerate(self._dims)]
        return self._masked(columns, array.shape[0])

    # ----------------------------------------------------------------- the tree

    def _count(self) -> int | None:
        """Configurations of the tree; None when an active double has no step."""
        leaves = [i for i in range(self.dims) if i not in set(self._parent_set)]
        parents = [i for i in self._order if i in set(self._parent_set)]

        def walk(depth: int, codes: dict[int, int | None]) -> int | None:
            if depth == len(parents):
                total = 1
                for i in leaves:
                    if self._holds(i, codes):
                        size = self._dims[i].size
                        if size is None:
                            return None
                        total *= size
                return total
            i = parents[depth]
            if not self._holds(i, codes):
                return walk(depth + 1, {**codes, i: None})
            total = 0
            for code, weight in self._classes(i):
                sub = walk(depth + 1, {**codes, i: code})
                if sub is None:
                    return None
                total += weight * sub
            return total

        return walk(0, {})

    def _holds(self, i: int, codes: Mapping[int, int | None]) -> bool:
        return all(codes.get(j) is not None and codes[j] in c for j, c in self._conditions[i])

    def _classes(self, j: int) -> list[tuple[int, int]]:
        """A parent's codes grouped by the conditions they satisfy: (representative, count)."""
        size = self._dims[j].size or 1
        conditions = sorted(
            {c for conds in self._conditions for k, c in conds if k == j}, key=sorted
        )
        special = sorted(set().union(*conditions)) if conditions else []
        classes: dict[tuple[bool, ...], list[int]] = {}
        for code in special:
            classes.setdefault(tuple(code in c for c in conditions), []).append(code)
        out = [(codes[0], len(codes)) for codes in classes.values()]
        others = size - len(special)
        if others > 0:
            other = next(code for code in range(size) if code not in set(special))
            out.append((other, others))
        return out

    def _enumerate(self) -> list[Key]:
        """Every configuration of the tree, in grid order (at most ENUMERATION_LIMIT)."""
        if self._enumerated is not None:
            return self._enumerated
        size = self._require_finite()
        if size > ENUMERATION_LIMIT:
            raise SpecError(
                "spec.parameters",
                f"the conditional space has {size} configurations; tunery enumerates at most "
                f"{ENUMERATION_LIMIT}",
                "use fewer values (larger steps, shorter lists), or another algorithm than grid",
            )
        keys: list[Key] = []
        codes: list[int | float | None] = [None] * self.dims

        def walk(depth: int) -> None:
            if depth == self.dims:
                keys.append(tuple(codes))
                return
            i = self._order[depth]
            if not all(
                codes[j] is not None and int(codes[j] or 0) in c for j, c in self._conditions[i]
            ):
                codes[i] = None
                walk(depth + 1)
                return
            for code in range(self._dims[i].size or 1):
                codes[i] = code
                walk(depth + 1)
            codes[i] = None

        walk(0)
        order = self._grid_order
        keys.sort(key=lambda k: tuple(-1 if k[i] is None else k[i] for i in order))
        self._enumerated = keys
        return keys

    def grid(self) -> Iterator[dict[str, ParamValue]]:
        for key in self._enumerate():
            yield self.params_of(key)

    def flat_index(self, key: Key) -> int:
        if self._positions is None:
            self._positions = {k: n for n, k in enumerate(self._enumerate())}
        position = self._positions.get(key)
        if position is None:
            raise ValueError(f"{key!r} is not a configuration of the space")
        return position

    def flat_indices(self, keys: Iterable[Key]) -> IntArray:
        return np.array([self.flat_index(key) for key in keys], dtype=np.int64)

    def key_at(self, flat: int) -> Key:
        return self._enumerate()[flat]


def tree_lines(parameters: Sequence[ParameterSpec]) -> list[str]:
    """The parameters as a tree (``validate`` and ``run --dry-run`` print it): each conditional
    parameter under its first parent, with its whole condition."""
    children: dict[str, list[ParameterSpec]] = {}
    roots: list[ParameterSpec] = []
    for param in parameters:
        if param.active_when:
            children.setdefault(param.active_when[0][0], []).append(param)
        else:
            roots.append(param)
    lines = [
        "search tree (a parameter under its parent is searched only when its condition holds):"
    ]

    def walk(param: ParameterSpec, depth: int) -> None:
        conditions = " and ".join(
            f"{parent} = {values[0]}"
            if len(values) == 1
            else f"{parent} in {{{', '.join(map(str, values))}}}"
            for parent, values in param.active_when
        )
        text = f"{'  ' * depth}{param.name}: {_describe(param)}"
        lines.append(text + (f"  when {conditions}" if conditions else ""))
        for child in children.get(param.name, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 1)
    return lines


def _describe(param: ParameterSpec) -> str:
    fs = param.feasible_space
    kind = param.parameter_type.value
    if fs.list:
        return f"{kind} {' | '.join(fs.list)}"
    text = f"{kind} [{fs.min}, {fs.max}]"
    if fs.step is not None:
        text += f" step {fs.step}"
    if fs.distribution is not None and fs.distribution.value != "uniform":
        text += f" {fs.distribution.value}"
    return text
