"""Fuzzed experiment files: whatever the text, parsing ends in a spec or one tunery error line.

Two generators: structural mutations of every valid test document (a field deleted, replaced
by a value of another type, a huge or degenerate value, a list duplicated, a mapping nested
deeper) and raw text mutations (bytes cut, inserted, repeated).  The property: ``parse_text``
returns, or raises a :class:`~tunery.errors.UserInputError` whose one line is short, and never
anything else (no ``KeyError``, ``TypeError``, ``RecursionError``...).

CI runs a bounded number of examples (derandomized).  A longer run:

    TUNERY_FUZZ_EXAMPLES=3000 pytest tests/test_spec_fuzz.py -p no:cacheprovider
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunery.errors import UserInputError
from tunery.spec import parse_text

VALID = sorted((Path(__file__).parent / "data" / "spec" / "valid").glob("*.y*ml"))
EXAMPLES = int(os.environ.get("TUNERY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Values of every kind, including degenerate ones.
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "1e308", "nan", "inf", "${trialParameters.x}", "a" * 5000]),
    st.lists(st.integers(), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(VALID))
    docs = [d for d in yaml.safe_load_all(source.read_text()) if d is not None]
    doc = copy.deepcopy(draw(st.sampled_from(docs)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(doc)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _get(doc, path[:-1])
        key = path[-1]
        action = draw(st.sampled_from(["delete", "replace", "wrap", "duplicate", "deepen"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(ODD)
        elif action == "wrap":
            parent[key] = [parent[key]] if draw(st.booleans()) else {"x": parent[key]}
        elif action == "duplicate" and isinstance(parent[key], list):
            parent[key] = parent[key] * draw(st.integers(min_value=2, max_value=50))
        elif action == "deepen":
            value: Any = parent[key]
            for _ in range(draw(st.integers(min_value=1, max_value=200))):
                value = {"k": value}
            parent[key] = value
    return yaml.safe_dump(doc, sort_keys=False)


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(VALID)).read_text()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not text:
            break
        at = draw(st.integers(min_value=0, max_value=len(text) - 1))
        size = draw(st.integers(min_value=1, max_value=40))
        action = draw(st.sampled_from(["cut", "insert", "repeat"]))
        if action == "cut":
            text = text[:at] + text[at + size :]
        elif action == "insert":
            text = text[:at] + draw(st.text(max_size=size)) + text[at:]
        else:
            text = text[:at] + text[at : at + size] * draw(st.integers(2, 30)) + text[at:]
    return text


def _parses_or_refuses(text: str) -> None:
    try:
        parse_text(text, "fuzz.yaml")
    except UserInputError as exc:
        line = exc.one_line()
        assert "\n" not in line
        assert len(line) < 1200, line[:200]


@pytest.mark.slow
@FUZZ
@given(mutated_documents())
def test_mutated_documents_parse_or_fail_in_one_line(text: str) -> None:
    _parses_or_refuses(text)


@pytest.mark.slow
@FUZZ
@given(mutated_text())
def test_mutated_text_parses_or_fails_in_one_line(text: str) -> None:
    _parses_or_refuses(text)
