"""The experiment's time budget in a document: ``maxExperimentDuration`` and its policy.

Native form (``tunery/v1``)::

    spec:
      maxExperimentDuration: 2h          # "90m", "45s", "1h30m", or a number of seconds
      experimentDurationPolicy: KillRunning   # or LetFinish

Katib form (``kubeflow.org/v1beta1``): Katib's ExperimentSpec has no such field (its webhook
would refuse one), so the budget is an annotation, which Katib keeps as it is::

    metadata:
      annotations:
        tunery.dev/max-experiment-duration: 2h
        tunery.dev/experiment-duration-policy: LetFinish

The annotations are read in either form; the spec fields only in the native one.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from enum import StrEnum
from typing import Any

from tunery.errors import SpecError
from tunery.model import ExperimentSpec

__all__ = [
    "DURATION_ANNOTATION",
    "DURATION_FIELD",
    "POLICY_ANNOTATION",
    "POLICY_FIELD",
    "DurationPolicy",
    "parse_duration",
    "parse_policy",
    "read_time_budget",
    "write_time_budget",
]


class DurationPolicy(StrEnum):
    """What the time budget does to the trials running at its end (``ExperimentSpec`` holds
    the value as a string)."""

    #: Kill them at the deadline (reason ``ExperimentTimeBudgetReached``): the default.
    KILL_RUNNING = "KillRunning"
    #: Start nothing more, let them finish, then end.
    LET_FINISH = "LetFinish"


DURATION_FIELD = "maxExperimentDuration"
POLICY_FIELD = "experimentDurationPolicy"
DURATION_ANNOTATION = "tunery.dev/max-experiment-duration"
POLICY_ANNOTATION = "tunery.dev/experiment-duration-policy"

_FORMAT = 'write "2h", "90m", "45s", "1h30m" or a number of seconds'


def parse_duration(value: Any, path: str) -> float:
    """Seconds of a time budget; SpecError naming ``path`` and the format otherwise."""
    from tunery.spec.katib import parse_duration as seconds

    try:
        return seconds(value, path)
    except SpecError as exc:
        raise SpecError(path, exc.message.removeprefix(f"{path}: "), _FORMAT) from None


def parse_policy(value: Any, path: str) -> DurationPolicy:
    """A :class:`DurationPolicy` by name (any case); SpecError naming ``path`` otherwise."""
    for policy in DurationPolicy:
        if isinstance(value, str) and value.strip().lower() == policy.value.lower():
            return policy
    choices = " or ".join(p.value for p in DurationPolicy)
    raise SpecError(path, f"unknown policy {value!r}", f"use {choices}")


def read_time_budget(
    spec: Mapping[str, Any], annotations: MutableMapping[str, str], *, native: bool
) -> tuple[float | None, DurationPolicy | None]:
    """``(seconds, policy)`` of a document; the two annotations are taken out of
    ``annotations`` (they become the spec's fields, and are written back by
    :func:`write_time_budget`)."""
    duration: float | None = None
    policy: DurationPolicy | None = None
    for field in (DURATION_FIELD, POLICY_FIELD):
        if not native and spec.get(field) is not None:
            annotation = DURATION_ANNOTATION if field == DURATION_FIELD else POLICY_ANNOTATION
            raise SpecError(
                f"spec.{field}",
                "is tunery's native field, not Katib's (Katib would refuse the document)",
                f"in a kubeflow.org/v1beta1 document write the annotation {annotation}",
            )
    raw_duration = annotations.pop(DURATION_ANNOTATION, None)
    raw_policy = annotations.pop(POLICY_ANNOTATION, None)
    if native and spec.get(DURATION_FIELD) is not None:
        if raw_duration is not None:
            raise SpecError(
                f"spec.{DURATION_FIELD}",
                f"is given twice (also as the annotation {DURATION_ANNOTATION})",
                "keep one of them",
            )
        duration = parse_duration(spec[DURATION_FIELD], f"spec.{DURATION_FIELD}")
    elif raw_duration is not None:
        path = f'metadata.annotations["{DURATION_ANNOTATION}"]'
        duration = parse_duration(raw_duration, path)
    if native and spec.get(POLICY_FIELD) is not None:
        if raw_policy is not None:
            raise SpecError(
                f"spec.{POLICY_FIELD}",
                f"is given twice (also as the annotation {POLICY_ANNOTATION})",
                "keep one of them",
            )
        policy = parse_policy(spec[POLICY_FIELD], f"spec.{POLICY_FIELD}")
    elif raw_policy is not None:
        policy = parse_policy(raw_policy, f'metadata.annotations["{POLICY_ANNOTATION}"]')
    return duration, policy


def write_time_budget(spec: ExperimentSpec, body: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Add the time budget to a document being written (fields or annotations by form)."""
    from tunery.spec.katib import format_duration

    if spec.max_experiment_duration is None and spec.experiment_duration_policy is None:
        return
    values: dict[str, str] = {}
    if spec.max_experiment_duration is not None:
        values[DURATION_FIELD] = format_duration(spec.max_experiment_duration)
    if spec.experiment_duration_policy is not None:
        values[POLICY_FIELD] = str(spec.experiment_duration_policy)
    if spec.source_format == "katib":
        names = {DURATION_FIELD: DURATION_ANNOTATION, POLICY_FIELD: POLICY_ANNOTATION}
        annotations = dict(metadata.get("annotations") or {})
        annotations.update({names[k]: v for k, v in values.items()})
        metadata["annotations"] = annotations
    else:
        body.update(values)
