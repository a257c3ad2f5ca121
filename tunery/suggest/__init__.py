"""Search algorithms (suggesters), registered by Katib's algorithm names."""

from __future__ import annotations

from tunery.suggest.base import Suggester, available, create_suggester, register

__all__ = ["Suggester", "available", "create_suggester", "register"]
