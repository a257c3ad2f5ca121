"""What a controller reports to whoever watches it: :class:`TrialEvent` (the CLI's progress
display, ``tunery.progress``).  Importable from :mod:`tunery.controller` as well."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tunery.model import Experiment, Trial

__all__ = ["TrialEvent", "TrialEventKind"]


class TrialEventKind(StrEnum):
    """What happened, in a :class:`TrialEvent`."""

    #: A trial's process started (``trial`` is set).
    STARTED = "started"
    #: A trial ended, whatever its status (``trial`` is set).
    FINISHED = "finished"
    #: The experiment completed (``experiment`` is set).
    EXPERIMENT_FINISHED = "experiment-finished"


@dataclass
class TrialEvent:
    """What the controller reports to whoever watches it (the CLI's progress display)."""

    kind: TrialEventKind
    trial: Trial | None = None
    experiment: Experiment | None = None
