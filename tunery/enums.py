"""Katib's enums and conditions (parameter types, objective types, collectors, trial and
experiment conditions and reasons) and tunery's intents: plain ``StrEnum`` values with no other
tunery dependency.  :mod:`tunery.model` re-exports every name here, its usual import path.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ParameterType(StrEnum):
    DOUBLE = "double"
    INT = "int"
    DISCRETE = "discrete"
    CATEGORICAL = "categorical"


class Distribution(StrEnum):
    UNIFORM = "uniform"
    LOG_UNIFORM = "logUniform"
    NORMAL = "normal"
    LOG_NORMAL = "logNormal"


class ObjectiveType(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class MetricStrategyType(StrEnum):
    MIN = "min"
    MAX = "max"
    LATEST = "latest"


class CollectorKind(StrEnum):
    STDOUT = "StdOut"
    FILE = "File"
    TENSORFLOW_EVENT = "TensorFlowEvent"
    PROMETHEUS = "PrometheusMetric"
    CUSTOM = "Custom"
    NONE = "None"
    PUSH = "Push"


class FileSystemKind(StrEnum):
    FILE = "File"
    DIRECTORY = "Directory"


class FileFormat(StrEnum):
    TEXT = "TEXT"
    JSON = "JSON"


class ResumePolicy(StrEnum):
    NEVER = "Never"
    LONG_RUNNING = "LongRunning"
    FROM_VOLUME = "FromVolume"


class TrialCondition(StrEnum):
    """Katib's trial conditions."""

    CREATED = "Created"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    KILLED = "Killed"
    EARLY_STOPPED = "EarlyStopped"
    METRICS_UNAVAILABLE = "MetricsUnavailable"

    @property
    def is_active(self) -> bool:
        return self in (TrialCondition.CREATED, TrialCondition.RUNNING)

    @property
    def is_completed(self) -> bool:
        return not self.is_active

    @property
    def is_failed(self) -> bool:
        """Counts against ``maxFailedTrialCount`` (Katib: Failed + MetricsUnavailable)."""
        return self in (TrialCondition.FAILED, TrialCondition.METRICS_UNAVAILABLE)


#: Allowed trial transitions: from -> set of to.
TRIAL_TRANSITIONS: Mapping[TrialCondition, frozenset[TrialCondition]] = {
    TrialCondition.CREATED: frozenset(
        {
            TrialCondition.RUNNING,
            TrialCondition.FAILED,
            TrialCondition.KILLED,
            TrialCondition.SUCCEEDED,
            TrialCondition.METRICS_UNAVAILABLE,
            TrialCondition.EARLY_STOPPED,
        }
    ),
    TrialCondition.RUNNING: frozenset(
        {
            TrialCondition.SUCCEEDED,
            TrialCondition.FAILED,
            TrialCondition.KILLED,
            TrialCondition.EARLY_STOPPED,
            TrialCondition.METRICS_UNAVAILABLE,
        }
    ),
}


class TrialReason(StrEnum):
    """Why a trial is in its status, as tunery writes it (a trial's ``reason``).

    The values are Katib's reasons where Katib has one.  A failed trial may also carry its
    executor's reason instead (``RunStatus.reason``: ``TrialTimeout``, ``ExitCode``,
    ``Signal``...), so a stored reason is a plain string, not always one of these.
    """

    CREATED = "TrialCreated"
    RUNNING = "TrialRunning"
    SUCCEEDED = "TrialSucceeded"
    FAILED = "TrialFailed"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    #: The executor could not start the trial's process.
    START_FAILED = "TrialStartFailed"
    #: The trial's process disappeared without an exit status (a reboot).
    LOST = "TrialLost"
    EARLY_STOPPED = "TrialEarlyStopped"
    #: Killed on request (``tunery`` CLI, UI or SDK: a kill-trial intent).
    KILLED_BY_USER = "KilledByUser"
    #: Killed because the controller was interrupted (Ctrl-C, SIGTERM).  Such a trial did not
    #: fail: it counts towards neither ``maxTrialCount`` nor ``maxFailedTrialCount``, no
    #: algorithm sees it, and ``tunery resume`` runs its assignment again as a new trial
    #: (labelled :data:`RERUN_LABEL`) before anything new is suggested.
    INTERRUPTED = "Interrupted"
    #: A result seeded from elsewhere (an earlier experiment, a CSV, ``add_trial``), not run:
    #: Succeeded, labelled :data:`WARM_START_LABEL`; algorithms learn from it, and it counts
    #: towards neither ``maxTrialCount`` nor ``maxFailedTrialCount`` (``docs/warm-starts.md``).
    WARM_STARTED = "WarmStarted"
    #: Killed because the experiment ended; the same words as the experiment's reason.
    EXPERIMENT_STOPPED = "ExperimentStopped"
    EXPERIMENT_GOAL_REACHED = "ExperimentGoalReached"
    EXPERIMENT_MAX_FAILED_TRIALS_REACHED = "ExperimentMaxFailedTrialsReached"
    EXPERIMENT_MAX_TRIALS_REACHED = "ExperimentMaxTrialsReached"
    EXPERIMENT_SUGGESTION_END_REACHED = "ExperimentSuggestionEndReached"
    EXPERIMENT_TIME_BUDGET_REACHED = "ExperimentTimeBudgetReached"


class ExperimentCondition(StrEnum):
    """Katib's experiment conditions."""

    CREATED = "Created"
    RUNNING = "Running"
    RESTARTING = "Restarting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_completed(self) -> bool:
        return self in (ExperimentCondition.SUCCEEDED, ExperimentCondition.FAILED)


#: What ``get``, ``list``, the UI and the JSON show for an interrupted experiment.
INTERRUPTED_STATUS = "Interrupted"


class ExperimentReason(StrEnum):
    """Katib's experiment reasons, plus the ones Katib lacks and we add."""

    CREATED = "ExperimentCreated"
    RUNNING = "ExperimentRunning"
    RESTARTING = "ExperimentRestarting"
    GOAL_REACHED = "ExperimentGoalReached"
    MAX_TRIALS_REACHED = "ExperimentMaxTrialsReached"
    SUGGESTION_END_REACHED = "ExperimentSuggestionEndReached"
    MAX_FAILED_TRIALS_REACHED = "ExperimentMaxFailedTrialsReached"
    STOPPED = "ExperimentStopped"
    FAILED = "ExperimentFailed"
    #: An ask/tell experiment its driver finished (``Optimizer.finish``, or leaving its
    #: ``with`` block).
    FINISHED = "ExperimentFinished"
    #: Not Katib's: the controller was interrupted (Ctrl-C, SIGTERM) and no controller
    #: drives the experiment; the condition stays Running (Katib has no "Paused"), and
    #: ``tunery resume NAME`` continues it.  Shown as ``Interrupted`` (``Experiment.shown_status``).
    INTERRUPTED = "ExperimentInterrupted"
    #: Not Katib's: the experiment was driven for its ``maxExperimentDuration``.
    TIME_BUDGET_REACHED = "ExperimentTimeBudgetReached"


class IntentKind(StrEnum):
    """What the CLI, the SDK and the UI ask an experiment's controller to do.

    Stored as an intent's ``kind`` (``Store.add_intent``); the controller holding the
    experiment's lease carries it out at its next tick.
    """

    #: Stop the experiment: kill its running trials and end it (ExperimentStopped).
    STOP_EXPERIMENT = "stop-experiment"
    #: Kill one running trial (the intent's ``target``).
    KILL_TRIAL = "kill-trial"
    #: Read the experiment's budget again (``Client.edit_experiment_budget`` stored a new one).
    UPDATE_BUDGET = "update-budget"
