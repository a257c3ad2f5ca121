"""tunery: hyperparameter tuning that speaks Kubeflow Katib's language and runs anywhere.

The command line (``tunery run experiment.yaml``) is the main entry point; this package's
public Python API is listed in ``__all__``.  ``import tunery`` imports no optional extra.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from tunery import search
from tunery.client import Client, ExperimentHandle, tune
from tunery.errors import SpecError, TuneryError, UserInputError
from tunery.optimizer import Optimizer
from tunery.outcome import TrialsFailedWarning
from tunery.report import report
from tunery.stopfile import should_stop
from tunery.tuner import ExtensionRefusedWarning, WarmStartWarning

try:
    __version__ = version("tunery")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Client",
    "ExperimentHandle",
    "ExtensionRefusedWarning",
    "Optimizer",
    "SpecError",
    "TrialsFailedWarning",
    "TuneryError",
    "UserInputError",
    "WarmStartWarning",
    "__version__",
    "report",
    "search",
    "should_stop",
    "tune",
]
