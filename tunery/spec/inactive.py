"""How a trial's command renders the placeholder of an inactive (conditional) parameter.

A conditional parameter (``activeWhen``) that is inactive in a trial has no value; each trial
parameter that refers to it says what its placeholder ``${trialParameters.NAME}`` becomes, with
``trialParameters[].inactive``:

``drop`` (the default)
    - in a list of strings (a native ``command``, a container's ``command``/``args``, a
      workflow step's ``args``): an item that is exactly ``${trialParameters.NAME}`` or exactly
      ``FLAG=${trialParameters.NAME}`` (``FLAG`` starts with ``-``) is removed; an item that is
      exactly the placeholder also takes the flag before it (an item like ``--c`` or ``-c``:
      a dash, a letter, no ``=``);
    - an environment variable whose value is exactly the placeholder is removed (native ``env``
      entries, ``{name, value}`` items of a container's ``env``, so an OptimizationJob's
      ``KUBEFLOW_TRAINER_OPT_<NAME>`` is unset);
    - inside any other string (a shell command such as ``sh -c "python train.py --c=${...}"``),
      a word ``FLAG=${...}`` or the pair ``FLAG ${...}`` is removed with the space before it
      (either word may be quoted, as ``shlex.join`` writes it: ``'--c=${...}'``);
    - whatever is left renders as the empty string.
``empty``
    the placeholder renders as the empty string everywhere; nothing is removed.
``{value: TEXT}``
    the placeholder renders as ``TEXT`` everywhere (e.g. ``{value: "None"}``).

In the native form without ``trialParameters``, every parameter is its own trial parameter,
with ``drop``.  Metadata references (``${trialSpec.Name}``...) are never inactive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tunery.errors import SpecError
from tunery.model import ExperimentSpec, ParamValue

__all__ = ["inactive_placeholders", "read_inactive", "strip_env", "strip_inactive"]

_HINT = 'use drop (the default), empty, or {value: "TEXT"}'
_FLAG = r"--?[A-Za-z][\w.-]*"
_FLAG_ITEM = re.compile(rf"^{_FLAG}$")


def read_inactive(value: Any, path: str) -> tuple[str, str]:
    """``trialParameters[].inactive`` as ``(rule, value)``."""
    if value is None or value == "drop":
        return "drop", ""
    if value == "empty":
        return "empty", ""
    if isinstance(value, Mapping) and set(value) == {"value"}:
        text = value["value"]
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise SpecError(f"{path}.value", "must be a string or a number", 'e.g. "None"')
        from tunery.spec.template import format_value

        return "value", format_value(text)
    raise SpecError(path, f"unknown setting {value!r}", _HINT)


def inactive_placeholders(
    spec: ExperimentSpec, parameters: Mapping[str, ParamValue]
) -> dict[str, str | None]:
    """The trial parameters whose parameter is inactive in this trial: the text each placeholder
    renders as, or None where it is dropped."""
    conditional = {p.name for p in spec.parameters if p.active_when}
    out: dict[str, str | None] = {}
    for tp in spec.trial_template.trial_parameters:
        if tp.reference in conditional and tp.reference not in parameters:
            rule = tp.inactive
            out[tp.name] = None if rule == "drop" else tp.inactive_value if rule == "value" else ""
    return out


def _placeholder(name: str) -> str:
    return "${trialParameters." + name + "}"


def strip_inactive(node: Any, placeholders: Mapping[str, str | None]) -> Any:
    """A copy of a JSON-like tree with the inactive placeholders rendered (see the module
    docstring); the active ones are left for the usual substitution."""
    if not placeholders or not _mentions(node, placeholders):
        return node
    dropped = {_placeholder(n) for n, text in placeholders.items() if text is None}
    flags = [re.compile(rf"^{_FLAG}={re.escape(p)}$") for p in dropped]
    if isinstance(node, str):
        return _text(node, placeholders)
    if isinstance(node, Mapping):
        return {
            (_text(k, placeholders) if isinstance(k, str) else k): strip_inactive(v, placeholders)
            for k, v in node.items()
        }
    if isinstance(node, list | tuple):
        out: list[Any] = []
        for item in node:
            if isinstance(item, str):
                if item in dropped:
                    if out and isinstance(out[-1], str) and _FLAG_ITEM.match(out[-1]):
                        out.pop()
                    continue
                if any(f.match(item) for f in flags):
                    continue
            elif isinstance(item, Mapping) and "name" in item and item.get("value") in dropped:
                continue  # a container's environment variable
            out.append(strip_inactive(item, placeholders))
        return out
    return node


def strip_env(env: Mapping[str, str], placeholders: Mapping[str, str | None]) -> dict[str, str]:
    """A native ``env``: dropped variables left out, the other inactive placeholders rendered."""
    dropped = {_placeholder(n) for n, text in placeholders.items() if text is None}
    return {k: _text(v, placeholders) for k, v in env.items() if v not in dropped}


def _mentions(node: Any, placeholders: Mapping[str, str | None]) -> bool:
    if isinstance(node, str):
        return "${trialParameters." in node and any(_placeholder(n) in node for n in placeholders)
    if isinstance(node, Mapping):
        return any(
            _mentions(k, placeholders) or _mentions(v, placeholders) for k, v in node.items()
        )
    if isinstance(node, list | tuple):
        return any(_mentions(item, placeholders) for item in node)
    return False


def _text(text: str, placeholders: Mapping[str, str | None]) -> str:
    if "${trialParameters." not in text:
        return text
    for name, rendered in placeholders.items():
        placeholder = _placeholder(name)
        if placeholder not in text:
            continue
        if rendered is None:
            quoted = re.escape(placeholder)
            for pattern in (
                rf"(?:^|\s+)(['\"]?){_FLAG}={quoted}\1(?=\s|$)",
                rf"(?:^|\s+)(['\"]?){_FLAG}\1\s+(['\"]?){quoted}\2(?=\s|$)",
            ):
                text = re.sub(pattern, "", text)
        text = text.replace(placeholder, rendered or "")
    return text
