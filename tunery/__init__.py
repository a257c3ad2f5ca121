"""tunery: hyperparameter tuning that speaks Kubeflow Katib's language and runs anywhere.

The command line (``tunery run experiment.yaml``) is the main entry point; this package's
public Python API is listed in ``__all__``.  ``import tunery`` imports no optional extra.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunery import search
    from tunery.client import Client, ExperimentHandle, tune
    from tunery.errors import SpecError, TuneryError, UserInputError
    from tunery.optimizer import Optimizer
    from tunery.outcome import TrialsFailedWarning
    from tunery.report import report
    from tunery.stopfile import should_stop
    from tunery.tuner import ExtensionRefusedWarning, WarmStartWarning

    __version__: str

#: Where each public name lives. They are imported on first use (PEP 562), so that
#: the command line (``python -m tunery``) does not pay for the SDK (numpy, the client) or
#: ``importlib.metadata`` (``__version__``) at start-up.
_LAZY = {
    "Client": "tunery.client",
    "ExperimentHandle": "tunery.client",
    "tune": "tunery.client",
    "SpecError": "tunery.errors",
    "TuneryError": "tunery.errors",
    "UserInputError": "tunery.errors",
    "Optimizer": "tunery.optimizer",
    "TrialsFailedWarning": "tunery.outcome",
    "report": "tunery.report",
    "should_stop": "tunery.stopfile",
    "ExtensionRefusedWarning": "tunery.tuner",
    "WarmStartWarning": "tunery.tuner",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tunery")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value = _version()
        globals()[name] = value
        return value
    if name == "search":
        return import_module("tunery.search")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tunery' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
