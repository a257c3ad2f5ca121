"""Kubeflow's optimizer API, run locally: ``from tunery.kubeflow import optimizer``.

Change ``from kubeflow import optimizer`` (or ``from kubeflow.optimizer import ...``) to
``from tunery.kubeflow import optimizer`` (``from tunery.kubeflow import ...``) and the same code
runs its trials on this machine; see ``docs/sdk.md``.
"""

from __future__ import annotations

from tunery.kubeflow import optimizer
from tunery.kubeflow.optimizer import *  # noqa: F403
from tunery.kubeflow.optimizer import __all__ as _names

__all__ = ["optimizer", *_names]
