"""Early stopping: rules that end unpromising trials (Katib's medianstop)."""

from __future__ import annotations

from tunery.stopping.base import EarlyStopper, available, create_stopper, register

__all__ = ["EarlyStopper", "available", "create_stopper", "register"]
