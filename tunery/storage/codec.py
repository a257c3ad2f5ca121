"""Lossless conversion between the model's frozen dataclasses and JSON-ready dicts.

The codec is driven by the dataclasses' type hints, so every field of every dataclass in
``tunery.model`` is covered, including fields added later:

- a dataclass becomes a dict keyed by field name (snake_case: this is the storage format, not
  the Katib YAML form, which lives in ``tunery.spec``);
- an enum becomes its value and comes back as the enum member;
- a ``tuple[X, ...]`` becomes a list and comes back as a tuple;
- a ``Mapping[K, V]`` becomes a dict and comes back as a plain dict;
- ``Any`` values (verbatim Kubernetes objects and the like) are kept as JSON (a YAML
  timestamp in them becomes its ISO 8601 string).

Decoding fills fields missing from the stored dict with their defaults (data written by an older
version) and ignores unknown keys.  A value of the wrong shape raises ``CodecError`` naming the
path of the field.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from tunery.model import ExperimentSpec

T = TypeVar("T")

__all__ = ["CodecError", "decode", "encode", "spec_from_json", "spec_to_json"]


class CodecError(ValueError):
    """A stored value does not have the shape its dataclass field needs."""


def spec_to_json(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as a JSON-ready dict."""
    data = encode(spec)
    assert isinstance(data, dict)
    return data


def spec_from_json(data: Mapping[str, Any]) -> ExperimentSpec:
    """The spec that :func:`spec_to_json` produced ``data`` from."""
    return decode(ExperimentSpec, data)


def encode(value: Any) -> Any:
    """A dataclass instance (or any value of a field's type) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime.date):
        # YAML timestamps (metadata.creationTimestamp) in a verbatim document.
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON: {value!r}")


def decode(cls: type[T], data: Any) -> T:
    """An instance of dataclass ``cls`` from data that :func:`encode` produced."""
    result: T = _decode(cls, data, "")
    return result


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, data: Any, path: str) -> Any:
    if tp is Any:
        return data
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _decode_union(tp, data, path)
    if origin is tuple:
        return _decode_tuple(tp, data, path)
    if origin in (Mapping, dict):
        if not isinstance(data, Mapping):
            raise CodecError(f"{path or '.'}: expected an object, got {data!r}")
        key_type, value_type = typing.get_args(tp) or (Any, Any)
        return {
            _decode(key_type, k, f"{path}.{k}"): _decode(value_type, v, f"{path}.{k}")
            for k, v in data.items()
        }
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _decode_dataclass(tp, data, path)
        if issubclass(tp, Enum):
            try:
                return tp(data)
            except ValueError:
                raise CodecError(f"{path}: {data!r} is not a {tp.__name__}") from None
        if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        if tp is int and isinstance(data, int) and not isinstance(data, bool):
            return data
        if tp in (str, bool) and isinstance(data, tp):
            return data
        raise CodecError(f"{path}: expected {tp.__name__}, got {data!r}")
    raise CodecError(f"{path}: the codec cannot decode type {tp!r}")


def _decode_union(tp: Any, data: Any, path: str) -> Any:
    args = typing.get_args(tp)
    if data is None:
        if type(None) in args:
            return None
        raise CodecError(f"{path}: null where a value is required")
    options = [a for a in args if a is not type(None)]
    if len(options) == 1:
        return _decode(options[0], data, path)
    # A union of primitives (a parameter value float | int | str): keep the JSON type as is.
    for option in options:
        if option in (str, int, float, bool) and type(data) is option:
            return data
    for option in options:
        try:
            return _decode(option, data, path)
        except CodecError:
            continue
    raise CodecError(f"{path}: {data!r} matches none of {tp!r}")


def _decode_tuple(tp: Any, data: Any, path: str) -> tuple[Any, ...]:
    if not isinstance(data, list | tuple):
        raise CodecError(f"{path}: expected a list, got {data!r}")
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
    if len(args) != len(data):
        raise CodecError(f"{path}: expected {len(args)} items, got {len(data)}")
    return tuple(
        _decode(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True))
    )


def _decode_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise CodecError(f"{path or '.'}: expected an object for {cls.__name__}, got {data!r}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CodecError(f"{path}.{f.name}: missing")
            continue
        kwargs[f.name] = _decode(hints[f.name], data[f.name], f"{path}.{f.name}")
    return cls(**kwargs)
