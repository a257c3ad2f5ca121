"""``tunery.katib.constants.constants``: Katib's constants (``from ... import constants``)."""
