"""Bounded loading of YAML and JSON documents: hostile input is refused before it costs.

Every entry point that reads an experiment or a ConfigMap (the CLI, the SDK, the UI's create
endpoint) loads text through :func:`load_documents`, which refuses, with a one-line
:class:`~tunery.errors.SpecError` and before anything is built:

* text larger than :data:`MAX_TEXT_BYTES`;
* nesting deeper than :data:`MAX_DEPTH` (YAML and JSON; a deep document would otherwise end in
  a ``RecursionError``);
* more than :data:`MAX_NODES` values once YAML aliases are expanded (an 822-byte "billion
  laughs" document expands to billions of values).

The checks walk PyYAML's event stream (an iterative parser: no recursion, no expansion); only
a document within the bounds is then built, with duplicate mapping keys refused as
Kubernetes does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from tunery.errors import SpecError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_TEXT_BYTES",
    "check_structure",
    "load_documents",
    "load_one",
    "type_name",
]

#: The largest experiment (or ConfigMap) text accepted, in bytes.
MAX_TEXT_BYTES = 4 * 1024 * 1024
#: The deepest nesting of mappings and lists accepted.
MAX_DEPTH = 64
#: The most values (scalars, mappings, lists) a text may hold with its aliases expanded.
MAX_NODES = 200_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (Kubernetes does too)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "unhashable mapping key", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _too_deep(source: str, where: str) -> SpecError:
    return SpecError(
        "",
        f"{source}: nested more than {MAX_DEPTH} levels deep{where}",
        "an experiment is a few levels deep; check the file is the experiment you meant",
    )


def _check_size(text: str, source: str) -> None:
    size = len(text.encode("utf-8", errors="replace")) if len(text) * 4 > MAX_TEXT_BYTES else 0
    if size > MAX_TEXT_BYTES:
        raise SpecError(
            "",
            f"{source}: {size // 1024} KiB is more than the {MAX_TEXT_BYTES // (1024 * 1024)} "
            "MiB an experiment file may have",
            "check the file is the experiment you meant",
        )


def _check_yaml_events(text: str, source: str) -> None:
    """Depth and alias-expanded size of every document, from the event stream."""
    anchors: dict[str, int] = {}
    #: Values counted inside each open collection (to size anchored collections).
    open_sizes: list[tuple[str | None, int]] = []
    total = 0

    def add(weight: int, mark: Any) -> None:
        nonlocal total
        total += weight
        if open_sizes:
            anchor, size = open_sizes[-1]
            open_sizes[-1] = (anchor, size + weight)
        if total > MAX_NODES:
            raise SpecError(
                "",
                f"{source}: more than {MAX_NODES:,} values with its aliases expanded{_at(mark)}",
                "YAML aliases (*name) that expand to huge documents are refused; write the "
                "values out, or check the file is the experiment you meant",
            )

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            anchors.clear()
        elif isinstance(event, yaml.AliasEvent):
            add(anchors.get(str(event.anchor), 1), event.start_mark)
        elif isinstance(event, yaml.ScalarEvent):
            add(1, event.start_mark)
            if event.anchor is not None:
                anchors[str(event.anchor)] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            add(1, event.start_mark)
            open_sizes.append((event.anchor, 1))
            if len(open_sizes) > MAX_DEPTH:
                raise _too_deep(source, _at(event.start_mark))
        elif isinstance(event, yaml.CollectionEndEvent) and open_sizes:
            anchor, size = open_sizes.pop()
            if open_sizes:
                # The parent already counted this collection's start; add what it held.
                parent_anchor, parent_size = open_sizes[-1]
                open_sizes[-1] = (parent_anchor, parent_size + size - 1)
            if anchor is not None:
                anchors[str(anchor)] = size


def _check_json_depth(text: str, source: str) -> None:
    """The nesting depth of a JSON text, scanned without recursion."""
    depth = 0
    in_string = False
    escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, i) + 1
                raise _too_deep(source, f" at line {line}")
        elif ch in "]}":
            depth -= 1


def _yaml_error(exc: yaml.YAMLError, source: str) -> SpecError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        context = ""
        if exc.context and exc.problem and exc.context_mark is not None:
            context = f" ({exc.context} started at line {exc.context_mark.line + 1})"
        return SpecError(
            "",
            f"{source}: invalid YAML{_at(mark)}: {problem}{context}",
            "fix the YAML syntax there (indentation, a missing ':' or an unclosed bracket "
            "or quote)",
        )
    return SpecError("", f"{source}: invalid YAML: {exc}", "fix the YAML syntax")


def load_documents(text: str, source: str) -> list[Any]:
    """Every document of a YAML (``---``-separated) or JSON text, within the bounds."""
    _check_size(text, source)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        _check_json_depth(text, source)
        try:
            return [json.loads(text)]
        except ValueError:
            pass  # not JSON after all: YAML flow style
    try:
        _check_yaml_events(text, source)
        return list(yaml.load_all(text, Loader=_UniqueKeyLoader))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise _too_deep(source, "") from None


def load_one(text: str, source: str) -> Any:
    """A single YAML or JSON document (a ConfigMap's trial template), within the bounds."""
    docs = load_documents(text, source)
    if len(docs) != 1:
        raise SpecError("", f"{source}: holds {len(docs)} documents", "give exactly one")
    return docs[0]


def check_structure(doc: Any, source: str) -> None:
    """Depth and size bounds of an already built document (a dict given to the SDK).

    Iterative, so a deeply nested object is refused instead of ending in a ``RecursionError``;
    a shared value counts once per place it appears, and a cycle (a YAML ``&a [*a]``) ends at
    the depth bound.
    """
    stack: list[tuple[Any, int]] = [(doc, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise SpecError(
                "", f"{source}: more than {MAX_NODES:,} values", "check the document you passed"
            )
        if depth > MAX_DEPTH:
            raise _too_deep(source, "")
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list | tuple):
            children = list(node)
        else:
            continue
        stack.extend((child, depth + 1) for child in children)


def type_name(value: Any) -> str:
    """What a YAML/JSON value is, in words, for one-line errors (``a list``, ``a string``...)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
