"""``tunery.katib.types``: Katib's SDK types."""

from tunery.katib.types.types import TrainerResources

__all__ = ["TrainerResources"]
